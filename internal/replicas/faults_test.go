package replicas_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekey-dev/rekey"
	// Imported so that go test's cache sees every change to the server
	// that TestMain builds (cmd/rekey is internal/cli and a main).
	_ "github.com/rekey-dev/rekey/internal/cli"
	"github.com/rekey-dev/rekey/internal/replicas"
	"github.com/rekey-dev/rekey/store/postgres/pgtest"
)

// bin is the rekey binary, built once by TestMain when the PostgreSQL
// tests run.
var bin string

func TestMain(m *testing.M) {
	if os.Getenv(pgtest.EnvVar) != "" {
		dir, err := os.MkdirTemp("", "rekey-replicas-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		bin = filepath.Join(dir, "rekey")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/rekey-dev/rekey/cmd/rekey").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building rekey: %v\n%s", err, out)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// cluster starts n replicas on a fresh schema. Their connections carry an
// application_name of their own, so a test can terminate exactly their
// backends. It returns the cluster and that name.
func cluster(t *testing.T, n int, args ...string) (*replicas.Cluster, string) {
	t.Helper()
	dbURL := pgtest.URL(t)
	b := make([]byte, 6)
	rand.Read(b)
	app := "rekey-fault-" + hex.EncodeToString(b)
	u, _ := url.Parse(dbURL)
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c, err := replicas.Start(ctx, replicas.Options{Bin: bin, Database: u.String(), Dir: t.TempDir(), N: n, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			for _, r := range c.Replicas {
				t.Logf("replica %s log:\n%s", r.Name, r.Log())
			}
		}
	})
	return c, app
}

// eventually retries check every 10ms until it returns nil or d passes.
func eventually(d time.Duration, check func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rotation is one acknowledged (202) regeneration.
type rotation struct {
	ep, value, op string
	by            *replicas.Replica
}

// rotator regenerates the primary key of its endpoints in turn, through
// one replica, until stop is closed; it records the acknowledged ones.
func rotator(ctx context.Context, r *replicas.Replica, eps []string, stop <-chan struct{}) (acked []rotation, tried map[string][]string) {
	tried = map[string][]string{}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return acked, tried
		default:
		}
		ep := eps[i%len(eps)]
		v := rekey.NewKey()
		tried[ep] = append(tried[ep], v)
		st, op, err := r.SetKey(ctx, "ws1", ep, v)
		if err == nil && st == http.StatusAccepted {
			acked = append(acked, rotation{ep: ep, value: v, op: op, by: r})
		}
	}
}

// checkKeys verifies, on every live replica, that each endpoint's current
// key (read through via) is accepted and every other acknowledged value
// refused, and that the current key is the last acknowledged one or one
// tried after it (a rotation whose 202 was lost with its replica), never
// an earlier acknowledged one: no acknowledged rotation is lost.
func checkKeys(t *testing.T, ctx context.Context, via *replicas.Replica, live []*replicas.Replica, acked []rotation, tried map[string][]string, within time.Duration) {
	t.Helper()
	byEP := map[string][]string{}
	for _, r := range acked {
		byEP[r.ep] = append(byEP[r.ep], r.value)
	}
	for ep, values := range byEP {
		cur, _, err := via.Keys(ctx, "ws1", ep)
		if err != nil {
			t.Fatalf("%s: %v", ep, err)
		}
		last := values[len(values)-1]
		if cur != last && slices.Index(tried[ep], cur) < slices.Index(tried[ep], last) {
			t.Errorf("%s: the key in force is neither the last acknowledged one nor one tried after it: an acknowledged rotation was lost", ep)
		}
		for _, r := range live {
			err := eventually(within, func() error {
				if ok, err := r.Accepts(ctx, ep, cur); err != nil || !ok {
					return fmt.Errorf("replica %s refuses %s's key in force (%v)", r.Name, ep, err)
				}
				for i, v := range values {
					if v == cur {
						continue
					}
					if ok, err := r.Accepts(ctx, ep, v); err != nil || ok {
						return fmt.Errorf("replica %s accepts %s's acknowledged value #%d of %d, since replaced (%v)", r.Name, ep, i+1, len(values), err)
					}
				}
				return nil
			})
			if err != nil {
				t.Errorf("after %v: %v", within, err)
			}
		}
	}
}

