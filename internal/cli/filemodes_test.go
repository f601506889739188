//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDataFileModes: whatever the umask and whether or not the data
// directory existed, files holding state or secrets are 0600 and the
// directory 0700; certificates are writable by their owner only. Files an
// earlier start left looser are tightened, with a warning.
func TestDataFileModes(t *testing.T) {
	old := syscall.Umask(0) // the most permissive umask there is
	defer syscall.Umask(old)

	check := func(t *testing.T, s *testServer) {
		t.Helper()
		// A write makes sure the WAL and its index exist.
		cliOK(t, s, "workspace", "create", "--name", "modes")
		private := []string{"rekey.db", "rekey.db-wal", "rekey.db-shm", "master.key", "admin-token", "ca-key.pem", "server-key.pem"}
		for _, f := range private {
			fi, err := os.Stat(filepath.Join(s.DataDir, f))
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("%s mode = %#o, want 0600", f, got)
			}
		}
		for _, f := range []string{"ca.pem", "server.pem"} {
			fi, err := os.Stat(filepath.Join(s.DataDir, f))
			if err != nil {
				t.Errorf("%s: %v", f, err)
			} else if got := fi.Mode().Perm(); got&0o022 != 0 {
				t.Errorf("%s mode = %#o, want no group or other write", f, got)
			}
		}
		fi, err := os.Stat(s.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o700 {
			t.Errorf("data directory mode = %#o, want 0700", got)
		}
		entries, _ := os.ReadDir(s.DataDir)
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && fi.Mode().Perm()&0o077 != 0 && !strings.HasSuffix(e.Name(), ".pem") {
				t.Errorf("%s mode = %#o: readable by others, and not a certificate", e.Name(), fi.Mode().Perm())
			}
		}
	}

	t.Run("new directory", func(t *testing.T) {
		s := startServer(t, filepath.Join(t.TempDir(), "new", "data"))
		check(t, s)
	})
	t.Run("existing directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		s := startServer(t, dir)
		check(t, s)
	})
	t.Run("loose files from an earlier start", func(t *testing.T) {
		dir := t.TempDir()
		s := startServer(t, dir)
		cliOK(t, s, "workspace", "create", "--name", "first")
		s.stop()
		os.Chmod(dir, 0o755)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			os.Chmod(filepath.Join(dir, e.Name()), 0o666)
		}
		s = startServer(t, dir)
		check(t, s)
		if !strings.Contains(s.Logs.String(), "restricted the permissions") {
			t.Errorf("no warning about the tightened files in the log")
		}
	})
}

// cliOK runs the rekey CLI against s and fails the test on an error.
func cliOK(t *testing.T, s *testServer, args ...string) {
	t.Helper()
	if _, stderr, err := cli(t, envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir), args...); err != nil {
		t.Fatalf("rekey %v: %v %s", args, err, stderr)
	}
}
