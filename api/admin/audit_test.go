package admin_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/admin"
	"github.com/rekey-dev/rekey/store/sqlite"
)

type auditPage struct {
	Value []map[string]any `json:"value"`
	Next  *string          `json:"nextLink"`
}

// TestAuditAPI: GET /rekey/v1/audit filters and pages, with every field
// named as the wire promises, follows nextLink to the end, and refuses a
// filter it cannot read with the admin dialect's 400 envelope.
func TestAuditAPI(t *testing.T) {
	store, err := sqlite.OpenMemory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const ep = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/onlineEndpoints/ep"
	at := time.Now().UTC().Add(-30 * time.Minute)
	store.Update(t.Context(), func(tx rekey.Tx) error {
		for i := range 7 {
			r := rekey.AuditRecord{Time: at.Add(time.Duration(i) * time.Second), PrincipalID: "oid", AppID: "app", PrincipalName: "ci-rotator",
				Action: string(rekey.ActionEndpointRegenerate), ResourceID: ep, KeySlot: "primary", Status: 202,
				RequestID: fmt.Sprint("req-", i), CorrelationID: "c", ClientAddress: "127.0.0.1", UserAgent: "ua"}
			if i%2 == 1 {
				r.Action, r.Status, r.ErrorCode, r.PrincipalName = string(rekey.ActionEndpointListKeys), 404, "ResourceNotFound", "admin"
			}
			if err := tx.AppendAudit(&r); err != nil {
				return err
			}
		}
		return tx.AppendAudit(&rekey.AuditRecord{Time: at.Add(-2 * time.Hour), Action: "old", ResourceID: ep})
	})
	srv := httptest.NewServer(admin.New(store, auth{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil, nil, nil))
	defer srv.Close()
	get := func(target string) (int, string) {
		if !strings.HasPrefix(target, "http") {
			target = srv.URL + target
		}
		req, _ := http.NewRequest("GET", target, nil)
		req.Header.Set("Authorization", "Bearer admin-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	st, body := get("/rekey/v1/audit?since=1h&principal=CI-ROTATOR&resource=" + url.QueryEscape(strings.ToUpper(ep[:30])+ep[30:]) + "&$top=3")
	var page auditPage
	if st != 200 || json.Unmarshal([]byte(body), &page) != nil || len(page.Value) != 3 || page.Next == nil {
		t.Fatalf("first page = %d %s; want 3 records and a nextLink", st, body)
	}
	want := []string{"time", "principalId", "appId", "principalName", "action", "resourceId", "keySlot", "status", "errorCode", "requestId", "correlationId", "clientAddress", "userAgent"}
	if len(page.Value[0]) != len(want) {
		t.Errorf("a record has fields %v, want exactly %v", page.Value[0], want)
	}
	for _, f := range want {
		if _, ok := page.Value[0][f]; !ok {
			t.Errorf("a record lacks %q: %v", f, page.Value[0])
		}
	}
	if page.Value[0]["requestId"] != "req-6" || page.Value[0]["status"] != float64(202) {
		t.Errorf("the newest record = %v, want req-6 with status 202", page.Value[0])
	}
	if _, err := time.Parse(time.RFC3339, page.Value[0]["time"].(string)); err != nil {
		t.Errorf("time %v is not RFC 3339: %v", page.Value[0]["time"], err)
	}
	var ids []any
	for _, r := range page.Value {
		ids = append(ids, r["requestId"])
	}
	for link := page.Next; link != nil; {
		st, body := get(*link)
		var p auditPage
		if st != 200 || json.Unmarshal([]byte(body), &p) != nil {
			t.Fatalf("GET nextLink %s = %d %s", *link, st, body)
		}
		for _, r := range p.Value {
			ids = append(ids, r["requestId"])
		}
		link = p.Next
	}
	if got := fmt.Sprint(ids); got != "[req-6 req-4 req-2 req-0]" {
		t.Errorf("ci-rotator's records over every page = %s, want [req-6 req-4 req-2 req-0]", got)
	}

	st, body = get("/rekey/v1/audit?action=*/listKeys/action")
	page = auditPage{}
	if json.Unmarshal([]byte(body), &page); st != 200 || len(page.Value) != 3 || page.Value[0]["errorCode"] != "ResourceNotFound" || page.Next != nil {
		t.Errorf("listKeys records = %d %s; want 3, with their error code, and no nextLink", st, body)
	}

	for _, bad := range []string{"since=yesterday", "$top=5000", "colour=blue", "action=a*b", "since=1h&until=2h"} {
		st, body := get("/rekey/v1/audit?" + bad)
		var env struct {
			Error struct{ Code, Message string }
		}
		if st != 400 || json.Unmarshal([]byte(body), &env) != nil || env.Error.Code != "InvalidFilter" || env.Error.Message == "" {
			t.Errorf("GET audit?%s = %d %s; want 400 InvalidFilter with a message", bad, st, body)
		}
	}
}
