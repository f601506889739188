package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/gateway"
)

// TestFastBodyTimeoutIsPerWrite: on the fast engine --body-timeout bounds
// each write to the client, counted from when there is something to
// write: an upstream slower than it to answer, or a stream quiet for
// longer, is relayed whole; an upgraded connection idle for longer stays
// open.
func TestFastBodyTimeoutIsPerWrite(t *testing.T) {
	const d = 300 * time.Millisecond
	e := newEnv(t, func(c *gateway.Config) { c.ResponseHeaderTimeout = 3 * d })
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/never" {
			time.Sleep(5 * d) // beyond the response timeout
			return
		}
		time.Sleep(2 * d) // headers after more than the body timeout
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		time.Sleep(2 * d) // a quiet stream
		io.WriteString(w, "data: two\n\n")
	}))
	t.Cleanup(slow.Close)
	_, p, _ := e.endpoint("slow", rekey.AuthKey, nil, map[string]string{"blue": slow.URL}, map[string]int32{"blue": 100}, nil)
	srv := serveFast(t, e.gw, gateway.FastOptions{BodyTimeout: d, ReadHeaderTimeout: 5 * time.Second})
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("POST", srv.URL+"/endpoints/slow/score", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+p)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err != nil || string(body) != "data: one\n\ndata: two\n\n" {
		t.Errorf("slow upstream through a %v body timeout = %d %q, %v; want 200 and both events", d, resp.StatusCode, body, err)
	}

	// The gateway's own answer, after a wait longer than the body timeout.
	req, _ = http.NewRequest("POST", srv.URL+"/endpoints/slow/never", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+p)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("an upstream timing out after more than the body timeout: %v, want 504", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("an upstream timing out = %d, want 504", resp.StatusCode)
	}

	e.srv = srv
	up := streamingUpstream(t)
	_, k, _ := e.endpoint("ws", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	l := openWebsocket(t, e, "/endpoints/ws/socket", "Bearer "+k)
	time.Sleep(2 * d)
	if !stillOpen(l) {
		t.Errorf("an upgraded connection idle for longer than the body timeout was closed")
	}
}

// TestChunkedLimitsAndHopHeaders runs on the engine under test: a chunked
// body over the limit gets 413 and a malformed one 400, without reaching
// the upstream whole; hop-by-hop headers (and those Connection names)
// stay on the client's hop; the upstream gets X-Forwarded-For; HEAD is
// relayed.
func TestChunkedLimitsAndHopHeaders(t *testing.T) {
	e := newEnv(t, func(c *gateway.Config) { c.MaxRequestBody = 1024 })
	up := newUpstream(t, "blue")
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	chunked := func(body string) string {
		return "POST /endpoints/ep1/score HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + p + "\r\nTransfer-Encoding: chunked\r\n\r\n" + body
	}
	big := strings.Repeat("x", 600)
	if got := raw(t, addr, chunked("258\r\n"+big+"\r\n258\r\n"+big+"\r\n0\r\n\r\n")); len(got) == 0 || got[0] != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body of 1200 bytes over a 1024 limit = %v, want 413", got)
	}
	if got := raw(t, addr, chunked("zz\r\nxx\r\n0\r\n\r\n")); len(got) == 0 || got[0] != http.StatusBadRequest {
		t.Errorf("malformed chunked body = %v, want 400", got)
	}
	if got := raw(t, addr, chunked("2\r\n{}\r\n0\r\n\r\n")); len(got) == 0 || got[0] != http.StatusOK {
		t.Errorf("chunked body within the limit = %v, want 200", got)
	}

	resp, _ := e.call("POST", "/endpoints/ep1/score", "Bearer "+p, "{}", "Connection", "X-Hop", "X-Hop", "secret-hop", "Keep-Alive", "timeout=5", "X-Kept", "1")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h := up.last().Header
	if h.Get("X-Hop") != "" || h.Get("Keep-Alive") != "" {
		t.Errorf("hop-by-hop headers reached the upstream: X-Hop=%q Keep-Alive=%q", h.Get("X-Hop"), h.Get("Keep-Alive"))
	}
	if h.Get("X-Kept") != "1" || h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("upstream saw X-Kept=%q X-Forwarded-For=%q X-Forwarded-Proto=%q, want 1, 127.0.0.1, http", h.Get("X-Kept"), h.Get("X-Forwarded-For"), h.Get("X-Forwarded-Proto"))
	}
	head, _ := e.call("HEAD", "/endpoints/ep1/score", "Bearer "+p, "")
	if head.StatusCode != 200 || head.Header.Get("Azureml-Model-Deployment") != "blue" {
		t.Errorf("HEAD = %d, deployment %q; want 200 from blue", head.StatusCode, head.Header.Get("Azureml-Model-Deployment"))
	}
}

// TestUpstreamClosedIdleConnection: an upstream that closes kept-alive
// connections after a short idle time does not turn the next request
// into a 502.
func TestUpstreamClosedIdleConnection(t *testing.T) {
	e := newEnv(t)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	up.Config.IdleTimeout = 100 * time.Millisecond
	up.Start()
	t.Cleanup(up.Close)
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	for i, body := range []string{"{}", "{}", strings.Repeat("x", 64<<10), strings.Repeat("x", 64<<10)} {
		if resp, got := e.call("POST", "/endpoints/ep1/score", "Bearer "+p, body); resp.StatusCode != 200 {
			t.Errorf("request %d (%d bytes), after the upstream closed the idle connection = %d %s, want 200", i, len(body), resp.StatusCode, got)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestPostNotSentTwice: an upstream that reads a POST on a kept-alive
// connection and then closes it without answering may have acted on it,
// so the gateway answers 502 and does not send the POST again (as
// net/http's transport and nginx do); a GET is retried once.
func TestPostNotSentTwice(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	seen := map[string]int{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.Method+" "+string(b)]++
		mu.Unlock()
		if strings.Contains(string(b), "crash") || r.URL.Query().Get("crash") != "" {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close() // acted on the request, then died without answering
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	if resp, _ := e.call("POST", "/endpoints/ep1/score", "Bearer "+p, "{}"); resp.StatusCode != 200 {
		t.Fatalf("first POST = %d, want 200", resp.StatusCode)
	}
	if resp, _ := e.call("POST", "/endpoints/ep1/score", "Bearer "+p, `{"crash":1}`); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("POST the upstream dropped = %d, want 502", resp.StatusCode)
	}
	e.call("GET", "/endpoints/ep1/score?crash=1", "Bearer "+p, "")
	mu.Lock()
	defer mu.Unlock()
	if n := seen[`POST {"crash":1}`]; n != 1 {
		t.Errorf("the upstream received the POST %d times, want once", n)
	}
	if n := seen["GET "]; testEngine != "nethttp" && n != 2 {
		t.Errorf("the upstream received the GET %d times, want twice (retried once)", n)
	}
}
