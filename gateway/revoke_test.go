package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/gateway"
	"github.com/rekey-dev/rekey/metrics"
	"github.com/rekey-dev/rekey/store/sqlite"
)

func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// metricsText is the registry's exposition.
func (e *env) metricsText() string {
	rec := httptest.NewRecorder()
	e.reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// TestRevokedKeyStaysRevoked: a key rotated out without grace stays
// refused when a grace period is configured afterwards, for an endpoint
// (its property) and a QnAMaker account (its tag).
func TestRevokedKeyStaysRevoked(t *testing.T) {
	e := newEnv(t)
	up := newUpstream(t, "blue")
	ep, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	newP := e.rotate(ep.ID.Key(), rekey.Primary)
	if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 401 {
		t.Fatalf("old primary right after a rotation without grace = %d, want 401", st)
	}
	ep.Properties = map[string]string{rekey.GracePeriodProperty: "1h"}
	e.update(func(tx rekey.Tx) error { _, err := tx.PutEndpoint(ep); return err })
	if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 401 {
		t.Errorf("old primary after the endpoint gained a 1h grace period = %d, want 401", st)
	}
	if st := e.status("/endpoints/ep1/score", "Bearer "+newP); st != 200 {
		t.Errorf("new primary = %d, want 200", st)
	}

	runtime := newUpstream(t, "qna-runtime")
	acc := &rekey.Account{ID: rekey.AccountID{Subscription: sub, ResourceGroup: "rg", Name: "qna1"}, Kind: rekey.KindQnAMaker, QnARuntimeEndpoint: runtime.URL}
	k1 := rekey.NewEndpointKey()
	e.update(func(tx rekey.Tx) error {
		if _, err := tx.PutAccount(acc); err != nil {
			return err
		}
		return e.putKeys(tx, acc.ID.EndpointKeys(), k1, rekey.NewEndpointKey())
	})
	e.rotate(acc.ID.EndpointKeys(), rekey.Primary)
	path := "/qnamaker/knowledgebases/kb-1/generateAnswer"
	if st := e.status(path, "EndpointKey "+k1); st != 401 {
		t.Fatalf("old QnA endpoint key right after a refresh = %d, want 401", st)
	}
	acc.Tags = map[string]string{rekey.GracePeriodProperty: "1h"}
	e.update(func(tx rekey.Tx) error { _, err := tx.PutAccount(acc); return err })
	if st := e.status(path, "EndpointKey "+k1); st != 401 {
		t.Errorf("old QnA endpoint key after the account gained a 1h grace tag = %d, want 401", st)
	}
}

// TestGraceRecordedAtRotation: the replaced key's window is the grace
// period in force at the rotation; removing the property later does not
// shorten it, and it ends exactly at the recorded time. Grace use is
// counted under the endpoint's name, never its ARM id.
func TestGraceRecordedAtRotation(t *testing.T) {
	e := newEnv(t)
	up := newUpstream(t, "blue")
	ep, p, _ := e.endpoint("ep1", rekey.AuthKey, map[string]string{rekey.GracePeriodProperty: "1h"}, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	rotatedAt := e.clock.Now()
	newP := e.rotateGrace(ep.ID.Key(), rekey.Primary, time.Hour)
	if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 200 {
		t.Fatalf("old primary within its recorded grace = %d, want 200", st)
	}
	ep.Properties = nil // the grace period is removed after the rotation
	e.update(func(tx rekey.Tx) error { _, err := tx.PutEndpoint(ep); return err })
	e.clock.Set(rotatedAt.Add(time.Hour - time.Nanosecond))
	if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 200 {
		t.Errorf("old primary just before its recorded end, the property since removed = %d, want 200", st)
	}
	e.clock.Set(rotatedAt.Add(time.Hour))
	if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 401 {
		t.Errorf("old primary at its recorded end = %d, want 401", st)
	}
	if st := e.status("/endpoints/ep1/score", "Bearer "+newP); st != 200 {
		t.Errorf("new primary = %d, want 200", st)
	}
	m := e.metricsText()
	if !strings.Contains(m, `rekey_gateway_grace_requests_total{endpoint="ep1",slot="primary"} 2`) {
		t.Errorf("grace counter: want 2 under endpoint=\"ep1\", slot=\"primary\":\n%s", m)
	}
	if strings.Contains(m, "/subscriptions/") {
		t.Errorf("a metric label carries an ARM id:\n%s", m)
	}
}

// TestPropagationDelayIsAStaleCache: a change seen live keeps the old key
// and refuses the new one for at most the delay after the change; a
// change seen after the delay, and a gateway loaded from the store with
// any delay, enforce the keys as they are.
func TestPropagationDelayIsAStaleCache(t *testing.T) {
	const delay = 5 * time.Second
	e := newEnv(t, func(c *gateway.Config) { c.PropagationDelay = delay })
	up := newUpstream(t, "blue")
	ep, _, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	e.clock.Add(delay) // the initial keys have propagated
	old, _ := keysOf(t, e, ep)
	changedAt := e.clock.Now()
	newP := e.rotate(ep.ID.Key(), rekey.Primary)
	e.clock.Set(changedAt.Add(delay - time.Nanosecond))
	if e.status("/endpoints/ep1/score", "Bearer "+newP) != 401 || e.status("/endpoints/ep1/score", "Bearer "+old) != 200 {
		t.Errorf("within the delay: want the new key refused and the old one accepted")
	}
	e.clock.Set(changedAt.Add(delay))
	if e.status("/endpoints/ep1/score", "Bearer "+newP) != 200 || e.status("/endpoints/ep1/score", "Bearer "+old) != 401 {
		t.Errorf("at the change plus the delay: want the new key accepted and the old one refused")
	}

	// Two changes in a row: the cache keeps what it held before the first
	// until the first change plus the delay, and no longer.
	e.clock.Add(time.Second)
	firstAt := e.clock.Now()
	b := e.rotate(ep.ID.Key(), rekey.Primary)
	e.clock.Add(3 * time.Second)
	c := e.rotate(ep.ID.Key(), rekey.Primary)
	e.clock.Set(firstAt.Add(delay - time.Nanosecond))
	if e.status("/endpoints/ep1/score", "Bearer "+newP) != 200 || e.status("/endpoints/ep1/score", "Bearer "+b) != 401 || e.status("/endpoints/ep1/score", "Bearer "+c) != 401 {
		t.Errorf("two changes within the delay: want only the key held before the first accepted")
	}
	e.clock.Set(firstAt.Add(delay))
	if e.status("/endpoints/ep1/score", "Bearer "+newP) != 401 || e.status("/endpoints/ep1/score", "Bearer "+b) != 401 || e.status("/endpoints/ep1/score", "Bearer "+c) != 200 {
		t.Errorf("two changes, at the first plus the delay: want only the latest key accepted")
	}
	newP = c

	// A change made elsewhere and seen only after the delay has passed is
	// not stale any more.
	second, err := sqlite.Open(context.Background(), e.path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	newer := rekey.NewKey()
	if err := second.Update(context.Background(), func(tx rekey.Tx) error {
		_, err := tx.PutKey(e.sealed(ep.ID.Key(), rekey.Primary, newer, 0))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(delay + time.Second)
	e.gw.Sync()
	if e.status("/endpoints/ep1/score", "Bearer "+newer) != 200 || e.status("/endpoints/ep1/score", "Bearer "+newP) != 401 {
		t.Errorf("a change seen after its delay: want the new key accepted and the old one refused")
	}

	// A rotation just before a restart: the restarted gateway, even with
	// a far longer delay, enforces the keys as stored.
	latest := e.rotate(ep.ID.Key(), rekey.Primary)
	restarted, err := gateway.New(context.Background(), gateway.Config{Source: e.store, Keyring: e.kr, Now: e.clock.Now,
		PropagationDelay: time.Hour, Metrics: &metrics.Registry{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Stop(context.Background())
	srv := serveGateway(t, restarted)
	defer srv.Close()
	for _, tt := range []struct {
		name, key string
		want      int
	}{{"the key replaced just before the restart", newer, 401}, {"the key in force", latest, 200}} {
		req, _ := http.NewRequest("POST", srv.URL+"/endpoints/ep1/score", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+tt.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("restarted with a 1h delay, %s = %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
}

// longLived is an open upgraded connection or stream through the gateway.
type longLived struct {
	done  chan struct{} // closed when the client side sees the end
	alive func() bool   // the exchange still carries data (websocket only)
}

// openWebsocket upgrades a connection through the gateway to an echoing
// upstream and returns it once the first echo came back.
func openWebsocket(t *testing.T, e *env, path, auth string) *longLived {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nAuthorization: %s\r\n\r\n", path, auth)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade through the gateway = %d, want 101", resp.StatusCode)
	}
	echoes := make(chan byte, 16)
	l := &longLived{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			b, err := br.ReadByte()
			if err != nil {
				return
			}
			echoes <- b
		}
	}()
	l.alive = func() bool {
		if _, err := conn.Write([]byte{'x'}); err != nil {
			return false
		}
		select {
		case <-echoes:
			return true
		case <-l.done:
			return false
		case <-time.After(5 * time.Second):
			return false
		}
	}
	if !l.alive() {
		t.Fatal("no echo through the upgraded connection")
	}
	return l
}

// openSSE starts an event stream through the gateway and returns it once
// the first event arrived; the upstream then stays silent.
func openSSE(t *testing.T, e *env, path, auth string) *longLived {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("event stream through the gateway = %d, want 200", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "data: first\n" {
		t.Fatalf("first event = %q, %v", line, err)
	}
	l := &longLived{done: make(chan struct{}), alive: func() bool { return true }}
	go func() {
		defer close(l.done)
		io.Copy(io.Discard, br)
	}()
	return l
}

// streamingUpstream answers upgrades by echoing bytes and anything else
// with an event stream that sends one event and waits for its end.
func streamingUpstream(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
			brw.Flush()
			io.Copy(conn, brw)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(up.Close)
	return up
}

// TestLongLivedResponsesEndWithTheirKey: an upgraded connection (a
// websocket) and an event stream are closed within one second of the key
// they were admitted with stopping to be valid: a rotation without
// grace, the endpoint's deletion, the end of a recorded grace window.
// Rotating the other slot, or a key still in its window, leaves them be.
func TestLongLivedResponsesEndWithTheirKey(t *testing.T) {
	const within = time.Second
	for _, kind := range []string{"websocket", "sse"} {
		open := openWebsocket
		if kind == "sse" {
			open = openSSE
		}
		t.Run(kind+"/rotation", func(t *testing.T) {
			e := newEnv(t)
			ep, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": streamingUpstream(t).URL}, map[string]int32{"blue": 100}, nil)
			l := open(t, e, "/endpoints/ep1/stream", "Bearer "+p)
			e.rotate(ep.ID.Key(), rekey.Secondary)
			time.Sleep(2 * 250 * time.Millisecond) // two re-check ticks
			if !stillOpen(l) {
				t.Fatalf("rotating the other slot closed the %s", kind)
			}
			e.rotate(ep.ID.Key(), rekey.Primary)
			waitClosed(t, l, within, kind+" after its key was rotated out without grace")
		})
		t.Run(kind+"/deletion", func(t *testing.T) {
			e := newEnv(t)
			ep, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": streamingUpstream(t).URL}, map[string]int32{"blue": 100}, nil)
			l := open(t, e, "/endpoints/ep1/stream", "Bearer "+p)
			e.update(func(tx rekey.Tx) error { return tx.DeleteEndpoint(ep.ID) })
			waitClosed(t, l, within, kind+" after its endpoint was deleted")
		})
		t.Run(kind+"/grace-expiry", func(t *testing.T) {
			e := newEnv(t)
			ep, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": streamingUpstream(t).URL}, map[string]int32{"blue": 100}, nil)
			l := open(t, e, "/endpoints/ep1/stream", "Bearer "+p)
			rotatedAt := e.clock.Now()
			e.rotateGrace(ep.ID.Key(), rekey.Primary, time.Minute)
			time.Sleep(2 * 250 * time.Millisecond)
			if !stillOpen(l) {
				t.Fatalf("the %s closed while its key was within its grace window", kind)
			}
			e.clock.Set(rotatedAt.Add(time.Minute))
			waitClosed(t, l, within, kind+" after its key's grace window ended")
		})
	}
	t.Run("token-sse/deletion", func(t *testing.T) {
		e := newEnv(t)
		ep, _, _ := e.endpoint("ep1", rekey.AuthAMLToken, nil, map[string]string{"blue": streamingUpstream(t).URL}, map[string]int32{"blue": 100}, nil)
		tok := e.kr.IssueToken(ep.UID, e.clock.Now(), 0)
		l := openSSE(t, e, "/endpoints/ep1/stream", "Bearer "+tok.Value)
		e.update(func(tx rekey.Tx) error { return tx.DeleteEndpoint(ep.ID) })
		waitClosed(t, l, within, "AMLToken stream after its endpoint was deleted")
	})
	t.Run("qna-sse/rotation", func(t *testing.T) {
		e := newEnv(t)
		acc := &rekey.Account{ID: rekey.AccountID{Subscription: sub, ResourceGroup: "rg", Name: "qna1"}, Kind: rekey.KindQnAMaker, QnARuntimeEndpoint: streamingUpstream(t).URL}
		k1 := rekey.NewEndpointKey()
		e.update(func(tx rekey.Tx) error {
			if _, err := tx.PutAccount(acc); err != nil {
				return err
			}
			return e.putKeys(tx, acc.ID.EndpointKeys(), k1, rekey.NewEndpointKey())
		})
		req, _ := http.NewRequest("POST", e.srv.URL+"/qnamaker/knowledgebases/kb/generateAnswer", strings.NewReader("{}"))
		req.Header.Set("Authorization", "EndpointKey "+k1)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		if line, _ := br.ReadString('\n'); line != "data: first\n" {
			t.Fatalf("first event = %q", line)
		}
		l := &longLived{done: make(chan struct{})}
		go func() { defer close(l.done); io.Copy(io.Discard, br) }()
		e.rotate(acc.ID.EndpointKeys(), rekey.Primary)
		waitClosed(t, l, within, "QnA runtime stream after its endpoint key was refreshed")
	})
}

func stillOpen(l *longLived) bool {
	select {
	case <-l.done:
		return false
	default:
		return l.alive()
	}
}

func waitClosed(t *testing.T, l *longLived, within time.Duration, what string) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(within):
		t.Errorf("%s: still open after %v", what, within)
	}
}
