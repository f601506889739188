package audit_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/audit"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		query string
		want  rekey.AuditFilter
	}{
		{"", rekey.AuditFilter{}},
		{"since=1h", rekey.AuditFilter{Since: now.Add(-time.Hour)}},
		{"since=7d&until=90m", rekey.AuditFilter{Since: now.Add(-7 * 24 * time.Hour), Until: now.Add(-90 * time.Minute)}},
		{"since=2026-11-01T00:00:00Z&until=2026-11-02T00:00:00%2B01:00", rekey.AuditFilter{
			Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 1, 23, 0, 0, 0, time.UTC)}},
		{"resource=/subscriptions/s/resourceGroups/rg&principal=ci-rotator&action=*/listKeys/action", rekey.AuditFilter{
			Resource: "/subscriptions/s/resourceGroups/rg", Principal: "ci-rotator", Action: "*/listKeys/action"}},
		{"$top=5&$skipToken=42", rekey.AuditFilter{Limit: 5, Before: 42}},
		{"%24TOP=5&SINCE=1h", rekey.AuditFilter{Limit: 5, Since: now.Add(-time.Hour)}}, // names match case-insensitively
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		got, err := audit.ParseQuery(q, now)
		if err != nil || got != tt.want {
			t.Errorf("ParseQuery(%q) = %+v, %v; want %+v", tt.query, got, err, tt.want)
		}
	}
}

func TestParseQueryRefuses(t *testing.T) {
	tests := []struct{ query, mention string }{
		{"since=yesterday", "RFC 3339"},
		{"since=-1h", "RFC 3339"},
		{"until=1h&since=2h&until=3h", "once"},
		{"since=1h&until=2h", "before 'until'"},
		{"resource=subscriptions/s", "starts with '/'"},
		{"principal=", "1 to 256"},
		{"action=Microsoft.*/read", "only at its start or end"},
		{"action=*", "only at its start or end"},
		{"$top=0", "1 to 1000"},
		{"$top=1001", "1 to 1000"},
		{"$top=ten", "1 to 1000"},
		{"$skipToken=abc", "nextLink"},
		{"resourceId=/subscriptions/s", "not known"},
		{"since=99999999d", "RFC 3339"},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		_, err := audit.ParseQuery(q, now)
		if rekey.ErrorCode(err) != rekey.Invalid || !strings.Contains(rekey.ErrorMessage(err), tt.mention) {
			t.Errorf("ParseQuery(%q) = %v; want Invalid, mentioning %q", tt.query, err, tt.mention)
		}
	}
}

// FuzzParseQuery: any query either parses into a filter the store can
// take (bounded page, since before until) whose nextLink query parses back
// to the same filter, or is refused as Invalid; never a panic.
func FuzzParseQuery(f *testing.F) {
	for _, seed := range []string{"", "since=1h", "since=7d&until=1h&$top=10", "resource=/subscriptions/x&principal=p&action=*/read",
		"$skipToken=9&$top=1000", "since=2026-01-02T15:04:05.123Z", "action=a*", "%24top=3&%24skiptoken=7", "since=1h&since=2h"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		got, err := audit.ParseQuery(q, now)
		if err != nil {
			if rekey.ErrorCode(err) != rekey.Invalid {
				t.Fatalf("ParseQuery(%q) = %v; want an Invalid error", raw, err)
			}
			return
		}
		if got.Limit < 0 || got.Limit > rekey.MaxAuditPage || got.Before < 0 ||
			!got.Since.IsZero() && !got.Until.IsZero() && !got.Since.Before(got.Until) {
			t.Fatalf("ParseQuery(%q) = %+v: out of bounds", raw, got)
		}
		limit := got.Limit
		if limit == 0 {
			limit = rekey.DefaultAuditPage
		}
		page := make([]rekey.AuditRecord, limit)
		page[len(page)-1].Seq = 77
		next := audit.NextQuery(got, page)
		nq, err := url.ParseQuery(next)
		if err != nil {
			t.Fatalf("NextQuery = %q: %v", next, err)
		}
		again, err := audit.ParseQuery(nq, now.Add(time.Hour))
		want := got
		want.Before = 77
		if err != nil || !again.Since.Equal(want.Since) || !again.Until.Equal(want.Until) || again.Resource != want.Resource ||
			again.Principal != want.Principal || again.Action != want.Action || again.Limit != want.Limit || again.Before != 77 {
			t.Fatalf("the next page's query %q parses to %+v, %v; want %+v", next, again, err, want)
		}
	})
}
