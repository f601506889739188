package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/admin"
	"github.com/rekey-dev/rekey/store/sqlite"
)

type auth struct{}

func (auth) Authenticate(_ context.Context, tok string) (rekey.Principal, error) {
	if tok != "admin-token" {
		return rekey.Principal{}, rekey.Errorf(rekey.Unauthorized, "no")
	}
	return rekey.Principal{Name: "admin"}, nil
}

func TestUsage(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ep := rekey.EndpointID{Workspace: rekey.WorkspaceID{Subscription: "00000000-0000-0000-0000-000000000001", ResourceGroup: "rg", Name: "ws1"}, Name: "ep"}
	used := time.Unix(1_800_000_000, 0).UTC()
	store.Update(t.Context(), func(tx rekey.Tx) error {
		for _, s := range rekey.Slots {
			tx.PutKey(rekey.StoredKey{Resource: ep.Key(), Slot: s, Ciphertext: []byte{1}, UpdatedAt: used})
		}
		return tx.AddKeyUsage(rekey.KeyUsage{Owner: ep.Key(), Slot: rekey.Secondary, Requests: 7, GraceRequests: 2, LastUsed: used})
	})
	srv := httptest.NewServer(admin.New(store, auth{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil))
	defer srv.Close()
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "bearer "+token) // any case, as the ARM API takes it
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st, body := get("/rekey/v1/keys/usage?resource="+ep.String(), "admin-token")
	var got struct {
		Keys []struct {
			Slot                    string
			Requests, GraceRequests int64
			LastUsed                *time.Time
		}
	}
	json.Unmarshal([]byte(body), &got)
	if st != 200 || len(got.Keys) != 2 || got.Keys[0].Slot != "primary" || got.Keys[0].Requests != 0 || got.Keys[0].LastUsed != nil ||
		got.Keys[1].Requests != 7 || got.Keys[1].GraceRequests != 2 || !got.Keys[1].LastUsed.Equal(used) {
		t.Errorf("usage = %d %s; want primary unused, secondary 7 (2 in grace) last used %v", st, body, used)
	}
	for _, tt := range []struct {
		path, token string
		status      int
		code        string
	}{
		{"/rekey/v1/keys/usage?resource=" + ep.String(), "", 401, "AuthenticationFailed"},
		{"/rekey/v1/keys/usage?resource=" + ep.String(), "wrong", 401, "InvalidAuthenticationToken"},
		{"/rekey/v1/keys/usage?resource=nonsense", "admin-token", 400, "BadArgument"},
		{"/rekey/v1/keys/usage?resource=" + ep.String() + "x", "admin-token", 404, "ResourceNotFound"},
		{"/rekey/v1/nothing", "admin-token", 404, "NotFound"},
	} {
		st, body := get(tt.path, tt.token)
		if st != tt.status || !strings.Contains(body, `"code":"`+tt.code+`"`) {
			t.Errorf("GET %s = %d %s, want %d %s", tt.path, st, body, tt.status, tt.code)
		}
	}
}
