package audit_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/qna"
	"github.com/rekey-dev/rekey/audit"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// TestQnAKeyReadsAndRefreshesRecorded: QnA's GET endpointkeys is a key
// read and recorded; a refresh is recorded in its transaction with the
// slot; a settings change with its 204; a wrong subscription key, which
// authenticates nobody, is not.
func TestQnAKeyReadsAndRefreshesRecorded(t *testing.T) {
	store, err := sqlite.OpenMemory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	kr, _ := rekey.NewKeyring(bytes.Repeat([]byte{3}, 32))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	id := rekey.AccountID{Subscription: sub, ResourceGroup: "rg", Name: "qna1"}
	key1 := rekey.NewSubscriptionKey()
	err = store.Update(t.Context(), func(tx rekey.Tx) error {
		if _, err := tx.PutAccount(&rekey.Account{ID: id, Kind: rekey.KindQnAMaker, Location: "westus"}); err != nil {
			return err
		}
		for owner, v := range map[string][2]string{
			id.SubscriptionKeys(): {key1, rekey.NewSubscriptionKey()},
			id.EndpointKeys():     {rekey.NewEndpointKey(), rekey.NewEndpointKey()},
		} {
			for i, slot := range rekey.Slots {
				if _, err := tx.PutKey(kr.StoredKey(owner, slot, v[i])); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stream := &bytes.Buffer{}
	rec := audit.New(store, logger, stream)
	srv := httptest.NewServer(rec.Middleware(qna.New(qna.Config{Store: rec.Store(store), Keyring: kr, Logger: logger,
		InstalledVersion: "4.0.5", LastStableVersion: "4.0.6", Language: "English"})))
	defer srv.Close()
	call := func(method, path, key, body string) int {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Ocp-Apim-Subscription-Key", key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	steps := []struct {
		method, path, key, body string
		status                  int
		action                  rekey.Action
		slot                    string
	}{
		{"GET", "/qnamaker/v4.0/endpointkeys", key1, "", 200, rekey.ActionQnAKeysRead, rekey.BothSlots},
		{"PATCH", "/qnamaker/v4.0/endpointkeys/SecondaryKey", key1, "", 200, rekey.ActionQnAKeysRefresh, "secondary"},
		{"PATCH", "/qnamaker/v4.0/endpointSettings", key1, `{"activeLearning":{"enable":"True"}}`, 204, rekey.ActionQnASettingsWrite, ""},
		{"PATCH", "/qnamaker/v4.0/endpointkeys/TertiaryKey", key1, "", 400, rekey.ActionQnAKeysRefresh, ""},
	}
	for i, s := range steps {
		if got := call(s.method, s.path, s.key, s.body); got != s.status {
			t.Fatalf("%s %s = %d, want %d", s.method, s.path, got, s.status)
		}
		var recs []rekey.AuditRecord
		store.View(t.Context(), func(tx rekey.Tx) (err error) { recs, err = tx.AuditRecords(rekey.AuditFilter{}); return err })
		if len(recs) != i+1 {
			t.Fatalf("after %s %s: %d records, want %d", s.method, s.path, len(recs), i+1)
		}
		r := recs[0]
		if r.Action != string(s.action) || r.Status != s.status || r.KeySlot != s.slot || r.ResourceID != id.String() || r.PrincipalID != "subscriptionKey" {
			t.Errorf("%s %s record = %+v; want action %s, status %d, slot %q, resource %s", s.method, s.path, r, s.action, s.status, s.slot, id)
		}
	}
	if got := call("GET", "/qnamaker/v4.0/endpointkeys", "not-a-key-0123456789abcdef", ""); got != 401 {
		t.Fatalf("GET endpointkeys with a wrong key = %d, want 401", got)
	}
	if n := strings.Count(stream.String(), "\n"); n != len(steps) {
		t.Errorf("the stream has %d records after a refused request, want %d (unauthenticated requests are not recorded)", n, len(steps))
	}
	if strings.Contains(stream.String(), key1) {
		t.Error("the stream holds the subscription key")
	}
}
