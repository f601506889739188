package admin_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/admin"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// awayStore fails every transaction with Unavailable, as store/postgres
// does while its database is away.
type awayStore struct{ rekey.Store }

func (awayStore) View(context.Context, func(rekey.Tx) error) error {
	return &rekey.Error{Code: rekey.Unavailable, Message: "The database is unreachable; retry shortly."}
}

// storeAuth authenticates through the store, as server.TokenAuth does.
type storeAuth struct{ s rekey.Store }

func (a storeAuth) Authenticate(ctx context.Context, tok string) (rekey.Principal, error) {
	var p *rekey.Principal
	err := a.s.View(ctx, func(tx rekey.Tx) (err error) { p, err = tx.PrincipalByToken(rekey.TokenHash(tok)); return err })
	if err != nil {
		return rekey.Principal{}, err
	}
	return *p, nil
}

// TestDatabaseAway: with the database away, the admin API answers 503
// ServiceUnavailable with Retry-After, whether the database fails the
// token check or the read behind it, never 500.
func TestDatabaseAway(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	away := awayStore{store}
	for name, a := range map[string]admin.Authenticator{"token check": storeAuth{away}, "read": auth{}} {
		srv := httptest.NewServer(admin.New(away, a, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil, nil, nil))
		req, _ := http.NewRequest("GET", srv.URL+"/rekey/v1/keys/usage?resource=/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1/onlineEndpoints/ep", nil)
		req.Header.Set("Authorization", "Bearer admin-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"ServiceUnavailable"`) || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s failing: GET usage = %d %s (Retry-After %q), want 503 ServiceUnavailable with Retry-After", name, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
}
