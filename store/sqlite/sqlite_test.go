package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/store/sqlite"
	"github.com/rekey-dev/rekey/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) rekey.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "rekey.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestConformanceInMemory runs the same contract on OpenMemory's store;
// each subtest gets a database of its own.
func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) rekey.Store {
		s, err := sqlite.OpenMemory(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestMemoryIsPrivate: two in-memory stores share nothing.
func TestMemoryIsPrivate(t *testing.T) {
	a, err := sqlite.OpenMemory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.OpenMemory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	id := rekey.WorkspaceID{Subscription: "00000000-0000-0000-0000-000000000001", ResourceGroup: "rg", Name: "ws1"}
	if err := a.Update(t.Context(), func(tx rekey.Tx) error { _, err := tx.PutWorkspace(&rekey.Workspace{ID: id}); return err }); err != nil {
		t.Fatal(err)
	}
	if err := a.View(t.Context(), func(tx rekey.Tx) error { _, err := tx.Workspace(id); return err }); err != nil {
		t.Errorf("Workspace in the store that wrote it: %v", err)
	}
	err = b.View(t.Context(), func(tx rekey.Tx) error { _, err := tx.Workspace(id); return err })
	if rekey.ErrorCode(err) != rekey.NotFound {
		t.Errorf("Workspace in another in-memory store: %v, want NotFound", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rekey.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	id := rekey.WorkspaceID{Subscription: "00000000-0000-0000-0000-000000000001", ResourceGroup: "rg", Name: "ws1"}
	if err := s.Update(t.Context(), func(tx rekey.Tx) error { _, err := tx.PutWorkspace(&rekey.Workspace{ID: id}); return err }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(t.Context(), path) // migrations run again: must be a no-op
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.View(t.Context(), func(tx rekey.Tx) error { _, err := tx.Workspace(id); return err }); err != nil {
		t.Fatalf("Workspace after reopen: %v", err)
	}
}