func setup(t *testing.T, ctx context.Context, c *replicas.Cluster, eps ...string) {
	t.Helper()
	a := c.Replicas[0]
	for _, ep := range eps {
		if err := a.Endpoint(ctx, "ws1", ep); err != nil {
			t.Fatal(err)
		}
		cur, _, err := a.Keys(ctx, "ws1", ep)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range c.Replicas {
			if err := eventually(5*time.Second, func() error {
				if ok, err := r.Accepts(ctx, ep, cur); err != nil || !ok {
					return fmt.Errorf("replica %s does not accept %s's first key: %v", r.Name, ep, err)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestKillDuringRotations: a replica killed with SIGKILL in the middle of
// rotations loses nothing it acknowledged: the others refuse every
// replaced key and accept the one in force, and every operation (the
// killed replica's too, pending when it died) reaches a terminal state,
// readable from another replica.
func TestKillDuringRotations(t *testing.T) {
	c, _ := cluster(t, 3, "--operation-delay", "300ms", "--operation-lease", "2s")
	ctx := t.Context()
	a, b, victim := c.Replicas[0], c.Replicas[1], c.Replicas[2]
	setup(t, ctx, c, "ep1", "ep2", "ep3")
	stop, stopA := make(chan struct{}), make(chan struct{})
	var (
		wg             sync.WaitGroup
		ackedV, ackedA []rotation
		triedV, triedA map[string][]string
	)
	wg.Add(2)
	go func() { defer wg.Done(); ackedV, triedV = rotator(ctx, victim, []string{"ep1", "ep2"}, stop) }()
	go func() { defer wg.Done(); ackedA, triedA = rotator(ctx, a, []string{"ep3"}, stopA) }()
	time.Sleep(700 * time.Millisecond)
	victim.Kill()
	close(stop)
	time.Sleep(300 * time.Millisecond)
	close(stopA)
	wg.Wait()
	if len(ackedV) == 0 || len(ackedA) == 0 {
		t.Fatalf("acknowledged rotations: %d on the killed replica, %d on A; want some of each", len(ackedV), len(ackedA))
	}
	t.Logf("acknowledged: %d rotations on the killed replica, %d on A", len(ackedV), len(ackedA))
	tried := map[string][]string{}
	for ep, v := range triedV {
		tried[ep] = v
	}
	for ep, v := range triedA {
		tried[ep] = v
	}
	live := []*replicas.Replica{a, b}
	checkKeys(t, ctx, b, live, append(ackedV, ackedA...), tried, 2*time.Second)
	for _, r := range append(ackedV, ackedA...) {
		st, err := b.WaitOperation(ctx, r.op) // the status URL answers on another replica
		if err != nil || st != "Succeeded" {
			t.Errorf("operation of a rotation acknowledged by %s: %q, %v; want Succeeded", r.by.Name, st, err)
		}
	}
}

// TestTerminateBackendsDuringRotations: PostgreSQL terminating every
// backend of the replicas during rotations (as a database restart or a
// failover does) loses no acknowledged write; the replicas' listeners
// reconnect by themselves (their poll is set to a minute, so only
// notifications propagate quickly), no replica keeps an old key once it
// has caught up, and none restarts.
func TestTerminateBackendsDuringRotations(t *testing.T) {
	c, app := cluster(t, 3, "--sync-interval", "1m")
	ctx := t.Context()
	a, b, cc := c.Replicas[0], c.Replicas[1], c.Replicas[2]
	setup(t, ctx, c, "ep1", "ep2")
	admin, err := pgx.Connect(ctx, os.Getenv(pgtest.EnvVar))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	stop := make(chan struct{})
	var (
		wg             sync.WaitGroup
		ackedA, ackedB []rotation
		triedA, triedB map[string][]string
	)
	wg.Add(2)
	go func() { defer wg.Done(); ackedA, triedA = rotator(ctx, a, []string{"ep1"}, stop) }()
	go func() { defer wg.Done(); ackedB, triedB = rotator(ctx, b, []string{"ep2"}, stop) }()
	var terminated int
	for range 3 {
		time.Sleep(300 * time.Millisecond)
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		terminated += n
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if terminated < 3*3 { // at least each replica's listener, three times
		t.Errorf("terminated %d backends in all, want at least 9", terminated)
	}
	t.Logf("terminated %d backends; acknowledged %d + %d rotations", terminated, len(ackedA), len(ackedB))
	if len(ackedA) == 0 || len(ackedB) == 0 {
		t.Fatalf("acknowledged rotations: %d on A, %d on B; want some of each", len(ackedA), len(ackedB))
	}
	tried := map[string][]string{"ep1": triedA["ep1"], "ep2": triedB["ep2"]}
	all := []*replicas.Replica{a, b, cc}
	checkKeys(t, ctx, cc, all, append(ackedA, ackedB...), tried, 3*time.Second)
	// The listeners are back: a new rotation reaches the other replicas
	// long before their one-minute poll.
	v := rekey.NewKey()
	if st, _, err := a.SetKey(ctx, "ws1", "ep1", v); err != nil || st != http.StatusAccepted {
		t.Fatalf("regenerate after the terminations: %d, %v", st, err)
	}
	for _, r := range []*replicas.Replica{b, cc} {
		if err := eventually(2*time.Second, func() error {
			if ok, err := r.Accepts(ctx, "ep1", v); err != nil || !ok {
				return fmt.Errorf("replica %s does not accept the new key 2s after the 202: its listener did not come back (%v)", r.Name, err)
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
	}
	for _, r := range all {
		if st, body := getReady(ctx, r.GatewayURL); st != http.StatusOK || !strings.Contains(body, `"database":"up"`) {
			t.Errorf("replica %s gateway /readyz = %d %s, want 200 with the database up", r.Name, st, body)
		}
	}
}

// TestConcurrentRotationsSameSlot: two replicas regenerating the same
// slot at once end with exactly the last committed value in force on
// every replica, and every other value refused.
func TestConcurrentRotationsSameSlot(t *testing.T) {
	c, _ := cluster(t, 3)
	ctx := t.Context()
	setup(t, ctx, c, "ep1")
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		values []string
	)
	for _, r := range c.Replicas[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 15 {
				v := rekey.NewKey()
				if st, _, err := r.SetKey(ctx, "ws1", "ep1", v); err != nil || st != http.StatusAccepted {
					t.Errorf("regenerate on %s: %d, %v", r.Name, st, err)
					return
				}
				mu.Lock()
				values = append(values, v)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	cur, _, err := c.Replicas[2].Keys(ctx, "ws1", "ep1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(values, cur) {
		t.Fatalf("the key in force is none of the %d acknowledged values", len(values))
	}
	for _, r := range c.Replicas {
		err := eventually(2*time.Second, func() error {
			if ok, err := r.Accepts(ctx, "ep1", cur); err != nil || !ok {
				return fmt.Errorf("replica %s refuses the last committed value (%v)", r.Name, err)
			}
			for _, v := range values {
				if v == cur {
					continue
				}
				if ok, err := r.Accepts(ctx, "ep1", v); err != nil || ok {
					return fmt.Errorf("replica %s accepts a value replaced since (%v)", r.Name, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
}

func getReady(ctx context.Context, base string) (int, string) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b [512]byte
	n, _ := resp.Body.Read(b[:])
	return resp.StatusCode, string(b[:n])
}

// TestUsageAddsUp: each replica's gateway flushes its own usage deltas,
// so the counts read from any replica add up every replica's requests.
func TestUsageAddsUp(t *testing.T) {
	c, _ := cluster(t, 3, "--usage-flush", "100ms")
	ctx := t.Context()
	setup(t, ctx, c, "ep1")
	cur, _, err := c.Replicas[0].Keys(ctx, "ws1", "ep1")
	if err != nil {
		t.Fatal(err)
	}
	const before = 3 // setup's one accepted request on each replica
	const per = 7
	for _, r := range c.Replicas {
		for range per {
			if ok, err := r.Accepts(ctx, "ep1", cur); err != nil || !ok {
				t.Fatalf("replica %s: the key is refused (%v)", r.Name, err)
			}
		}
	}
	want := int64(before + 3*per)
	if err := eventually(3*time.Second, func() error {
		if got := usage(t, ctx, c.Replicas[1]); got != want {
			return fmt.Errorf("primary key requests read from B = %d, want %d (%d from the setup, %d on each of 3 replicas)", got, want, before, per)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

func usage(t *testing.T, ctx context.Context, r *replicas.Replica) int64 {
	t.Helper()
	st, _, data, err := r.ARM(ctx, "GET", r.ManagementURL+"/rekey/v1/keys/usage?resource="+url.QueryEscape(replicas.EndpointID("ws1", "ep1")), nil)
	if err != nil || st != http.StatusOK {
		t.Fatalf("usage: %d %s %v", st, data, err)
	}
	var u struct {
		Keys []struct {
			Slot     string
			Requests int64
		}
	}
	if err := json.Unmarshal(data, &u); err != nil {
		t.Fatal(err)
	}
	for _, k := range u.Keys {
		if strings.EqualFold(k.Slot, "primary") {
			return k.Requests
		}
	}
	return 0
}
