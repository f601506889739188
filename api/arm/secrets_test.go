package arm_test

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey"
)

// dbContains reports whether the database file or its WAL holds s.
func (e *env) dbContains(s string) bool {
	for _, f := range []string{e.dbPath, e.dbPath + "-wal"} {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

// TestAPIPropertiesAllowList: only the documented non-secret apiProperties
// are kept. Secret names, unknown names, a trailing space and nesting are
// neither returned nor written to the database (the deny-list it replaces
// let all but the first through).
func TestAPIPropertiesAllowList(t *testing.T) {
	e := newEnv(t)
	const v = "?api-version=2025-06-01"
	_, body := e.must(http.StatusCreated, "PUT", csBase+"/qna1"+v, `{"location":"westus","kind":"QnAMaker","sku":{"name":"S0"},
		"properties":{"apiProperties":{"qnaRuntimeEndpoint":"https://qna1.example/",
		"qnaAzureSearchEndpointKey":"SECRET-search-key",
		"qnaAzureSearchEndpointKey ":"SECRET-trailing-space",
		"aadClientSecret":"SECRET-aad-client",
		"password":"SECRET-password",
		"eventHubConnectionString":"Endpoint=sb://x/;SharedAccessKey=SECRET-eventhub",
		"storageAccountConnectionString":"AccountKey=SECRET-storage",
		"nested":{"qnaAzureSearchEndpointKey":"SECRET-nested","list":["SECRET-in-array"]},
		"AADCLIENTID":"11111111-2222-3333-4444-555555555555",
		"aadTenantId":"66666666-7777-8888-9999-000000000000",
		"statisticsEnabled":true,
		"websiteName":"advisor1"}}}`)
	_, got := e.must(http.StatusOK, "GET", csBase+"/qna1"+v, "")
	_, list := e.must(http.StatusOK, "GET", csBase+v, "")
	_, patched := e.must(http.StatusOK, "PATCH", csBase+"/qna1"+v, `{"properties":{"apiProperties":{"Password ":"SECRET-patch","superUser":"admin@example.com"}}}`)
	for name, b := range map[string][]byte{"PUT": body, "GET": got, "list": list, "PATCH": patched} {
		if strings.Contains(string(b), "SECRET") {
			t.Errorf("%s response holds a secret apiProperty: %s", name, b)
		}
		for _, want := range []string{`"aadClientId":"11111111-2222-3333-4444-555555555555"`, `"statisticsEnabled":true`, `"websiteName":"advisor1"`, `"qnaRuntimeEndpoint":"https://qna1.example"`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s response lacks the allowed %s: %s", name, want, b)
			}
		}
	}
	if !strings.Contains(string(patched), `"superUser":"admin@example.com"`) {
		t.Errorf("PATCH lost the allowed superUser: %s", patched)
	}
	if e.dbContains("SECRET") {
		t.Errorf("the database file holds a secret apiProperty")
	}

	// Nesting under an allowed name is a type error, and nothing is written.
	for _, bad := range []string{`{"websiteName":{"key":"SECRET-x"}}`, `{"aadClientId":["SECRET-y"]}`, `{"statisticsEnabled":"SECRET-z"}`} {
		resp := e.do("PATCH", csBase+"/qna1"+v, `{"properties":{"apiProperties":`+bad+`}}`)
		if b := readAll(resp); resp.StatusCode != 400 || !strings.Contains(string(b), "must be") {
			t.Errorf("PATCH %s = %d %s, want 400", bad, resp.StatusCode, b)
		}
	}
	if e.dbContains("SECRET") {
		t.Errorf("a refused PATCH wrote a secret to the database file")
	}
}

// TestQnARuntimeEndpointCredentials: a runtime URL with a user or password
// is refused, as rekey.upstream is, without echoing it or storing anything.
func TestQnARuntimeEndpointCredentials(t *testing.T) {
	e := newEnv(t)
	const v = "?api-version=2025-06-01"
	for _, u := range []string{"http://user:SECRET-pw@127.0.0.1:9", "https://SECRET-user@qna.example", "https://:SECRET-pw@qna.example/", "https://qna.example/?code=SECRET-fn"} {
		resp := e.do("PUT", csBase+"/qna1"+v, `{"location":"westus","kind":"QnAMaker","sku":{"name":"S0"},"properties":{"apiProperties":{"qnaRuntimeEndpoint":"`+u+`"}}}`)
		b := readAll(resp)
		if resp.StatusCode != 400 || !strings.Contains(string(b), "without credentials") || strings.Contains(string(b), "SECRET") {
			t.Errorf("PUT with %s = %d %s, want 400 naming the rule, without the value", u, resp.StatusCode, b)
		}
		e.must(http.StatusNotFound, "GET", csBase+"/qna1"+v, "")
	}
	e.must(http.StatusCreated, "PUT", csBase+"/qna1"+v, `{"location":"westus","kind":"QnAMaker","sku":{"name":"S0"},"properties":{"apiProperties":{"qnaRuntimeEndpoint":"https://qna.example"}}}`)
	resp := e.do("PATCH", csBase+"/qna1"+v, `{"properties":{"apiProperties":{"qnaRuntimeEndpoint":"https://u:SECRET-pw@qna.example"}}}`)
	if b := readAll(resp); resp.StatusCode != 400 {
		t.Errorf("PATCH with credentials = %d %s, want 400", resp.StatusCode, b)
	}
	if e.dbContains("SECRET") {
		t.Errorf("the database file holds a refused credential")
	}

	// An account stored before these checks shows neither its credentials
	// nor its non-allow-listed apiProperties.
	id := rekey.AccountID{Subscription: sub, ResourceGroup: "rg1", Name: "old1"}
	err := e.store.Update(t.Context(), func(tx rekey.Tx) error {
		_, err := tx.PutAccount(&rekey.Account{ID: id, UID: "0123", Location: "westus", Kind: "QnAMaker", PublicNetworkAccess: "Enabled",
			QnARuntimeEndpoint: "https://u:SECRET-old@qna.example", APIProperties: map[string]any{"password": "SECRET-old2", "websiteName": "w"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, b := e.must(http.StatusOK, "GET", csBase+"/old1"+v, "")
	if strings.Contains(string(b), "SECRET") || !strings.Contains(string(b), `"qnaRuntimeEndpoint":"https://qna.example"`) {
		t.Errorf("GET of an old account = %s, want it without credentials", b)
	}
}
