package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/arm"
	"github.com/rekey-dev/rekey/audit"
	"github.com/rekey-dev/rekey/store/sqlite"
)

const (
	sub   = "00000000-0000-0000-0000-0000000000aa"
	token = "audit-test-admin-token-0123456789"
	ws    = "/subscriptions/" + sub + "/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1"
	ep    = ws + "/onlineEndpoints/ep1"
	av    = "?api-version=2024-04-01"
)

type tokenAuth struct{}

func (tokenAuth) Authenticate(_ context.Context, tok string) (rekey.Principal, error) {
	if tok != token {
		return rekey.Principal{}, rekey.Errorf(rekey.Unauthorized, "bad token")
	}
	return rekey.Principal{ID: "admin", Name: "admin", Type: "Application"}, nil
}

// failingCommits makes every Update fail after its fn succeeded, as a
// commit that fails does: everything fn wrote is rolled back.
type failingCommits struct {
	rekey.Store
	mu   sync.Mutex
	fail bool
}

var errCommit = errors.New("injected: the commit failed")

func (s *failingCommits) Update(ctx context.Context, fn func(rekey.Tx) error) error {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	return s.Store.Update(ctx, func(tx rekey.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if fail {
			return errCommit
		}
		return nil
	})
}

func (s *failingCommits) set(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

type env struct {
	t      *testing.T
	srv    *httptest.Server
	store  *sqlite.Store
	failer *failingCommits
	stream *bytes.Buffer
	kr     *rekey.Keyring
}

// newEnv serves the real ARM API as rekey serve wires it: the recorder's
// middleware outside, the APIs writing through the recorder's store, here
// over a store whose commits can be made to fail.
func newEnv(t *testing.T) *env {
	t.Helper()
	store, err := sqlite.OpenMemory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	kr, err := rekey.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	failer := &failingCommits{Store: store}
	stream := &bytes.Buffer{}
	rec := audit.New(store, logger, stream)
	api := arm.New(arm.Config{Store: rec.Store(failer), Keyring: kr, Auth: tokenAuth{}, Logger: logger, GatewayURL: "http://gateway.test"})
	srv := httptest.NewServer(rec.Middleware(api))
	t.Cleanup(func() {
		srv.Close()
		store.Close()
	})
	return &env{t: t, srv: srv, store: store, failer: failer, stream: stream, kr: kr}
}

func (e *env) do(method, path, body string, header ...string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) records(f rekey.AuditFilter) []rekey.AuditRecord {
	e.t.Helper()
	var out []rekey.AuditRecord
	if err := e.store.View(e.t.Context(), func(tx rekey.Tx) (err error) { out, err = tx.AuditRecords(f); return err }); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) endpoint() {
	e.t.Helper()
	if st, body := e.do("PUT", ws+av, `{"location":"westeurope"}`); st != 200 {
		e.t.Fatalf("PUT workspace = %d %s", st, body)
	}
	if st, body := e.do("PUT", ep+av, `{"location":"westeurope","properties":{"authMode":"Key"}}`); st != 201 {
		e.t.Fatalf("PUT endpoint = %d %s", st, body)
	}
}

// TestChangeRecordedInItsTransaction: an acknowledged change has exactly
// one record, with the status it answered, the caller, the action, the
// resource and the slot; the stream carries the same.
func TestChangeRecordedInItsTransaction(t *testing.T) {
	e := newEnv(t)
	e.endpoint()
	st, body := e.do("POST", ep+"/regenerateKeys"+av, `{"keyType":"Primary"}`,
		"x-ms-correlation-request-id", "corr-42", "User-Agent", "audit-test/1")
	if st != http.StatusAccepted {
		t.Fatalf("regenerateKeys = %d %s, want 202", st, body)
	}
	got := e.records(rekey.AuditFilter{Action: string(rekey.ActionEndpointRegenerate)})
	if len(got) != 1 {
		t.Fatalf("%d regenerateKeys records, want 1: %+v", len(got), got)
	}
	r := got[0]
	if r.Status != 202 || r.ErrorCode != "" || r.KeySlot != "primary" || r.PrincipalID != "admin" ||
		!strings.EqualFold(r.ResourceID, ep) || r.CorrelationID != "corr-42" || r.UserAgent != "audit-test/1" || r.ClientAddress != "127.0.0.1" {
		t.Errorf("regenerateKeys record = %+v", r)
	}
	writes := e.records(rekey.AuditFilter{Action: string(rekey.ActionEndpointWrite)})
	if len(writes) != 1 || writes[0].Status != 201 || writes[0].KeySlot != rekey.BothSlots {
		t.Errorf("endpoint PUT records = %+v, want one with status 201 and keySlot %q (keys set at creation)", writes, rekey.BothSlots)
	}
	lines := strings.Split(strings.TrimSpace(e.stream.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("the stream has %d lines, want 3 (workspace, endpoint, regenerate):\n%s", len(lines), e.stream)
	}
	var w audit.Record
	if err := json.Unmarshal([]byte(lines[2]), &w); err != nil || w.Action != string(rekey.ActionEndpointRegenerate) || w.Status != 202 || w.KeySlot != "primary" {
		t.Errorf("the stream's last line = %s (%v), want the regenerateKeys record", lines[2], err)
	}
}

// TestFailedCommitLeavesNoSuccessRecord: a rotation whose transaction
// fails changes no key and leaves no record that says it succeeded; the
// failure itself is recorded with its status and code.
func TestFailedCommitLeavesNoSuccessRecord(t *testing.T) {
	e := newEnv(t)
	e.endpoint()
	before := storedDigest(t, e.store)
	e.failer.set(true)
	st, body := e.do("POST", ep+"/regenerateKeys"+av, `{"keyType":"Primary"}`)
	e.failer.set(false)
	if st != http.StatusInternalServerError {
		t.Fatalf("regenerateKeys with a failing commit = %d %s, want 500", st, body)
	}
	if after := storedDigest(t, e.store); after != before {
		t.Fatal("the primary key changed although the transaction failed")
	}
	got := e.records(rekey.AuditFilter{Action: string(rekey.ActionEndpointRegenerate)})
	if len(got) != 1 || got[0].Status != 500 || got[0].ErrorCode != "InternalServerError" || got[0].KeySlot != "primary" {
		t.Fatalf("records after a failed rotation = %+v, want one 500 InternalServerError record for the primary slot", got)
	}
	if strings.Contains(e.stream.String(), `"status":202`) {
		t.Error("the stream holds a 202 record for a rotation that failed")
	}
}

func storedDigest(t *testing.T, s rekey.Store) string {
	t.Helper()
	id, err := rekey.ParseEndpointID(ep)
	if err != nil {
		t.Fatal(err)
	}
	var d string
	err = s.View(t.Context(), func(tx rekey.Tx) error {
		keys, err := tx.Keys(id.Key())
		for _, k := range keys {
			if k.Slot == rekey.Primary {
				d = string(k.Digest[:])
			}
		}
		return err
	})
	if err != nil || d == "" {
		t.Fatalf("reading the primary key's digest: %v", err)
	}
	return d
}

// TestRefusedAndReadRequestsRecorded: a request that fails is recorded
// after its answer with the status and the wire error code; key reads are
// recorded; plain GETs and unauthenticated requests are not.
func TestRefusedAndReadRequestsRecorded(t *testing.T) {
	e := newEnv(t)
	e.endpoint()
	missing := ws + "/onlineEndpoints/nope"
	tests := []struct {
		method, path, body string
		status             int
		code, slot         string
		action             rekey.Action
	}{
		{"POST", missing + "/regenerateKeys" + av, `{"keyType":"Secondary"}`, 404, "ResourceNotFound", "secondary", rekey.ActionEndpointRegenerate},
		{"POST", ep + "/regenerateKeys" + av, `{"keyType":"Tertiary"}`, 400, "BadArgument", "", rekey.ActionEndpointRegenerate},
		{"POST", ep + "/listKeys" + av, ``, 200, "", rekey.BothSlots, rekey.ActionEndpointListKeys},
		{"POST", ep + "/token" + av, ``, 400, "BadArgument", "", rekey.ActionEndpointToken},
	}
	for _, tt := range tests {
		st, body := e.do(tt.method, tt.path, tt.body)
		if st != tt.status {
			t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, st, body, tt.status)
		}
		got := e.records(rekey.AuditFilter{Limit: 1})
		if len(got) != 1 {
			t.Fatalf("%s %s left no record", tt.method, tt.path)
		}
		r := got[0]
		if r.Status != tt.status || r.ErrorCode != tt.code || r.KeySlot != tt.slot || r.Action != string(tt.action) || r.PrincipalID != "admin" {
			t.Errorf("%s %s record = %+v; want status %d, errorCode %q, keySlot %q, action %s", tt.method, tt.path, r, tt.status, tt.code, tt.slot, tt.action)
		}
	}
	n := len(e.records(rekey.AuditFilter{}))
	if st, _ := e.do("GET", ep+av, ""); st != 200 {
		t.Fatalf("GET endpoint = %d", st)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+ep+"/listKeys"+av, nil)
	req.Header.Set("Authorization", "Bearer wrong-token")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("listKeys with a wrong token = %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}
	if got := len(e.records(rekey.AuditFilter{})); got != n {
		t.Errorf("a GET and an unauthenticated POST added %d records, want 0", got-n)
	}
}

// TestRecordedStatusIsTheAnswer: for every kind of ARM write, the status
// in the record written in the change's transaction is the status the
// caller got. (That record is written before the answer exists, from the
// status the handler notes.)
func TestRecordedStatusIsTheAnswer(t *testing.T) {
	e := newEnv(t)
	e.endpoint()
	const cs = "/subscriptions/" + sub + "/resourceGroups/rg1/providers/Microsoft.CognitiveServices/accounts/qna1"
	const csv = "?api-version=2025-06-01"
	dep := ep + "/deployments/blue"
	steps := []struct{ method, path, body string }{
		{"PUT", ws + av, `{"location":"westeurope","tags":{"a":"b"}}`},
		{"PATCH", ws + av, `{"tags":{"a":"c"}}`},
		{"PATCH", ep + av, `{"tags":{"a":"c"}}`},
		{"PUT", ep + av, `{"location":"westeurope","properties":{"authMode":"Key"}}`},
		{"PUT", dep + av, `{"location":"westeurope","sku":{"name":"Default","capacity":1},"properties":{"endpointComputeType":"Managed","properties":{"rekey.upstream":"http://127.0.0.1:9"}}}`},
		{"PATCH", dep + av, `{"tags":{"a":"c"}}`},
		{"POST", ep + "/regenerateKeys" + av, `{"keyType":"Secondary"}`},
		{"POST", ep + "/listKeys" + av, ``},
		{"DELETE", dep + av, ``},
		{"DELETE", ep + "/deployments/none" + av, ``},
		{"PUT", cs + csv, `{"location":"westus","kind":"QnAMaker","sku":{"name":"S0"},"properties":{"apiProperties":{"qnaRuntimeEndpoint":"http://127.0.0.1:9"}}}`},
		{"PUT", cs + csv, `{"location":"westus","kind":"QnAMaker","sku":{"name":"S0"},"properties":{"apiProperties":{"qnaRuntimeEndpoint":"http://127.0.0.1:9"}}}`},
		{"PATCH", cs + csv, `{"tags":{"a":"b"}}`},
		{"POST", cs + "/listKeys" + csv, ``},
		{"POST", cs + "/regenerateKey" + csv, `{"keyName":"Key2"}`},
		{"DELETE", cs + csv, ``},
		{"DELETE", cs + csv, ``},
		{"DELETE", ep + av, ``},
		{"DELETE", ws + "/onlineEndpoints/none" + av, ``},
		{"DELETE", ws + av, ``},
	}
	for _, s := range steps {
		st, body := e.do(s.method, s.path, s.body)
		if st >= 400 {
			t.Fatalf("%s %s = %d %s", s.method, s.path, st, body)
		}
		got := e.records(rekey.AuditFilter{Limit: 1})
		if len(got) != 1 || got[0].Status != st || got[0].ErrorCode != "" {
			t.Errorf("%s %s answered %d; its record = %+v", s.method, s.path, st, got)
		}
	}
	slots := map[string]string{}
	for _, r := range e.records(rekey.AuditFilter{Limit: 100}) {
		slots[r.Action] += r.KeySlot + ";"
	}
	for action, want := range map[rekey.Action]string{
		rekey.ActionAccountWrite:      ";;key1,key2;", // newest first: PATCH, the update, then the creation that set the keys
		rekey.ActionAccountRegenerate: "key2;",
		rekey.ActionAccountListKeys:   "key1,key2;",
	} {
		if got := slots[string(action)]; got != want {
			t.Errorf("%s records' key slots = %q, want %q", action, got, want)
		}
	}
}
