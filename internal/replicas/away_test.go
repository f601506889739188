package replicas_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekey-dev/rekey/internal/replicas"
	"github.com/rekey-dev/rekey/store/postgres/pgtest"
)

// forwarder is a TCP proxy to PostgreSQL that can be taken down (the
// database is away: connections refused, open ones cut) and brought back
// on the same port.
type forwarder struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func newForwarder(t *testing.T, target string) *forwarder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{addr: ln.Addr().String(), target: target, conns: map[net.Conn]bool{}}
	ln.Close() // down until up
	t.Cleanup(f.down)
	return f
}

func (f *forwarder) up(t *testing.T) {
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.pipe(c)
		}
	}()
}

func (f *forwarder) pipe(c net.Conn) {
	d, err := net.Dial("tcp", f.target)
	if err != nil {
		c.Close()
		return
	}
	f.mu.Lock()
	f.conns[c], f.conns[d] = true, true
	f.mu.Unlock()
	go func() { io.Copy(d, c); d.Close() }()
	io.Copy(c, d)
	c.Close()
}

func (f *forwarder) down() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
	for c := range f.conns {
		c.Close()
	}
	f.conns = map[net.Conn]bool{}
}

// TestDatabaseAwayAndBack: a replica started while its database does not
// answer waits, saying so, and starts when it does; with the database
// away, the gateway keeps serving its last table and stays ready (saying
// the database is unreachable), the management /readyz answers 503, and
// writes answer 503 ServiceUnavailable with Retry-After; when the
// database is back, everything resumes without a restart: the replica
// reports ready once caught up, hears rotations made on another replica,
// and takes writes again.
func TestDatabaseAwayAndBack(t *testing.T) {
	dbURL := pgtest.URL(t)
	u, _ := url.Parse(dbURL)
	f := newForwarder(t, u.Host)
	viaProxy := *u
	viaProxy.Host = f.addr
	c, err := replicas.Prepare(replicas.Options{Bin: bin, Dir: t.TempDir(), N: 2, Args: []string{"--sync-interval", "200ms"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	a, b := c.Replicas[0], c.Replicas[1]
	a.Database, b.Database = viaProxy.String(), dbURL // a reaches the database through the proxy
	go func() { time.Sleep(1500 * time.Millisecond); f.up(t) }()
	ctx := t.Context()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Log(), "waiting for the database") {
		t.Errorf("replica A started before its database answered without saying it waited; log:\n%s", a.Log())
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	setup(t, ctx, c, "ep1")
	key, _, err := a.Keys(ctx, "ws1", "ep1")
	if err != nil {
		t.Fatal(err)
	}

	f.down()
	if err := eventually(5*time.Second, func() error {
		st, body := getReady(ctx, a.GatewayURL)
		if st != http.StatusOK || !strings.Contains(body, `"database":"unreachable"`) || !strings.Contains(body, "databaseUnreachableSince") {
			return fmt.Errorf("gateway /readyz with the database away = %d %s, want 200 saying since when it is unreachable", st, body)
		}
		if st, body := getReady(ctx, a.ManagementURL); st != http.StatusServiceUnavailable {
			return fmt.Errorf("management /readyz with the database away = %d %s, want 503", st, body)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if ok, err := a.Accepts(ctx, "ep1", key); err != nil || !ok {
		t.Errorf("with the database away, the gateway refuses the key it last applied (%v)", err)
	}
	st, hdr, body := armRaw(t, a, "POST", replicas.EndpointID("ws1", "ep1")+"/regenerateKeys", `{"keyType":"Primary"}`)
	if st != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(body, `"ServiceUnavailable"`) {
		t.Errorf("regenerateKeys with the database away = %d %s (Retry-After %q), want 503 ServiceUnavailable with Retry-After", st, body, hdr.Get("Retry-After"))
	}
	if !strings.Contains(metricsOf(t, a), "rekey_database_up 0") {
		t.Errorf("metrics with the database away lack rekey_database_up 0")
	}

	f.up(t)
	if err := eventually(10*time.Second, func() error {
		if st, body := getReady(ctx, a.ManagementURL); st != http.StatusOK {
			return fmt.Errorf("management /readyz after the database came back = %d %s, want 200", st, body)
		}
		if st, body := getReady(ctx, a.GatewayURL); st != http.StatusOK || !strings.Contains(body, `"database":"up"`) {
			return fmt.Errorf("gateway /readyz after the database came back = %d %s, want database up", st, body)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	newKey := "back-" + strings.Repeat("k", 20)
	if st, _, err := b.SetKey(ctx, "ws1", "ep1", newKey); err != nil || st != http.StatusAccepted {
		t.Fatalf("regenerate on B after the return: %d %v", st, err)
	}
	if err := eventually(2*time.Second, func() error {
		if ok, err := a.Accepts(ctx, "ep1", key); err != nil || ok {
			return fmt.Errorf("replica A accepts the replaced key after the database came back (%v)", err)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if st, _, body := armRaw(t, a, "POST", replicas.EndpointID("ws1", "ep1")+"/regenerateKeys", `{"keyType":"Secondary"}`); st != http.StatusAccepted {
		t.Errorf("regenerateKeys on A after the return = %d %s, want 202 (no restart)", st, body)
	}
}

func armRaw(t *testing.T, r *replicas.Replica, method, path, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, r.ManagementURL+path+"?api-version=2024-04-01", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+r.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(data)
}

func metricsOf(t *testing.T, r *replicas.Replica) string {
	t.Helper()
	resp, err := http.Get(r.ManagementURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}
