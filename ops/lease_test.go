package ops_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/ops"
)

// TestDeadRunnersOperation: an operation claimed by a runner that died is
// left alone until its lease ends, then finished by another runner.
func TestDeadRunnersOperation(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "rekey.db"))
	defer s.Close()
	now := time.Now().UTC()
	put(t, s, func(tx rekey.Tx) error {
		tx.PutWorkspace(&rekey.Workspace{ID: ws})
		tx.PutEndpoint(&rekey.Endpoint{ID: ep, AuthMode: rekey.AuthKey, ProvisioningState: rekey.Creating})
		return tx.PutOperation(&rekey.Operation{ID: "create", Kind: rekey.OpCreateEndpoint, Resource: ep.String(), Status: rekey.OpInProgress,
			CreatedAt: now, NotBefore: now, LeaseOwner: "dead", LeaseUntil: now.Add(30 * time.Second)})
	})
	r := ops.New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	status := func() rekey.OperationStatus {
		var op *rekey.Operation
		if err := s.View(t.Context(), func(tx rekey.Tx) (err error) { op, err = tx.Operation("create"); return err }); err != nil {
			t.Fatal(err)
		}
		return op.Status
	}
	r.Now = func() time.Time { return now.Add(10 * time.Second) }
	if n, err := r.RunDue(t.Context()); n != 0 || err != nil || status() != rekey.OpInProgress {
		t.Errorf("RunDue during the dead runner's lease = %d, %v (status %s); want 0, nil, InProgress", n, err, status())
	}
	r.Now = func() time.Time { return now.Add(31 * time.Second) }
	if n, err := r.RunDue(t.Context()); n != 1 || err != nil || status() != rekey.OpSucceeded {
		t.Errorf("RunDue after the lease = %d, %v (status %s); want 1, nil, Succeeded", n, err, status())
	}
}

// claimSpy records which runner each operation was claimed by.
type claimSpy struct {
	rekey.Store
	mu   *sync.Mutex
	runs map[string][]string
}

type spyTx struct {
	rekey.Tx
	s *claimSpy
}

func (s *claimSpy) Update(ctx context.Context, fn func(rekey.Tx) error) error {
	return s.Store.Update(ctx, func(tx rekey.Tx) error { return fn(&spyTx{Tx: tx, s: s}) })
}

func (t *spyTx) ClaimOperations(owner string, now time.Time, lease time.Duration, limit int) ([]*rekey.Operation, error) {
	ops, err := t.Tx.ClaimOperations(owner, now, lease, limit)
	t.s.mu.Lock()
	for _, op := range ops {
		t.s.runs[op.ID] = append(t.s.runs[op.ID], owner)
	}
	t.s.mu.Unlock()
	return ops, err
}

// TestRunnersShareOperations: runners of two processes (two opens of one
// database) running at once complete every operation, each exactly once.
func TestRunnersShareOperations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rekey.db")
	a, b := open(t, path), open(t, path)
	defer a.Close()
	defer b.Close()
	now := time.Now().UTC()
	const n = 30
	put(t, a, func(tx rekey.Tx) error {
		tx.PutWorkspace(&rekey.Workspace{ID: ws})
		for i := range n {
			op := &rekey.Operation{ID: rekey.NewOperationID(), Kind: rekey.OpRegenerateKeys, Resource: ep.String(), Status: rekey.OpInProgress,
				CreatedAt: now, NotBefore: now.Add(time.Duration(i) * time.Microsecond)}
			if err := tx.PutOperation(op); err != nil {
				return err
			}
		}
		return nil
	})
	var (
		mu   sync.Mutex
		runs = map[string][]string{}
		wg   sync.WaitGroup
	)
	for i, s := range []rekey.Store{a, b, a, b} {
		r := ops.New(&claimSpy{Store: s, mu: &mu, runs: runs}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		r.Owner = string(rune('a' + i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := r.RunDue(t.Context()); err != nil {
					t.Errorf("RunDue: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(runs) != n {
		t.Errorf("%d operations claimed, want %d", len(runs), n)
	}
	for id, by := range runs {
		if len(by) != 1 {
			t.Errorf("operation %s claimed by %v, want one runner", id, by)
		}
	}
	var left int
	a.View(t.Context(), func(tx rekey.Tx) error {
		due, err := tx.DueOperations(now.Add(time.Hour), 100)
		left = len(due)
		return err
	})
	if left != 0 {
		t.Errorf("%d operations still InProgress, want none", left)
	}
}
