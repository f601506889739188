package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/gateway"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// awaySource is a store whose database can be taken away: while down,
// every transaction fails with Unavailable, as a store that lost its
// database does.
type awaySource struct {
	gateway.Source
	down atomic.Bool
}

func (s *awaySource) View(ctx context.Context, fn func(rekey.Tx) error) error {
	if s.down.Load() {
		return &rekey.Error{Code: rekey.Unavailable, Message: "The database is unreachable."}
	}
	return s.Source.View(ctx, fn)
}

func (s *awaySource) Update(ctx context.Context, fn func(rekey.Tx) error) error {
	if s.down.Load() {
		return &rekey.Error{Code: rekey.Unavailable, Message: "The database is unreachable."}
	}
	return s.Source.Update(ctx, fn)
}

func readyz(t *testing.T, e *env) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET /readyz: body: %v", err)
	}
	return resp.StatusCode, body
}

// TestDatabaseAway: while the database is away the gateway keeps serving
// the table it last applied and stays ready, saying since when the
// database is unreachable; when it is back, the gateway catches up with
// the feed before it says the database is up, without a restart.
func TestDatabaseAway(t *testing.T) {
	var src *awaySource
	e := newEnv(t, func(c *gateway.Config) {
		src = &awaySource{Source: c.Source}
		c.Source, c.SyncInterval = src, time.Hour // only /readyz and Watch sync here
	})
	up := newUpstream(t, "blue")
	ep, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	if st, body := readyz(t, e); st != 200 || body["database"] != "up" {
		t.Fatalf("GET /readyz = %d %v, want 200 with database up", st, body)
	}
	src.down.Store(true)
	// A change the gateway cannot read (in life none can be written
	// while the database is away; here it shows the catch-up).
	newP := e.rotate(ep.ID.Key(), rekey.Primary)
	if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 200 {
		t.Errorf("with the database away, the last applied key = %d, want 200 (the table stays)", st)
	}
	st, body := readyz(t, e)
	if st != 200 || body["status"] != "ready" || body["database"] != "unreachable" || body["databaseUnreachableSince"] == "" {
		t.Errorf("GET /readyz with the database away = %d %v, want 200, ready, database unreachable, and since when", st, body)
	}
	src.down.Store(false)
	if st, body := readyz(t, e); st != 200 || body["database"] != "up" {
		t.Fatalf("GET /readyz with the database back = %d %v, want 200 with database up", st, body)
	}
	// /readyz said up: the feed was caught up first.
	if e.status("/endpoints/ep1/score", "Bearer "+p) != 401 || e.status("/endpoints/ep1/score", "Bearer "+newP) != 200 {
		t.Errorf("once /readyz says the database is up: want the old key refused and the new one accepted")
	}
}

// blockingLoad holds the first full load (the View that scans every key)
// after it is armed, with its snapshot read, until released.
type blockingLoad struct {
	gateway.Source
	armed           atomic.Bool
	loaded, release chan struct{}
}

type scanTx struct {
	rekey.Tx
	scanned *bool
}

func (t scanTx) ScanKeys(fn func(rekey.StoredKey) error) error {
	*t.scanned = true
	return t.Tx.ScanKeys(fn)
}

func (s *blockingLoad) View(ctx context.Context, fn func(rekey.Tx) error) error {
	return s.Source.View(ctx, func(tx rekey.Tx) error {
		var scanned bool
		err := fn(scanTx{Tx: tx, scanned: &scanned})
		if scanned && s.armed.CompareAndSwap(true, false) {
			close(s.loaded)
			<-s.release
		}
		return err
	})
}

// TestReloadNeverGoesBack: a reload (here after a reset) whose snapshot
// was read before a newer change never replaces a table that has applied
// that change: the gateway never serves an older state than it had.
func TestReloadNeverGoesBack(t *testing.T) {
	var src *blockingLoad
	e := newEnv(t, func(c *gateway.Config) {
		src = &blockingLoad{Source: c.Source, loaded: make(chan struct{}), release: make(chan struct{})}
		c.Source, c.SyncInterval = src, time.Hour
	})
	up := newUpstream(t, "blue")
	other, err := sqlite.Open(context.Background(), e.path) // another process's handle: no Watch
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Update(context.Background(), func(tx rekey.Tx) error { return tx.Reset() }); err != nil {
		t.Fatal(err)
	}
	e2 := &env{t: t, store: other, kr: e.kr, clock: e.clock, srv: e.srv}
	ep, old, _ := e2.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)

	src.armed.Store(true)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.gw.Sync() }() // meets the reset: reloads, and holds its snapshot
	<-src.loaded
	newKey := e2.rotate(ep.ID.Key(), rekey.Primary)
	second := make(chan struct{})
	go func() { e.gw.Sync(); close(second) }() // the newer change
	select {
	case <-second:
	case <-time.After(300 * time.Millisecond): // a sync waiting for the reload is right too
	}
	close(src.release)
	wg.Wait()
	<-second
	if st := e.status("/endpoints/ep1/score", "Bearer "+old); st != 401 {
		t.Errorf("after both syncs, the replaced key = %d, want 401 (the reload took the table back)", st)
	}
	if st := e.status("/endpoints/ep1/score", "Bearer "+newKey); st != 200 {
		t.Errorf("after both syncs, the new key = %d, want 200", st)
	}
}

// notifying is a Source whose notifications the test sends.
type notifying struct {
	gateway.Source
	c chan struct{}
}

func (n *notifying) Notify(context.Context) <-chan struct{} { return n.c }

// TestNotifiedSync: a notification makes the gateway read the feed at
// once, without waiting for its fallback poll.
func TestNotifiedSync(t *testing.T) {
	var src *notifying
	e := newEnv(t, func(c *gateway.Config) {
		src = &notifying{Source: c.Source, c: make(chan struct{}, 1)}
		c.Source, c.SyncInterval = src, time.Hour
	})
	e.gw.Start(t.Context())
	up := newUpstream(t, "blue")
	ep, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	other, err := sqlite.Open(context.Background(), e.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	e2 := &env{t: t, store: other, kr: e.kr, clock: e.clock, srv: e.srv}
	newP := e2.rotate(ep.ID.Key(), rekey.Primary)
	if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 200 {
		t.Fatalf("before the notification, the old key = %d, want 200 (no poll for an hour)", st)
	}
	src.c <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for e.status("/endpoints/ep1/score", "Bearer "+p) != 401 {
		if time.Now().After(deadline) {
			t.Fatal("the old key is still accepted 5s after the notification")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := e.status("/endpoints/ep1/score", "Bearer "+newP); st != 200 {
		t.Errorf("after the notification, the new key = %d, want 200", st)
	}
}
