package cli

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"

	"github.com/rekey-dev/rekey/store/postgres/pgtest"
)

// TestDBCopy moves an installation from SQLite to PostgreSQL and back to
// a new SQLite file with "rekey db copy", serving it after each move: the
// same endpoint answers with the same keys. A second copy into the
// now non-empty PostgreSQL database is refused without --force. The audit
// log comes across: the regeneration made on SQLite is listed on both.
func TestDBCopy(t *testing.T) {
	pg := pgtest.URL(t)
	env := envOf("REKEY_MASTER_KEY", newMasterKey(), "REKEY_ADMIN_TOKEN", "db-copy-admin-token-0123456789")
	dataA := t.TempDir()
	s := startServerEnv(t, env, dataA)
	c := newSDK(t, s)
	c.mustWorkspace(t, "ws-copy")
	c.mustEndpoint(t, "ws-copy", "ep-copy", ml.EndpointAuthModeKey)
	c.regenerate(t, "ws-copy", "ep-copy", ml.KeyTypePrimary, nil)
	p0, s0 := c.keys(t, "ws-copy", "ep-copy")
	s.stop()

	copyDB := func(args ...string) (string, error) {
		t.Helper()
		out, stderr, err := cli(t, env, append([]string{"db", "copy"}, args...)...)
		if strings.Contains(out+stderr, "sekret") {
			t.Errorf("db copy printed the database password")
		}
		return out, err
	}
	// The password is ignored by the test server (trust) but must not show.
	pgWithPassword := strings.Replace(pg, "://rekey@", "://rekey:sekret@", 1)
	out, err := copyDB("--from", filepath.Join(dataA, "rekey.db"), "--to", pgWithPassword)
	if err != nil {
		t.Fatalf("db copy sqlite → postgres: %v\n%s", err, out)
	}
	if !strings.Contains(out, "every table's count matches") || !strings.Contains(out, "keys") {
		t.Errorf("db copy output lacks the verified counts:\n%s", out)
	}
	s = startServerEnv(t, env, t.TempDir(), "--database", pg)
	rotations := regenerations(t, s)
	if rotations != 1 {
		t.Errorf("the audit log on PostgreSQL after the copy holds %d records of the key's regeneration, want 1", rotations)
	}
	if p1, s1 := newSDK(t, s).keys(t, "ws-copy", "ep-copy"); p1 != p0 || s1 != s0 {
		t.Errorf("keys on PostgreSQL after the copy differ from those on SQLite")
	}
	s.stop()

	if _, err := copyDB("--from", filepath.Join(dataA, "rekey.db"), "--to", pgWithPassword); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("db copy into a non-empty database = %v, want a refusal that names --force", err)
	}
	if out, err := copyDB("--from", filepath.Join(dataA, "rekey.db"), "--to", pgWithPassword, "--force"); err != nil {
		t.Errorf("db copy --force: %v\n%s", err, out)
	}

	dataC := t.TempDir()
	if out, err := copyDB("--from", pg, "--to", filepath.Join(dataC, "rekey.db")); err != nil {
		t.Fatalf("db copy postgres → sqlite: %v\n%s", err, out)
	}
	s = startServerEnv(t, env, dataC)
	if n := regenerations(t, s); n != rotations {
		t.Errorf("the audit log on SQLite after the copy back holds %d records of the key's regeneration, want %d", n, rotations)
	}
	if p2, s2 := newSDK(t, s).keys(t, "ws-copy", "ep-copy"); p2 != p0 || s2 != s0 {
		t.Errorf("keys on SQLite after the copy back differ from the original ones")
	}

	if _, err := copyDB("--from", filepath.Join(t.TempDir(), "missing.db"), "--to", pg); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("db copy from a missing file = %v, want an error saying so", err)
	}
}

// regenerations counts the audit log's records of regenerateKeys calls
// that answered 202, through the admin API.
func regenerations(t *testing.T, s *testServer) int {
	t.Helper()
	st, body := adminGet(t, s, "/rekey/v1/audit?action="+url.QueryEscape("*/regenerateKeys/action"))
	if st != http.StatusOK {
		t.Fatalf("GET /rekey/v1/audit: %d %s", st, body)
	}
	var got auditJSON
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range got.Value {
		if r.Status == http.StatusAccepted || r.Status == http.StatusOK {
			n++
		}
	}
	return n
}
