package cli

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/localca"
)

// TestServerFileWrittenAndRemoved: a running server tells clients where
// it is in DIR/server.json, with no secret in it, and removes the file
// when it stops cleanly.
func TestServerFileWrittenAndRemoved(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	path := filepath.Join(data, serverFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("server.json after start: %v", err)
	}
	var got serverInfo
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	wantCA, _ := filepath.Abs(filepath.Join(data, "ca.pem"))
	if got.ManagementURL != s.URL || got.GatewayURL != s.Gateway || got.CAFile != wantCA || !rekey.IsGUID(got.Tenant) || got.Version != version() {
		t.Errorf("server.json = %+v, want managementUrl %s, gatewayUrl %s, caFile %s, a tenant GUID, version %s", got, s.URL, s.Gateway, wantCA, version())
	}
	if strings.Contains(string(raw), s.Token) {
		t.Errorf("server.json holds the admin token")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("server.json mode = %v, want 0600", st.Mode().Perm())
	}
	s.stop()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("server.json after a clean stop: %v, want it removed", err)
	}
}

// TestCLIFindsServerOnAnyPort: with only --data, the CLI reaches a server
// listening on a port other than the default, through server.json.
func TestCLIFindsServerOnAnyPort(t *testing.T) {
	s := startServer(t, "")
	if strings.HasSuffix(s.URL, ":7443") {
		t.Skip("the free port happens to be the default")
	}
	out, stderr, err := cli(t, envOf(), "workspace", "create", "--name", "ws-found", "--data", s.DataDir)
	if err != nil {
		t.Fatalf("workspace create with only --data: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "ws-found") {
		t.Errorf("workspace create = %q", out)
	}
	// REKEY_DATA works the same; --server still wins over server.json.
	if _, _, err := cli(t, envOf("REKEY_DATA", s.DataDir), "workspace", "show", "--name", "ws-found"); err != nil {
		t.Errorf("workspace show with REKEY_DATA: %v", err)
	}
	refused := closedPortURL(t)
	if _, _, err := cli(t, envOf("REKEY_DATA", s.DataDir), "workspace", "list", "--server", refused); err == nil || !strings.Contains(err.Error(), refused) {
		t.Errorf("--server %s = %v, want it used over server.json", refused, err)
	}
}

// closedPortURL is an https URL on a loopback port nobody listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "https://" + addr
}

// TestCLIConnectionHints: the two errors a newcomer meets say what to do.
func TestCLIConnectionHints(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		dir, url := t.TempDir(), closedPortURL(t)
		_, _, err := cli(t, envOf(), "workspace", "list", "--data", dir, "--server", url, "--token", "some-token-0123456789")
		want := "no rekey server answers at " + url + "; start one with `rekey serve --data " + dir + "`"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want it to contain %q", err, want)
		}
	})
	t.Run("stale server.json", func(t *testing.T) {
		// What a server killed with SIGKILL leaves behind.
		dir, url := t.TempDir(), closedPortURL(t)
		if _, err := writeServerInfo(dir, serverInfo{ManagementURL: url, Version: "devel"}); err != nil {
			t.Fatal(err)
		}
		_, _, err := cli(t, envOf(), "workspace", "list", "--data", dir, "--token", "some-token-0123456789")
		if err == nil || !strings.Contains(err.Error(), "no rekey server answers at "+url) || !strings.Contains(err.Error(), filepath.Join(dir, serverFile)) {
			t.Errorf("error = %v, want it to name %s and the file it came from", err, url)
		}
	})
	t.Run("unknown authority", func(t *testing.T) {
		s := startServer(t, "")
		other := t.TempDir() // another server's data directory, with its own CA
		if _, _, err := localca.Ensure(other); err != nil {
			t.Fatal(err)
		}
		_, _, err := cli(t, envOf(), "workspace", "list", "--data", other, "--server", s.URL, "--token", s.Token)
		want := "the server at " + s.URL + " is not the one whose CA is " + filepath.Join(other, "ca.pem") + "; check --data or --server"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want it to contain %q", err, want)
		}
	})
}

// TestServeValidatesBeforeTouchingData: a configuration mistake, or a
// port in use, is reported before the data directory is created.
func TestServeValidatesBeforeTouchingData(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"short admin token", []string{"REKEY_ADMIN_TOKEN", "short"}, nil, "REKEY_ADMIN_TOKEN"},
		{"bad master key", []string{"REKEY_MASTER_KEY", "c2hvcnQ="}, nil, "REKEY_MASTER_KEY"},
		{"missing certificate", nil, []string{"--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"}, "--tls-cert"},
		{"management port in use", nil, []string{"--listen", busy.Addr().String()}, "--listen"},
		{"gateway port in use", nil, []string{"--gateway-listen", busy.Addr().String()}, "--gateway-listen"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "rekey-data")
			args := append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0"}, tt.args...)
			out, _, err := cli(t, envOf(tt.env...), args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("serve = %v, want an error naming %s", err, tt.want)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				entries, _ := os.ReadDir(data)
				t.Errorf("data directory exists after a refused start (%d entries), want it untouched", len(entries))
			}
			if out != "" {
				t.Errorf("stdout = %q, want no banner from a refused start", out)
			}
		})
	}
}

// writeRecorder keeps each Write separately.
type writeRecorder struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func (w *writeRecorder) first() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.writes) == 0 {
		return ""
	}
	return w.writes[0]
}

// TestServeBannerIsOneBlock: the banner comes in one piece, after every
// listener is bound and server.json is written.
func TestServeBannerIsOneBlock(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	out := &writeRecorder{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0"}, envOf(), nil, out, &syncBuffer{})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var banner string
	for deadline := time.Now().Add(20 * time.Second); banner == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		banner = out.first()
	}
	for _, want := range []string{"data-plane gateway on http://", "management API on https://", "trust this CA:", "admin token in:", "authority host:", "data directory: " + data, "server file:"} {
		if !strings.Contains(banner, want) {
			t.Errorf("first write to stdout lacks %q:\n%s", want, banner)
		}
	}
	if _, err := os.Stat(filepath.Join(data, serverFile)); err != nil {
		t.Errorf("server.json when the banner is out: %v", err)
	}
}

// TestServerFileBelongsToManagement: with the planes split, the gateway
// process on the same data directory leaves the management process's
// server.json alone.
func TestServerFileBelongsToManagement(t *testing.T) {
	s := startServer(t, "", "--role", "management")
	path := filepath.Join(s.DataDir, serverFile)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	startGateway(t, s.DataDir)
	if after, err := os.ReadFile(path); err != nil || string(after) != string(before) {
		t.Errorf("server.json after a gateway process started: %v, changed %v; want the management process's", err, string(after) != string(before))
	}
	var info serverInfo
	json.Unmarshal(before, &info)
	if info.ManagementURL != s.URL || info.GatewayURL != "" {
		t.Errorf("management role's server.json = %+v, want its URL and no gateway", info)
	}
}
