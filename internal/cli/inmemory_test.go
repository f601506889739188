package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeInMemoryTempDir: "rekey serve --in-memory" without --data puts
// the CA and the secrets into a new temporary directory that the banner
// names, writes no database, lets the CLI reach it with --data, and
// removes the directory on a clean stop.
func TestServeInMemoryTempDir(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--in-memory", "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0"}, envOf(), nil, pw, io.Discard)
		pw.Close()
	}()
	var url, dir string
	lines := bufio.NewScanner(pr)
	for lines.Scan() && (url == "" || dir == "") { // tolerant of the banner's layout
		line := strings.ToLower(lines.Text())
		if u := regexp.MustCompile(`https://\S+`).FindString(lines.Text()); u != "" && strings.Contains(line, "management") {
			url = u
		}
		if _, after, ok := strings.Cut(lines.Text(), ":"); ok && strings.Contains(line, "data dir") {
			dir = strings.TrimSpace(after)
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" || dir == "" {
		t.Fatalf("no banner (url %q, data directory %q): %v", url, dir, <-done)
	}
	if !strings.HasPrefix(dir, os.TempDir()) {
		t.Errorf("data directory %s is not in the temporary directory %s", dir, os.TempDir())
	}
	for _, f := range []string{"ca.pem", adminTokenFile, masterKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	pem, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, &testServer{URL: url, DataDir: dir, CAPool: x509Pool(pem)})
	out, stderr, err := cli(t, envOf(), "workspace", "create", "--name", "ws1", "--server", url, "--data", dir)
	if err != nil || !strings.Contains(out, "ws1") {
		t.Fatalf("workspace create --data %s = %v, %s", dir, err, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, databaseFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s in the data directory of an in-memory server: %v, want none", databaseFile, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		os.RemoveAll(dir)
		t.Errorf("the temporary data directory is still there after a clean stop: %v", err)
	}
}

// TestServeInMemoryWithData: with --data, the directory keeps the CA and
// the admin token across restarts (clients keep their configuration) but
// no state: a workspace made before a restart is gone after it.
func TestServeInMemoryWithData(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "--in-memory")
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", dir)
	if _, stderr, err := cli(t, env, "workspace", "create", "--name", "ws1"); err != nil {
		t.Fatalf("workspace create: %v %s", err, stderr)
	}
	if out, _, err := cli(t, env, "workspace", "list"); err != nil || !strings.Contains(out, "ws1") {
		t.Fatalf("workspace list = %v, %q; want ws1", err, out)
	}
	s.stop()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), databaseFile) {
			t.Errorf("%s written by an in-memory server", e.Name())
		}
	}

	s2 := startServer(t, dir, "--in-memory")
	if s2.Token != s.Token {
		t.Errorf("the admin token changed across the restart")
	}
	env = envOf("REKEY_SERVER", s2.URL, "REKEY_DATA", dir)
	out, stderr, err := cli(t, env, "workspace", "list", "--output", "json")
	if err != nil {
		t.Fatalf("workspace list after the restart: %v %s", err, stderr)
	}
	if strings.Contains(out, "ws1") {
		t.Errorf("workspace list after an in-memory restart = %s, want it empty", out)
	}
}

// TestServeInMemoryNeedsOneProcess: a memory store cannot be shared, so
// --in-memory with one role only is refused before anything starts.
func TestServeInMemoryNeedsOneProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never")
	_, _, err := cli(t, envOf("REKEY_IN_MEMORY", "true"), "serve", "--role", "gateway", "--data", dir)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--in-memory") {
		t.Errorf("serve --in-memory --role gateway = %v, want a usage error naming --in-memory", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused server created its data directory")
	}
}
