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

// resetAfterClaim resets the store right after the runner's first
// transaction (its claim), as a reset that lands between claiming an
// operation and running it.
type resetAfterClaim struct {
	rekey.Store
	once sync.Once
}

func (s *resetAfterClaim) Update(ctx context.Context, fn func(rekey.Tx) error) error {
	err := s.Store.Update(ctx, fn)
	s.once.Do(func() {
		if uerr := s.Store.Update(ctx, func(tx rekey.Tx) error { return tx.Reset() }); uerr != nil {
			err = uerr
		}
	})
	return err
}

// TestOperationGoneBeforeItRuns: an operation that a reset removed after
// the runner found it due is done, not an error, and is not written back.
func TestOperationGoneBeforeItRuns(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "rekey.db"))
	defer s.Close()
	put(t, s, func(tx rekey.Tx) error {
		tx.PutWorkspace(&rekey.Workspace{ID: ws})
		tx.PutEndpoint(&rekey.Endpoint{ID: ep, AuthMode: rekey.AuthKey, ProvisioningState: rekey.Creating})
		return tx.PutOperation(&rekey.Operation{ID: "create", Kind: rekey.OpCreateEndpoint, Resource: ep.String(), Status: rekey.OpInProgress, NotBefore: time.Now()})
	})
	r := ops.New(&resetAfterClaim{Store: s}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := r.RunDue(t.Context()); err != nil {
		t.Errorf("RunDue with the operation reset away = %v, want nil", err)
	}
	err := s.View(t.Context(), func(tx rekey.Tx) error { _, err := tx.Operation("create"); return err })
	if rekey.ErrorCode(err) != rekey.NotFound {
		t.Errorf("the reset operation after RunDue: %v, want NotFound", err)
	}
}
