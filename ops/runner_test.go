package ops_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/ops"
	"github.com/rekey-dev/rekey/store/sqlite"
)

var (
	ws = rekey.WorkspaceID{Subscription: "00000000-0000-0000-0000-000000000001", ResourceGroup: "rg", Name: "ws1"}
	ep = rekey.EndpointID{Workspace: ws, Name: "ep1"}
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func put(t *testing.T, s rekey.Store, fn func(tx rekey.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

func op(t *testing.T, s rekey.Store, id string) *rekey.Operation {
	t.Helper()
	var o *rekey.Operation
	if err := s.View(t.Context(), func(tx rekey.Tx) (err error) { o, err = tx.Operation(id); return err }); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestRunnerFinishesAfterRestart: operations written by one process are
// completed by the runner of the next, each kind doing its work.
func TestRunnerFinishesAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rekey.db")
	s := open(t, path)
	now := time.Now().UTC()
	gone := rekey.EndpointID{Workspace: ws, Name: "gone"}
	put(t, s, func(tx rekey.Tx) error {
		tx.PutWorkspace(&rekey.Workspace{ID: ws})
		tx.PutEndpoint(&rekey.Endpoint{ID: ep, AuthMode: rekey.AuthKey, ProvisioningState: rekey.Creating})
		tx.PutEndpoint(&rekey.Endpoint{ID: gone, AuthMode: rekey.AuthKey, ProvisioningState: rekey.Deleting})
		for _, o := range []*rekey.Operation{
			{ID: "create", Kind: rekey.OpCreateEndpoint, Resource: ep.String(), Status: rekey.OpInProgress, NotBefore: now},
			{ID: "delete", Kind: rekey.OpDeleteEndpoint, Resource: gone.String(), Status: rekey.OpInProgress, NotBefore: now},
			{ID: "regen-missing", Kind: rekey.OpRegenerateKeys, Resource: ws.String() + "/onlineEndpoints/never", Status: rekey.OpInProgress, NotBefore: now},
			{ID: "later", Kind: rekey.OpRegenerateKeys, Resource: ep.String(), Status: rekey.OpInProgress, NotBefore: now.Add(time.Hour)},
		} {
			if err := tx.PutOperation(o); err != nil {
				return err
			}
		}
		return nil
	})
	s.Close() // the "crash": nothing ran

	s = open(t, path)
	defer s.Close()
	r := ops.New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	n, err := r.RunDue(t.Context())
	if err != nil || n != 3 {
		t.Fatalf("RunDue() = %d, %v; want 3, nil", n, err)
	}
	if got := op(t, s, "create"); got.Status != rekey.OpSucceeded || got.EndedAt.IsZero() {
		t.Errorf("create = %s (ended %v), want Succeeded with an end time", got.Status, got.EndedAt)
	}
	s.View(t.Context(), func(tx rekey.Tx) error {
		e, err := tx.Endpoint(ep)
		if err != nil || e.ProvisioningState != rekey.Succeeded {
			t.Errorf("endpoint after create op = %v, %v; want Succeeded", e, err)
		}
		if _, err := tx.Endpoint(gone); rekey.ErrorCode(err) != rekey.NotFound {
			t.Errorf("endpoint after delete op: err = %v, want NotFound", err)
		}
		return nil
	})
	if got := op(t, s, "delete"); got.Status != rekey.OpSucceeded {
		t.Errorf("delete = %s, want Succeeded", got.Status)
	}
	if got := op(t, s, "regen-missing"); got.Status != rekey.OpFailed || got.Error == nil || got.Error.Code != rekey.NotFound {
		t.Errorf("regen-missing = %s %+v, want Failed with NotFound", got.Status, got.Error)
	}
	if got := op(t, s, "later"); got.Status != rekey.OpInProgress {
		t.Errorf("later = %s, want InProgress until it is due", got.Status)
	}
}

// TestRunnerWakesAndStops: a started runner completes a due operation
// when woken, and Stop returns.
func TestRunnerWakesAndStops(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "rekey.db"))
	defer s.Close()
	r := ops.New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Idle = time.Hour // only Wake can make it look
	r.Start(context.Background())
	time.Sleep(20 * time.Millisecond)
	put(t, s, func(tx rekey.Tx) error {
		tx.PutWorkspace(&rekey.Workspace{ID: ws})
		tx.PutEndpoint(&rekey.Endpoint{ID: ep, AuthMode: rekey.AuthKey})
		return tx.PutOperation(&rekey.Operation{ID: "w", Kind: rekey.OpRegenerateKeys, Resource: ep.String(), Status: rekey.OpInProgress, NotBefore: time.Now()})
	})
	r.Wake()
	deadline := time.Now().Add(5 * time.Second)
	for op(t, s, "w").Status != rekey.OpSucceeded {
		if time.Now().After(deadline) {
			t.Fatal("woken runner did not complete the operation within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Errorf("Stop() = %v", err)
	}
}

// TestPrune: the runner prunes finished operations past the retention,
// in batches, keeps running and recent ones, and prunes key usage unused
// for its retention; it also does so by itself once started.
func TestPrune(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "rekey.db"))
	defer s.Close()
	now := time.Now().UTC()
	old := now.Add(-8 * 24 * time.Hour)
	owner := ep.Key()
	put(t, s, func(tx rekey.Tx) error {
		for i := range 1200 { // more than one batch
			if err := tx.PutOperation(&rekey.Operation{ID: fmt.Sprintf("old-%d", i), Status: rekey.OpSucceeded, CreatedAt: old, NotBefore: old, EndedAt: old}); err != nil {
				return err
			}
		}
		for _, o := range []*rekey.Operation{
			{ID: "old-running", Status: rekey.OpInProgress, CreatedAt: old, NotBefore: now.Add(time.Hour)},
			{ID: "recent", Status: rekey.OpFailed, CreatedAt: now, NotBefore: now, EndedAt: now},
		} {
			if err := tx.PutOperation(o); err != nil {
				return err
			}
		}
		for _, slot := range rekey.Slots {
			if _, err := tx.PutKey(rekey.StoredKey{Resource: owner, Slot: slot, Ciphertext: []byte{1}, UpdatedAt: now}); err != nil {
				return err
			}
		}
		if err := tx.AddKeyUsage(rekey.KeyUsage{Owner: owner, Slot: rekey.Primary, Requests: 1, LastUsed: now.Add(-100 * 24 * time.Hour)}); err != nil {
			return err
		}
		for i := range 600 { // more than one batch of audit records past the retention
			if err := tx.AppendAudit(&rekey.AuditRecord{Time: now.Add(-91 * 24 * time.Hour), Action: fmt.Sprint("old-", i)}); err != nil {
				return err
			}
		}
		if err := tx.AppendAudit(&rekey.AuditRecord{Time: now.Add(-89 * 24 * time.Hour), Action: "recent"}); err != nil {
			return err
		}
		return tx.AddKeyUsage(rekey.KeyUsage{Owner: owner, Slot: rekey.Secondary, Requests: 1, LastUsed: now})
	})
	r := ops.New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.OperationRetention, r.UsageRetention, r.AuditRetention = 7*24*time.Hour, 90*24*time.Hour, rekey.DefaultAuditRetention
	got, err := r.Prune(t.Context())
	if want := (ops.Pruned{Operations: 1200, Usage: 1, Audit: 600}); err != nil || got != want {
		t.Fatalf("Prune() = %+v, %v; want %+v, nil", got, err, want)
	}
	s.View(t.Context(), func(tx rekey.Tx) error {
		if a, _ := tx.AuditRecords(rekey.AuditFilter{}); len(a) != 1 || a[0].Action != "recent" {
			t.Errorf("audit records after pruning = %+v, want the one inside the retention", a)
		}
		return nil
	})
	if o := op(t, s, "old-running"); o.Status != rekey.OpInProgress {
		t.Errorf("running operation = %+v, want kept", o)
	}
	op(t, s, "recent")
	s.View(t.Context(), func(tx rekey.Tx) error {
		if u, _ := tx.KeyUsage(owner); len(u) != 1 || u[0].Slot != rekey.Secondary {
			t.Errorf("KeyUsage after pruning = %+v, want the secondary slot only", u)
		}
		return nil
	})

	// Started with PruneEvery, the runner prunes on its own.
	put(t, s, func(tx rekey.Tx) error {
		return tx.PutOperation(&rekey.Operation{ID: "old-again", Status: rekey.OpSucceeded, CreatedAt: old, NotBefore: old, EndedAt: old})
	})
	r.PruneEvery = time.Hour
	r.Start(context.Background())
	defer r.Stop(context.Background())
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err := s.View(t.Context(), func(tx rekey.Tx) error { _, err := tx.Operation("old-again"); return err })
		if rekey.ErrorCode(err) == rekey.NotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the started runner did not prune a finished operation past the retention")
		}
	}
}

// TestRunnerFailsInjectedOperation: the fault hook. An operation written
// for a Failed fault ends Failed with its stored error, wire code
// included, and changes nothing else.
func TestRunnerFailsInjectedOperation(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "rekey.db"))
	now := time.Now().UTC()
	want := rekey.OperationError{Code: rekey.Internal, Message: "No quota left.", Wire: "QuotaExceeded"}
	put(t, s, func(tx rekey.Tx) error {
		e := want
		return tx.PutOperation(&rekey.Operation{ID: "injected", Kind: rekey.OpInjectedFailure, Resource: ep.String(),
			Status: rekey.OpInProgress, NotBefore: now, Error: &e})
	})
	r := ops.New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if n, err := r.RunDue(t.Context()); err != nil || n != 1 {
		t.Fatalf("RunDue = %d, %v; want 1, nil", n, err)
	}
	got := op(t, s, "injected")
	if got.Status != rekey.OpFailed || got.Error == nil || *got.Error != want || got.EndedAt.IsZero() {
		t.Errorf("injected operation = %s %+v, want Failed with %+v", got.Status, got.Error, want)
	}
}
