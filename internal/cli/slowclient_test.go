package cli

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// dialRaw opens a connection to base (http:// or https://) for writing
// requests byte by byte.
func (s *testServer) dialRaw(t testing.TB, base string) net.Conn {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme == "https" {
		c = tls.Client(c, &tls.Config{RootCAs: s.CAPool, ServerName: "127.0.0.1"})
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// openFDs counts this process's open file descriptors (client and server
// ends alike: the server runs in the test process); -1 if unknown.
func openFDs() int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(fds)
}

// slowPost is the head of a POST that announces a body of 200000 bytes,
// followed by one byte of it: a client that then stops sending.
func slowPost(path, auth string) string { return slowRequest("POST", path, auth) }

// slowRequest is slowPost with another method.
func slowRequest(method, path, auth string) string {
	h := method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n"
	if auth != "" {
		h += "Authorization: " + auth + "\r\n"
	}
	return h + "\r\n{"
}

// TestSlowClientsAnsweredAtOnce: requests that are refused before their
// body is read (a wrong key on the gateway, no token on the management
// API) are answered at once with Connection: close, and the server closes
// the connection, although the client never sends the rest of the body.
// net/http used to drain the body first, without a deadline, so each such
// client held a connection and a descriptor for as long as it liked.
func TestSlowClientsAnsweredAtOnce(t *testing.T) {
	// A body timeout far beyond the test's patience: the answer must not
	// depend on it.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	s := startServer(t, "", "--body-timeout", "1m", "--auth-fail-limit", "0")
	scoringEndpoint(t, s, "ep1", up.URL)
	const perListener = 100
	targets := []struct{ base, path, auth string }{
		{s.Gateway, "/endpoints/ep1/score", "Bearer wrong-key-0123456789"},
		{s.URL, "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.MachineLearningServices/workspaces/ws1/onlineEndpoints/ep1/listKeys?api-version=2024-04-01", ""},
	}
	before := openFDs()
	var conns []net.Conn
	for _, tg := range targets {
		for range perListener {
			c := s.dialRaw(t, tg.base)
			if _, err := io.WriteString(c, slowPost(tg.path, tg.auth)); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the server accept them all
	opened := openFDs()
	deadline := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(deadline)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				errs <- fmt.Errorf("connection %d: no answer: %v", i, err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			var env struct { // ARM's envelope, or the ML data plane's
				Error   struct{ Code string }
				Message string
			}
			json.Unmarshal(body, &env)
			if resp.StatusCode != http.StatusUnauthorized || env.Error.Code+env.Message == "" || !resp.Close {
				errs <- fmt.Errorf("connection %d: %d close=%v %.100q, want 401 with Connection: close and an error envelope", i, resp.StatusCode, resp.Close, body)
				return
			}
			if _, err := br.ReadByte(); err != io.EOF {
				errs <- fmt.Errorf("connection %d: after the answer, read %v, want EOF (closed by the server)", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Error(err)
		}
	}
	if n > 5 {
		t.Errorf("... and %d more", n-5)
	}
	time.Sleep(100 * time.Millisecond) // let the server's ends finish closing
	t.Logf("open descriptors: %d before, %d with %d slow clients connected, %d once answered (client ends still open)", before, opened, len(conns), openFDs())
}

// TestStalledBodyDropped: a body that stops arriving mid-way, on a request
// whose handler reads it, loses its connection within --body-timeout on
// both listeners; headers that stop arriving, within
// --read-header-timeout.
func TestStalledBodyDropped(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	s := startServer(t, "", "--body-timeout", "1s", "--read-header-timeout", "1s")
	key := scoringEndpoint(t, s, "stall", up.URL)
	const headersOnly = "POST /endpoints/stall/score HTTP/1.1\r\nHost: 127.0.0.1\r\n" // and no end of headers
	for _, tc := range []struct{ name, base, request string }{
		{"gateway body", s.Gateway, slowPost("/endpoints/stall/score", "Bearer "+key)},
		{"management body", s.URL, slowRequest("PUT", "/subscriptions/"+testSub+"/resourceGroups/"+testRG+"/providers/Microsoft.MachineLearningServices/workspaces/ws2?api-version=2024-04-01", "Bearer "+s.Token)},
		{"gateway headers", s.Gateway, headersOnly},
		{"management headers", s.URL, headersOnly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.dialRaw(t, tc.base)
			start := time.Now()
			io.WriteString(c, tc.request)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := io.Copy(io.Discard, c) // whatever the answer, the connection must end
			if err != nil {
				t.Fatalf("connection still open after %v: %v", time.Since(start).Round(time.Millisecond), err)
			}
			if d := time.Since(start); d < time.Second/2 {
				t.Errorf("connection closed after %v, before the 1s timeout: the request was not waited for", d)
			}
		})
	}
}

// TestLargeSteadyUploadPasses: --body-timeout bounds stalls, not duration.
// A 64 MiB body sent in pieces over several times the timeout reaches the
// upstream whole.
func TestLargeSteadyUploadPasses(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, strconv.FormatInt(n, 10))
	}))
	defer up.Close()
	s := startServer(t, "", "--body-timeout", "500ms")
	key := scoringEndpoint(t, s, "big", up.URL)
	const size, pieces = 64 << 20, 32
	pr, pw := io.Pipe()
	go func() {
		piece := make([]byte, size/pieces)
		for range pieces {
			if _, err := pw.Write(piece); err != nil {
				return
			}
			time.Sleep(60 * time.Millisecond) // 32 × 60ms ≈ 2s: four times the timeout
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", s.Gateway+"/endpoints/big/score", pr)
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+key)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != strconv.Itoa(size) {
		t.Fatalf("upload = %d %.200s, want 200 %d", resp.StatusCode, body, size)
	}
	t.Logf("64 MiB in %v with a 500ms body timeout", time.Since(start).Round(time.Millisecond))
}

