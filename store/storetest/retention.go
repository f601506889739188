package storetest

import (
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
)

// mustKeys gives owner both key slots.
func mustKeys(t *testing.T, s rekey.Store, owner string) {
	t.Helper()
	mustUpdate(t, s, func(tx rekey.Tx) error {
		for i, slot := range rekey.Slots {
			if _, err := tx.PutKey(rekey.StoredKey{Resource: owner, Slot: slot, Ciphertext: []byte{byte(i)}, Digest: rekey.Digest{byte(i), 9}, UpdatedAt: time.Unix(1, 0)}); err != nil {
				return err
			}
		}
		return nil
	})
}

func usageOf(t *testing.T, s rekey.Store, owner string) (requests int64) {
	t.Helper()
	err := s.View(t.Context(), func(tx rekey.Tx) error {
		u, err := tx.KeyUsage(owner)
		for _, x := range u {
			requests += x.Requests
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return requests
}

func addUsage(t *testing.T, s rekey.Store, owner string, n int64, at time.Time) {
	t.Helper()
	mustUpdate(t, s, func(tx rekey.Tx) error {
		return tx.AddKeyUsage(rekey.KeyUsage{Owner: owner, Slot: rekey.Primary, Requests: n, LastUsed: at})
	})
}

// testPruneOperations: finished operations that ended before the cutoff
// go, in batches of the limit; running ones stay whatever their age.
func testPruneOperations(t *testing.T, s rekey.Store) {
	old, cutoff, recent := time.Unix(1000, 0).UTC(), time.Unix(2000, 0).UTC(), time.Unix(3000, 0).UTC()
	ops := []*rekey.Operation{
		{ID: "old-succeeded", Status: rekey.OpSucceeded, CreatedAt: old, NotBefore: old, EndedAt: old},
		{ID: "old-failed", Status: rekey.OpFailed, CreatedAt: old, NotBefore: old, EndedAt: old.Add(time.Second)},
		{ID: "old-canceled-no-end", Status: rekey.OpCanceled, CreatedAt: old, NotBefore: old},
		{ID: "old-running", Status: rekey.OpInProgress, CreatedAt: old, NotBefore: old},
		{ID: "recent-succeeded", Status: rekey.OpSucceeded, CreatedAt: old, NotBefore: old, EndedAt: recent},
		{ID: "recent-running", Status: rekey.OpInProgress, CreatedAt: recent, NotBefore: recent},
	}
	mustUpdate(t, s, func(tx rekey.Tx) error {
		for _, op := range ops {
			if err := tx.PutOperation(op); err != nil {
				return err
			}
		}
		return nil
	})
	var pruned []int
	for {
		var n int
		mustUpdate(t, s, func(tx rekey.Tx) (err error) { n, err = tx.PruneOperations(cutoff, 2); return err })
		pruned = append(pruned, n)
		if n < 2 {
			break
		}
	}
	if len(pruned) != 2 || pruned[0] != 2 || pruned[1] != 1 {
		t.Errorf("PruneOperations(limit 2) deleted %v per call, want [2 1]", pruned)
	}
	err := s.View(t.Context(), func(tx rekey.Tx) error {
		for _, op := range ops {
			_, err := tx.Operation(op.ID)
			gone := rekey.ErrorCode(err) == rekey.NotFound
			if want := op.ID[:3] == "old" && op.Status.Terminal(); gone != want {
				t.Errorf("after pruning, %s gone = %v, want %v", op.ID, gone, want)
			}
		}
		due, err := tx.DueOperations(recent, 10)
		if len(due) != 2 {
			t.Errorf("DueOperations after pruning = %d, want both running ones", len(due))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testPruneKeyUsage: usage rows not used since the cutoff go.
func testPruneKeyUsage(t *testing.T, s rekey.Store) {
	stale, fresh := "/subscriptions/x/stale", "/subscriptions/x/fresh"
	mustKeys(t, s, stale)
	mustKeys(t, s, fresh)
	addUsage(t, s, stale, 4, time.Unix(100, 0))
	addUsage(t, s, fresh, 5, time.Unix(300, 0))
	var n int
	mustUpdate(t, s, func(tx rekey.Tx) (err error) { n, err = tx.PruneKeyUsage(time.Unix(200, 0), 100); return err })
	if got := [3]int64{int64(n), usageOf(t, s, stale), usageOf(t, s, fresh)}; got != [3]int64{1, 0, 5} {
		t.Errorf("PruneKeyUsage: deleted, stale, fresh = %v, want [1 0 5]", got)
	}
}

// testUsageGoesWithOwner: deleting an endpoint, a workspace or an account
// deletes its key usage in the same transaction, and counts that arrive
// for a deleted owner are dropped, so a new resource of the same name
// starts at zero.
func testUsageGoesWithOwner(t *testing.T, s rekey.Store) {
	now := time.Unix(1000, 0)
	ws := wsID("rg", "ws")
	mustWorkspace(t, s, ws)
	ep := rekey.EndpointID{Workspace: ws, Name: "ep"}
	acc := rekey.AccountID{Subscription: sub, ResourceGroup: "rg", Name: "qna"}
	fresh := func() {
		t.Helper()
		mustEndpoint(t, s, ep)
		mustKeys(t, s, ep.Key())
		mustUpdate(t, s, func(tx rekey.Tx) error {
			_, err := tx.PutAccount(&rekey.Account{ID: acc, UID: "u", Location: "westus", Kind: rekey.KindQnAMaker})
			return err
		})
		mustKeys(t, s, acc.SubscriptionKeys())
		mustKeys(t, s, acc.EndpointKeys())
		for _, owner := range []string{ep.Key(), acc.SubscriptionKeys(), acc.EndpointKeys()} {
			addUsage(t, s, owner, 7, now)
		}
	}
	checkZero := func(when string) {
		t.Helper()
		for _, owner := range []string{ep.Key(), acc.SubscriptionKeys(), acc.EndpointKeys()} {
			if n := usageOf(t, s, owner); n != 0 {
				t.Errorf("%s: usage of %s = %d requests, want 0", when, owner, n)
			}
		}
	}
	fresh()
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteEndpoint(ep) })
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteAccount(acc) })
	// A gateway flush that was in flight during the delete.
	for _, owner := range []string{ep.Key(), acc.SubscriptionKeys(), acc.EndpointKeys()} {
		addUsage(t, s, owner, 3, now)
	}
	checkZero("after delete and a late flush")
	mustEndpoint(t, s, ep)
	mustKeys(t, s, ep.Key())
	checkZero("new endpoint of the same name")
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteEndpoint(ep) })

	fresh()
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteWorkspace(ws) })
	if n := usageOf(t, s, ep.Key()); n != 0 {
		t.Errorf("after DeleteWorkspace: usage of its endpoint = %d requests, want 0", n)
	}
}
