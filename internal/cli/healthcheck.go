package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/rekey-dev/rekey/localca"
)

const healthcheckHelp = `Usage: rekey healthcheck [serve's flags]

Asks a running "rekey serve" on this machine whether it is ready: GET
/readyz on each listener the same flags and REKEY_* variables would
start (the management API, trusting the data directory's CA, and the
gateway), on the loopback address when a listener is bound to all
addresses. Exits 0 when every listener answers 200, 1 otherwise.

It is the container image's HEALTHCHECK: the image has no curl.

Examples:
  rekey healthcheck
  rekey healthcheck --data /data --listen 0.0.0.0:7443
`

// runHealthcheck probes the listeners of the server that "rekey serve"
// with the same configuration runs.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	cfg, validate, timeout := bindHealthcheck(fs, getenv)
	if err := parseFlags(fs, args, stdout, stderr, healthcheckHelp); err != nil {
		return helpOK(err)
	}
	if err := validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	type probe struct{ name, url string }
	var probes []probe
	pool, err := healthcheckRoots(cfg)
	if err != nil {
		return err
	}
	// Without --listen / --gateway-listen, the running server's
	// server.json (in --data) says where its listeners are.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	info, _, _ := readServerInfo(cfg.DataDir)
	if cfg.management() {
		scheme := "https"
		if cfg.InsecureHTTP {
			scheme = "http"
		}
		u := scheme + "://" + loopback(cfg.Listen)
		if !given["listen"] && getenv("REKEY_LISTEN") == "" && info.ManagementURL != "" {
			u = info.ManagementURL
		}
		probes = append(probes, probe{"management API", u + "/readyz"})
	}
	if cfg.gateway() {
		scheme := "http"
		if cfg.GatewayTLS || cfg.GatewayTLSCert != "" {
			scheme = "https"
		}
		u := scheme + "://" + loopback(cfg.GatewayListen)
		if !given["gateway-listen"] && getenv("REKEY_GATEWAY_LISTEN") == "" && info.GatewayURL != "" {
			u = info.GatewayURL
		}
		probes = append(probes, probe{"gateway", u + "/readyz"})
	}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{
		Proxy:           nil, // a probe of this machine never goes through a proxy
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	var failed error
	for _, p := range probes {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintf(stdout, "%s %s: %v\n", p.name, p.url, err)
			failed = errors.New("not ready")
			continue
		}
		resp.Body.Close()
		fmt.Fprintf(stdout, "%s %s: %s\n", p.name, p.url, resp.Status)
		if resp.StatusCode != http.StatusOK {
			failed = errors.New("not ready")
		}
	}
	return failed
}

// bindHealthcheck binds serve's flags and the probe's timeout.
func bindHealthcheck(fs *flag.FlagSet, getenv func(string) string) (*serveConfig, func() error, *time.Duration) {
	cfg, validate := bindServe(fs, getenv)
	timeout := fs.Duration("timeout", 5*time.Second, "give up on a listener after this long")
	return cfg, validate, timeout
}

// healthcheckRoots trusts the system's roots, the data directory's CA and
// the certificates given with --tls-cert and --gateway-tls-cert.
func healthcheckRoots(cfg *serveConfig) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool() // scratch images have no system roots
	}
	for _, f := range []string{localca.FilesIn(cfg.DataDir).CA, cfg.TLSCert, cfg.GatewayTLSCert} {
		if f == "" {
			continue
		}
		pem, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		pool.AppendCertsFromPEM(pem)
	}
	return pool, nil
}

// loopback turns a listen address into one to connect to: a listener on
// all addresses (0.0.0.0, ::, or no host) is reached on 127.0.0.1.
func loopback(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
