package cli

import (
	"net"
	"net/url"
	"strings"
	"testing"
)

// TestHealthcheck: "rekey healthcheck" with the server's configuration
// finds both listeners ready (the management API over TLS with the data
// directory's CA, the gateway over HTTP), and fails when nothing listens.
func TestHealthcheck(t *testing.T) {
	s := startServer(t, "")
	mgmt, _ := url.Parse(s.URL)
	gw, _ := url.Parse(s.Gateway)
	_, port, _ := net.SplitHostPort(mgmt.Host)
	out, _, err := cli(t, envOf("REKEY_DATA", s.DataDir), "healthcheck",
		"--listen", "0.0.0.0:"+port, // bound to all addresses: probed on loopback
		"--gateway-listen", gw.Host)
	if err != nil {
		t.Fatalf("healthcheck of a running server: %v\n%s", err, out)
	}
	if strings.Count(out, "200 OK") != 2 {
		t.Errorf("healthcheck output lacks two 200s:\n%s", out)
	}

	// With only --data, the server's server.json says where it listens.
	out, _, err = cli(t, envOf("REKEY_DATA", s.DataDir), "healthcheck")
	if err != nil || strings.Count(out, "200 OK") != 2 {
		t.Errorf("healthcheck with only --data = %v\n%s\nwant two 200s, found through server.json", err, out)
	}

	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := free.Addr().String()
	free.Close()
	out, _, err = cli(t, envOf("REKEY_DATA", s.DataDir), "healthcheck", "--listen", mgmt.Host, "--gateway-listen", closed)
	if err == nil || !strings.Contains(out, "200 OK") || !strings.Contains(out, "gateway") {
		t.Errorf("healthcheck with the gateway down = %v\n%s\nwant a failure naming the gateway", err, out)
	}
}
