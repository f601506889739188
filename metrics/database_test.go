package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/metrics"
)

// TestDatabaseState: only Unavailable marks the database down, from the
// first such failure; any success marks it up; the gauges follow.
func TestDatabaseState(t *testing.T) {
	r := &metrics.Registry{}
	d := metrics.NewDatabase(r)
	scrape := func() string {
		rec := httptest.NewRecorder()
		r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	if _, down := d.Down(); down || !strings.Contains(scrape(), "rekey_database_up 1") {
		t.Fatalf("a new tracker is down, or its gauge is not 1")
	}
	d.Observe(rekey.Errorf(rekey.NotFound, "gone"))
	d.Observe(context.Canceled)
	if _, down := d.Down(); down {
		t.Errorf("NotFound or a cancelled request marked the database down")
	}
	d.Observe(&rekey.Error{Code: rekey.Unavailable, Message: "away", Err: errors.New("connection refused")})
	since, down := d.Down()
	if !down || since.IsZero() {
		t.Fatalf("Down() after Unavailable = %v, %v; want down since a time", since, down)
	}
	d.Observe(&rekey.Error{Code: rekey.Unavailable, Message: "away"})
	if again, _ := d.Down(); !again.Equal(since) {
		t.Errorf("a second failure moved the start of the outage from %v to %v", since, again)
	}
	if m := scrape(); !strings.Contains(m, "rekey_database_up 0") || strings.Contains(m, "rekey_database_unreachable_since_seconds 0\n") {
		t.Errorf("gauges while down:\n%s", m)
	}
	err := d.Check(context.Background(), func(context.Context) error { return errors.New("ping failed") })
	if rekey.ErrorCode(err) != rekey.Unavailable {
		t.Errorf("Check(failing ping) = %v, want code Unavailable", err)
	}
	d.Observe(nil)
	if _, down := d.Down(); down || !strings.Contains(scrape(), "rekey_database_unreachable_since_seconds 0") {
		t.Errorf("a success did not mark the database up")
	}
}
