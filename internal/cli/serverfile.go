package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// serverFile is where a running "rekey serve" tells clients how to reach
// it, so that the CLI and the SDK example find a server on any --listen
// with nothing but --data. It holds no secret (the admin token stays in
// its own file), but it is written 0600 like every other file of the
// data directory except the certificates: whoever may use the server
// reads the admin token from the same directory anyway.
const serverFile = "server.json"

// serverInfo is the content of serverFile.
type serverInfo struct {
	ManagementURL string `json:"managementUrl,omitempty"`
	GatewayURL    string `json:"gatewayUrl,omitempty"`
	CAFile        string `json:"caFile,omitempty"` // absolute; empty with --tls-cert or --insecure-http
	Tenant        string `json:"tenant,omitempty"`
	Version       string `json:"version"`
	PID           int    `json:"pid"`
}

// clientURL is the URL a local client reaches a listener at: an address
// bound to every interface is reached on loopback, which the local CA's
// certificate covers.
func clientURL(scheme string, addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() != nil {
			host = "127.0.0.1"
		} else {
			host = "::1"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// writeServerInfo writes dir/server.json atomically (a reader never sees
// half a file) and returns a function that removes it again, unless
// another server has replaced it meanwhile.
func writeServerInfo(dir string, info serverInfo) (remove func(), err error) {
	if info.CAFile != "" {
		if abs, err := filepath.Abs(info.CAFile); err == nil {
			info.CAFile = abs
		}
	}
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	path := filepath.Join(dir, serverFile)
	tmp, err := os.CreateTemp(dir, serverFile+".*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	return func() {
		if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
			os.Remove(path)
		}
	}, nil
}

// readServerInfo reads dir/server.json; ok is false when there is none.
func readServerInfo(dir string) (info serverInfo, ok bool, err error) {
	path := filepath.Join(dir, serverFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return info, false, nil
	}
	if err != nil {
		return info, false, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, false, fmt.Errorf("%s: %v (delete it if no server runs)", path, err)
	}
	return info, true, nil
}
