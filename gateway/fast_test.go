package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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
