package admin_test

import (
	"bytes"
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
	"github.com/rekey-dev/rekey/identity"
	"github.com/rekey-dev/rekey/store/sqlite"
)

func TestServicePrincipalAPI(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	kr, _ := rekey.NewKeyring(bytes.Repeat([]byte{3}, rekey.MasterKeySize))
	ids, err := identity.New(t.Context(), identity.Config{Store: store, Keyring: kr, Tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin.New(store, auth{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, ids))
	defer srv.Close()
	call := func(method, path, body, token string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
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
	code := func(out map[string]any) any {
		e, _ := out["error"].(map[string]any)
		return e["code"]
	}
	st, created := call("POST", "/rekey/v1/servicePrincipals", `{"displayName":"ci"}`, "admin-token")
	if st != 201 || created["password"] == nil || created["tenant"] != ids.Tenant() || created["displayName"] != "ci" {
		t.Fatalf("create: %d, want 201 with appId, password, tenant, displayName", st)
	}
	appID := created["appId"].(string)
	for _, tc := range []struct {
		name, method, path, body, token string
		status                          int
		code                            string
	}{
		{"no token", "GET", "/rekey/v1/servicePrincipals", "", "", 401, "AuthenticationFailed"},
		{"empty name", "POST", "/rekey/v1/servicePrincipals", `{"displayName":"  "}`, "admin-token", 400, "BadArgument"},
		{"not JSON", "POST", "/rekey/v1/servicePrincipals", `displayName=ci`, "admin-token", 400, "BadArgument"},
		{"unknown field", "POST", "/rekey/v1/servicePrincipals", `{"name":"ci"}`, "admin-token", 400, "BadArgument"},
		{"unknown id", "GET", "/rekey/v1/servicePrincipals/00000000-0000-4000-8000-000000000000", "", "admin-token", 404, "NotFound"},
		{"reset unknown", "POST", "/rekey/v1/servicePrincipals/00000000-0000-4000-8000-000000000000/credentials/reset", "", "admin-token", 404, "NotFound"},
		{"delete unknown", "DELETE", "/rekey/v1/servicePrincipals/nope", "", "admin-token", 404, "NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, out := call(tc.method, tc.path, tc.body, tc.token)
			if st != tc.status || code(out) != tc.code {
				t.Errorf("%d %v, want %d %s", st, code(out), tc.status, tc.code)
			}
		})
	}
	st, shown := call("GET", "/rekey/v1/servicePrincipals/"+strings.ToUpper(appID), "", "admin-token")
	if st != 200 || shown["appId"] != appID || shown["password"] != nil {
		t.Errorf("show (upper-case appId): %d %v, want the principal without a password", st, shown["appId"])
	}
	if st, _ := call("POST", "/rekey/v1/signingKeys/rotate", "", "admin-token"); st != 200 {
		t.Errorf("rotate: %d, want 200", st)
	}
	if st, _ := call("DELETE", "/rekey/v1/servicePrincipals/"+appID, "", "admin-token"); st != 204 {
		t.Errorf("delete: %d, want 204", st)
	}
}
