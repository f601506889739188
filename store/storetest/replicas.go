package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
)

func claim(t *testing.T, s rekey.Store, owner string, now time.Time, lease time.Duration) []string {
	t.Helper()
	var ids []string
	mustUpdate(t, s, func(tx rekey.Tx) error {
		ops, err := tx.ClaimOperations(owner, now, lease, 10)
		if err != nil {
			return err
		}
		ids = nil
		for _, op := range ops {
			if op.LeaseOwner != owner || !op.LeaseUntil.Equal(now.Add(lease)) {
				t.Errorf("ClaimOperations(%s) returned %s leased to %q until %v, want %q until %v", owner, op.ID, op.LeaseOwner, op.LeaseUntil, owner, now.Add(lease))
			}
			ids = append(ids, op.ID)
		}
		return nil
	})
	return ids
}

// testClaimOperations: a due operation is claimed by one runner until its
// lease ends, then by another; a finished one never; the lease is read
// back with the operation and moves NextOperation.
func testClaimOperations(t *testing.T, s rekey.Store) {
	base := time.Unix(2000, 0).UTC()
	mustUpdate(t, s, func(tx rekey.Tx) error {
		for _, op := range []*rekey.Operation{
			{ID: "a", Kind: rekey.OpCreateEndpoint, Status: rekey.OpInProgress, CreatedAt: base, NotBefore: base},
			{ID: "b", Kind: rekey.OpCreateEndpoint, Status: rekey.OpInProgress, CreatedAt: base, NotBefore: base.Add(time.Second)},
			{ID: "later", Kind: rekey.OpCreateEndpoint, Status: rekey.OpInProgress, CreatedAt: base, NotBefore: base.Add(time.Hour)},
			{ID: "done", Kind: rekey.OpCreateEndpoint, Status: rekey.OpSucceeded, CreatedAt: base, NotBefore: base, EndedAt: base},
		} {
			if err := tx.PutOperation(op); err != nil {
				return err
			}
		}
		return nil
	})
	lease := 30 * time.Second
	now := base.Add(2 * time.Second)
	if got, want := claim(t, s, "r1", now, lease), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("ClaimOperations(r1) = %v, want %v (due, oldest first)", got, want)
	}
	if got := claim(t, s, "r2", now.Add(time.Second), lease); len(got) != 0 {
		t.Errorf("ClaimOperations(r2) during r1's lease = %v, want none", got)
	}
	err := s.View(t.Context(), func(tx rekey.Tx) error {
		op, err := tx.Operation("a")
		if err != nil {
			return err
		}
		if op.LeaseOwner != "r1" || !op.LeaseUntil.Equal(now.Add(lease)) {
			t.Errorf("Operation(a) lease = %q until %v, want r1 until %v", op.LeaseOwner, op.LeaseUntil, now.Add(lease))
		}
		next, ok, err := tx.NextOperation()
		if err != nil || !ok || !next.Equal(now.Add(lease)) {
			t.Errorf("NextOperation() with a and b leased = %v, %v, %v; want the lease's end %v", next, ok, err, now.Add(lease))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// r1 finishes a and dies holding b: b is r2's once the lease ends.
	mustUpdate(t, s, func(tx rekey.Tx) error {
		op, err := tx.Operation("a")
		if err != nil {
			return err
		}
		op.Status, op.EndedAt = rekey.OpSucceeded, now
		return tx.PutOperation(op)
	})
	after := now.Add(lease)
	if got, want := claim(t, s, "r2", after, lease), []string{"b"}; !slices.Equal(got, want) {
		t.Errorf("ClaimOperations(r2) after r1's lease = %v, want %v", got, want)
	}
	if got := claim(t, s, "r3", after.Add(time.Second), lease); len(got) != 0 {
		t.Errorf("ClaimOperations(r3) during r2's lease = %v, want none", got)
	}
	if got, want := claim(t, s, "r3", base.Add(2*time.Hour), lease), []string{"b", "later"}; !slices.Equal(got, want) {
		t.Errorf("ClaimOperations(r3) two hours on = %v, want %v (a and done are finished)", got, want)
	}
}

// testClaimConcurrent: runners claiming at once never share an operation,
// and together they claim every due one.
func testClaimConcurrent(t *testing.T, s rekey.Store) {
	base := time.Unix(3000, 0).UTC()
	const n = 40
	mustUpdate(t, s, func(tx rekey.Tx) error {
		for i := range n {
			op := &rekey.Operation{ID: rekey.NewOperationID(), Kind: rekey.OpCreateEndpoint, Status: rekey.OpInProgress,
				CreatedAt: base, NotBefore: base.Add(time.Duration(i) * time.Millisecond)}
			if err := tx.PutOperation(op); err != nil {
				return err
			}
		}
		return nil
	})
	var (
		mu  sync.Mutex
		got = map[string]string{}
		wg  sync.WaitGroup
	)
	for r := range 4 {
		owner := string(rune('a' + r))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				var ops []*rekey.Operation
				err := s.Update(t.Context(), func(tx rekey.Tx) (err error) {
					ops, err = tx.ClaimOperations(owner, base.Add(time.Second), time.Minute, 3)
					return err
				})
				if err != nil {
					t.Errorf("ClaimOperations(%s): %v", owner, err)
					return
				}
				mu.Lock()
				for _, op := range ops {
					if prev, ok := got[op.ID]; ok {
						t.Errorf("operation claimed by %s and by %s", prev, owner)
					}
					got[op.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != n {
		t.Errorf("claimed %d operations in all, want %d", len(got), n)
	}
}

// testNotify: a store that is a rekey.Notifier wakes its listeners after
// a committed change, and not after a rolled-back one.
func testNotify(t *testing.T, s rekey.Store) {
	n, ok := s.(rekey.Notifier)
	if !ok {
		t.Skip("the store is not a rekey.Notifier")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := n.Notify(ctx)
	// quiet waits until nothing has arrived for 1s: a store may wake
	// its receivers for its (re)connection, and once from this process
	// and again from the database for one commit.
	quiet := func() {
		for {
			select {
			case <-c:
			case <-time.After(time.Second):
				return
			}
		}
	}
	ws := wsID("rg", "notified")
	mustWorkspace(t, s, ws)
	mustEndpoint(t, s, rekey.EndpointID{Workspace: ws, Name: "first"})
	select { // the receiver is live
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatalf("Notify did not wake within 5s of a committed change")
	}
	quiet()
	s.Update(t.Context(), func(tx rekey.Tx) error {
		tx.PutEndpoint(&rekey.Endpoint{ID: rekey.EndpointID{Workspace: ws, Name: "rolledback"}, Location: "westeurope", AuthMode: rekey.AuthKey})
		return rekey.Errorf(rekey.Conflict, "roll back")
	})
	select {
	case <-c:
		t.Errorf("Notify woke after a rolled-back Update")
	case <-time.After(300 * time.Millisecond):
	}
	mustEndpoint(t, s, rekey.EndpointID{Workspace: ws, Name: "notified"})
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatalf("Notify did not wake within 5s of a committed change")
	}
}
