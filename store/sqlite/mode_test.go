//go:build unix

package sqlite_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// TestFilesArePrivate: the database and its -wal and -shm files are
// created 0600 even under umask 0 (SQLite alone makes them 0644).
func TestFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "rekey.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := rekey.WorkspaceID{Subscription: "00000000-0000-0000-0000-000000000001", ResourceGroup: "rg", Name: "ws1"}
	if err := s.Update(t.Context(), func(tx rekey.Tx) error { _, err := tx.PutWorkspace(&rekey.Workspace{ID: id}); return err }); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode = %#o, want 0600", filepath.Base(f), got)
		}
	}
}
