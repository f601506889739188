package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/gateway"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// TestResetFromAnotherProcess: a reset made by another process reaches
// the gateway through the change feed at its next sync, even when the
// gateway was caught up, and drops every key at once, whatever the
// propagation delay.
func TestResetFromAnotherProcess(t *testing.T) {
	e := newEnv(t, func(c *gateway.Config) { c.PropagationDelay = time.Hour })
	up := newUpstream(t, "blue")
	_, p1, s1 := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	_, p2, s2 := e.endpoint("ep2", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	e.clock.Add(2 * time.Hour) // the keys have propagated
	e.gw.Sync()                // caught up: the reset's entry is the very next one
	keys := map[string][]string{"ep1": {p1, s1}, "ep2": {p2, s2}}
	for ep, ks := range keys {
		for _, k := range ks {
			if st := e.status("/endpoints/"+ep+"/score", "Bearer "+k); st != 200 {
				t.Fatalf("a key of %s before the reset = %d, want 200", ep, st)
			}
		}
	}
	other, err := sqlite.Open(context.Background(), e.path) // same file, a handle without the gateway's watcher
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Update(context.Background(), func(tx rekey.Tx) error { return tx.Reset() }); err != nil {
		t.Fatal(err)
	}
	e.gw.Sync()
	for ep, ks := range keys {
		for _, k := range ks {
			if st := e.status("/endpoints/"+ep+"/score", "Bearer "+k); st == 200 {
				t.Errorf("a key of %s after another process's reset = %d, want it refused", ep, st)
			}
		}
	}
}
