package admin_test

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/admin"
	"github.com/rekey-dev/rekey/seed"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// TestApplyAPI: POST /rekey/v1/apply takes the admin token only, answers
// the summary, refuses a broken file with every problem in error.details
// (ARM's envelope), and refuses an oversized body with 413.
func TestApplyAPI(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	master := make([]byte, rekey.MasterKeySize)
	rand.Read(master)
	kr, _ := rekey.NewKeyring(master)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(admin.New(store, auth{}, logger, nil, nil, &seed.Applier{Store: store, Keyring: kr, Logger: logger}, nil))
	defer srv.Close()
	post := func(token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/rekey/v1/apply?name=../../s.yaml", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	good := "workspaces:\n  - {name: ws1, location: eastus}\n"
	if st, _ := post("", good); st != http.StatusUnauthorized {
		t.Errorf("without a token = %d, want 401", st)
	}
	if st, _ := post("wrong", good); st != http.StatusUnauthorized {
		t.Errorf("with a wrong token = %d, want 401", st)
	}
	st, out := post("admin-token", good)
	if st != http.StatusOK || out["file"] != "s.yaml" || out["created"] != float64(1) {
		t.Errorf("apply = %d %v, want 200, file s.yaml, 1 created", st, out)
	}
	st, out = post("admin-token", "workspaces:\n  - {name: ws2}\n  - {name: x, location: eastus}\n")
	e, _ := out["error"].(map[string]any)
	details, _ := e["details"].([]any)
	if st != http.StatusBadRequest || e["code"] != "InvalidSeedFile" || len(details) != 2 ||
		!strings.HasPrefix(details[0].(map[string]any)["message"].(string), "s.yaml:2: workspaces[0].location: required") {
		t.Errorf("broken file = %d %v", st, out)
	}
	if st, _ := post("admin-token", strings.Repeat("#", 1<<20+1)); st != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized file = %d, want 413", st)
	}
}
