package arm_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/arm"
)

// awayStore is a store whose database can be taken away: every
// transaction then fails with Unavailable, as store/postgres's do.
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

// TestDatabaseAway: with the database away, writes and reads answer 503
// ServiceUnavailable in ARM's envelope with Retry-After; when it is back,
// the same requests succeed without a restart.
func TestDatabaseAway(t *testing.T) {
	var down atomic.Bool
	e := newEnv(t, func(c *arm.Config) { c.Store = awayStore{Store: c.Store, down: &down} })
	ws := base + "/workspaces/ws1" + av
	e.must(http.StatusOK, "PUT", ws, `{"location":"westeurope"}`)
	down.Store(true)
	for _, m := range []string{"PUT", "GET"} {
		body := ""
		if m == "PUT" {
			body = `{"location":"westeurope","tags":{"a":"b"}}`
		}
		resp := e.do(m, ws, body)
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var env struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal(data, &env)
		if resp.StatusCode != http.StatusServiceUnavailable || env.Error.Code != "ServiceUnavailable" || resp.Header.Get("Retry-After") == "" || env.Error.Message == "" {
			t.Errorf("%s with the database away = %d %s (Retry-After %q), want 503 ServiceUnavailable with a message and Retry-After",
				m, resp.StatusCode, data, resp.Header.Get("Retry-After"))
		}
	}
	down.Store(false)
	e.must(http.StatusOK, "PUT", ws, `{"location":"westeurope","tags":{"a":"b"}}`)
	e.must(http.StatusOK, "GET", ws, "")
}