// TestConnectionCeiling: with --max-connections and
// --gateway-max-connections N, the N+1th connection is not served while N
// are open, and is served as soon as one closes.
func TestConnectionCeiling(t *testing.T) {
	const n = 3
	s := startServer(t, "", "--max-connections", strconv.Itoa(n), "--gateway-max-connections", strconv.Itoa(n))
	for _, tc := range []struct{ name, base string }{{"management", s.URL}, {"gateway", s.Gateway}} {
		t.Run(tc.name, func(t *testing.T) {
			healthz := func(c net.Conn, wait time.Duration) error {
				c.SetDeadline(time.Now().Add(wait))
				if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
					return err
				}
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				return nil
			}
			var open []net.Conn
			for i := range n {
				c := s.dialRaw(t, tc.base)
				if err := healthz(c, 10*time.Second); err != nil {
					t.Fatalf("connection %d of %d: %v", i+1, n, err)
				}
				open = append(open, c)
			}
			extra := s.dialRaw(t, tc.base)
			var ne net.Error
			if err := healthz(extra, 500*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("connection %d with %d open: %v, want no answer (timeout)", n+1, n, err)
			}
			open[0].Close()
			if tc.base == s.URL {
				// The timed-out TLS handshake left that connection unusable.
				extra.Close()
				extra = s.dialRaw(t, tc.base)
				err := healthz(extra, 10*time.Second)
				if err != nil {
					t.Fatalf("after one of %d closed, a new connection: %v, want an answer", n, err)
				}
				return
			}
			// The request is written already: it is answered once the
			// listener accepts the connection.
			extra.SetDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
			if err == nil {
				resp.Body.Close()
			}
			if err != nil {
				t.Fatalf("after one of %d closed, connection %d: %v, want an answer", n, n+1, err)
			}
		})
	}
}

// scoringEndpoint creates workspace "ws1" (if needed) and endpoint name
// with all traffic to a deployment in front of upstream, with the CLI, and
// returns its primary key.
func scoringEndpoint(t *testing.T, s *testServer, name, upstream string) string {
	t.Helper()
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir)
	cli(t, env, "workspace", "create", "--name", "ws1")
	for _, args := range [][]string{
		{"endpoint", "create", "--workspace", "ws1", "--name", name},
		{"deployment", "create", "--workspace", "ws1", "--endpoint", name, "--name", "blue", "--upstream", upstream},
		{"endpoint", "traffic", "--workspace", "ws1", "--name", name, "--set", "blue=100"},
	} {
		if _, stderr, err := cli(t, env, args...); err != nil {
			t.Fatalf("rekey %v: %v %s", args, err, stderr)
		}
	}
	out, _, err := cli(t, env, "keys", "list", "--workspace", "ws1", "--endpoint", name, "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var keys struct{ PrimaryKey string }
	json.Unmarshal([]byte(out), &keys)
	return keys.PrimaryKey
}

// TestUnreadResponseDropped: a client that stops reading a long response
// loses its connection within --body-timeout, and the gateway lets go of
// the upstream: the upstream's writes fail instead of blocking forever.
func TestUnreadResponseDropped(t *testing.T) {
	upstreamDone := make(chan error, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for range 16384 { // 1 GiB: far more than socket buffers hold
			if _, err := w.Write(chunk); err != nil {
				upstreamDone <- err
				return
			}
		}
		upstreamDone <- nil
	}))
	defer up.Close()
	s := startServer(t, "", "--body-timeout", "1s")
	key := scoringEndpoint(t, s, "firehose", up.URL)
	c := s.dialRaw(t, s.Gateway)
	defer c.Close() // before up.Close, which waits for the upstream's handler
	io.WriteString(c, "POST /endpoints/firehose/score HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "+key+"\r\nContent-Length: 2\r\n\r\n{}")
	// Read nothing.
	select {
	case err := <-upstreamDone:
		if err == nil {
			t.Fatalf("the upstream wrote 1 GiB to a client that reads nothing")
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("after 15s the gateway still holds a client that stopped reading (body timeout 1s)")
	}
}
