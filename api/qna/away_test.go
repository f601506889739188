package qna_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/qna"
)

// awayStore fails every transaction with Unavailable while down, as
// store/postgres does when its database is away.
type awayStore struct {
	rekey.Store
	down *atomic.Bool
}

func (s awayStore) View(ctx context.Context, fn func(rekey.Tx) error) error {
	if s.down.Load() {
		return &rekey.Error{Code: rekey.Unavailable, Message: "The database is unreachable; retry shortly."}
	}
	return s.Store.View(ctx, fn)
}

func (s awayStore) Update(ctx context.Context, fn func(rekey.Tx) error) error {
	if s.down.Load() {
		return &rekey.Error{Code: rekey.Unavailable, Message: "The database is unreachable; retry shortly."}
	}
	return s.Store.Update(ctx, fn)
}

// TestDatabaseAway: with the database away, the QnA API answers 503 in
// its own envelope (code ServiceError) with Retry-After; when it is back,
// the same request succeeds.
func TestDatabaseAway(t *testing.T) {
	var down atomic.Bool
	e := newEnv(t, func(c *qna.Config) { c.Store = awayStore{Store: c.Store, down: &down} })
	k1, _ := e.account("qna1", "QnAMaker", nil)
	down.Store(true)
	resp, body := e.call("GET", "/qnamaker/v4.0/endpointkeys", nil, "Ocp-Apim-Subscription-Key", k1)
	var env struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(body, &env)
	if resp.StatusCode != http.StatusServiceUnavailable || env.Error.Code != "ServiceError" || env.Error.Message == "" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("GET endpointkeys with the database away = %d %s (Retry-After %q), want 503 ServiceError with Retry-After", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	down.Store(false)
	if resp, _ := e.call("GET", "/qnamaker/v4.0/endpointkeys", nil, "Ocp-Apim-Subscription-Key", k1); resp.StatusCode != http.StatusOK {
		t.Errorf("GET endpointkeys with the database back = %d, want 200", resp.StatusCode)
	}
}
