package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGroupHelp: "rekey GROUP -h" prints its help on stdout (so | less
// works, as the README says) and nothing on stderr, for every command
// group; and each command's one-line summary in it is a whole sentence,
// not the first line of its help cut off mid-sentence.
func TestGroupHelp(t *testing.T) {
	for _, group := range [][]string{
		{"role"}, {"role", "assignment"}, {"role", "definition"}, {"audit"}, {"db"},
		{"keys"}, {"endpoint"}, {"account"}, {"account", "keys"}, {"sp"}, {"fault"},
	} {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string{}, group...), h)
			out, errOut, err := cli(t, envOf(), args...)
			if err != nil || out == "" || errOut != "" {
				t.Errorf("rekey %s: err %v, %d bytes on stdout, stderr %q; want the help on stdout only", strings.Join(args, " "), err, len(out), errOut)
			}
			_, list, ok := strings.Cut(out, "Commands:\n")
			if !ok {
				continue
			}
			list, _, _ = strings.Cut(list, "\n\n")
			for _, line := range strings.Split(list, "\n") {
				if line = strings.TrimSpace(line); !strings.HasSuffix(line, ".") {
					t.Errorf("rekey %s: summary %q does not end a sentence", strings.Join(args, " "), line)
				}
			}
		}
	}
}

// TestRoleScopeNeedsSlash: a --scope without its leading slash is a usage
// error that says so, not a URL parse error naming the server's port.
func TestRoleScopeNeedsSlash(t *testing.T) {
	env := envOf("REKEY_SERVER", "https://127.0.0.1:1", "REKEY_TOKEN", "a-token-that-is-never-sent", "REKEY_DATA", t.TempDir())
	for _, args := range [][]string{
		{"role", "assignment", "create", "--assignee", "x", "--role", "Reader", "--scope", "subscriptions/x"},
		{"role", "assignment", "list", "--scope", "subscriptions/x"},
		{"role", "assignment", "delete", "--assignee", "x", "--scope", "subscriptions/x"},
		{"role", "definition", "list", "--scope", "subscriptions/x"},
	} {
		_, _, err := cli(t, env, args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "must start with /") {
			t.Errorf("rekey %s = %v, want a usage error saying the scope must start with /", strings.Join(args, " "), err)
		}
	}
}

// TestAuditListJSONNone: "audit list --output json" with no matching
// record prints "value": [], as the API does, not null.
func TestAuditListJSONNone(t *testing.T) {
	s := startServer(t, "")
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir)
	out, _, err := cli(t, env, "audit", "list", "--principal", "nobody-at-all", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	if compact := strings.Join(strings.Fields(out), ""); compact != `{"value":[]}` {
		t.Errorf("audit list --output json with no record = %q, want {\"value\": []}", out)
	}
}

// TestRefusedStartKeepsNoGeneratedMasterKey: a data directory without a
// master key, pointed at a database whose keys another master key sealed,
// is refused; the master key that start generated is removed, so the
// directory does not keep a key that opens nothing (and that a later
// start would read instead of generating, or an operator back up).
func TestRefusedStartKeepsNoGeneratedMasterKey(t *testing.T) {
	dataA := t.TempDir()
	s := startServerEnv(t, envOf("REKEY_MASTER_KEY", newMasterKey()), dataA)
	s.stop()
	dataB := t.TempDir()
	entries, err := os.ReadDir(dataA)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries { // the database, as "rekey db copy --to DIR/rekey.db" leaves it
		if !strings.HasPrefix(e.Name(), "rekey.db") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dataA, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dataB, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errb syncBuffer
	err = run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--data", dataB}, envOf(), nil, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "master key cannot open the keys") {
		t.Fatalf("serve with a generated master key on another installation's database = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(dataB, masterKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after the refused start, %s exists (stat: %v); want the generated master key removed", masterKeyFile, err)
	}
}

// TestDBCopyWrongKindOfDatabase: "db copy" refuses, as usage errors
// that say what to give, a URL of another scheme (once taken for a SQLite
// file name) and a data directory (once "unable to open database file"),
// and creates nothing.
func TestDBCopyWrongKindOfDatabase(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", dir, "--to", filepath.Join(dir, "copy.db")}, "is a directory; name the database file in it, e.g. " + filepath.Join(dir, "rekey.db")},
		{[]string{"--from", filepath.Join(dir, "a.db"), "--to", dir}, "is a directory"},
		{[]string{"--from", filepath.Join(dir, "a.db"), "--to", "mysql://u:hidden@db/x"}, "--to mysql://u:xxxxx@db/x: want a SQLite file"},
		{[]string{"--from", "sqlite://" + filepath.Join(dir, "a.db"), "--to", filepath.Join(dir, "copy.db")}, "--from sqlite://"},
	} {
		_, _, err := cli(t, envOf(), append([]string{"db", "copy"}, tt.args...)...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) || strings.Contains(fmt.Sprint(err), "hidden") {
			t.Errorf("db copy %s = %v, want a usage error containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused copies left %d files in %s", len(entries), dir)
	}
}
