package qna_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/qna"
	"github.com/rekey-dev/rekey/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const sub = "00000000-0000-0000-0000-0000000000cc"

// env is the QnA API over a real SQLite store, with accounts written
// directly through the store (the ARM side has its own tests).
type env struct {
	t     testing.TB
	srv   *httptest.Server
	store *sqlite.Store
	kr    *rekey.Keyring
}

func newEnv(t testing.TB, mod ...func(*qna.Config)) *env {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	kr, _ := rekey.NewKeyring(bytes.Repeat([]byte{3}, 32))
	cfg := qna.Config{Store: store, Keyring: kr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		InstalledVersion: "4.0.5", LastStableVersion: "4.0.6", Language: "English", MaxBody: 1024}
	for _, m := range mod {
		m(&cfg)
	}
	h := qna.New(cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); store.Close() })
	return &env{t: t, srv: srv, store: store, kr: kr}
}

// account creates an account and returns its subscription key1 and key2.
func (e *env) account(name, kind string, tags map[string]string) (string, string) {
	e.t.Helper()
	id := rekey.AccountID{Subscription: sub, ResourceGroup: "rg", Name: name}
	k1, k2 := rekey.NewSubscriptionKey(), rekey.NewSubscriptionKey()
	err := e.store.Update(e.t.Context(), func(tx rekey.Tx) error {
		if _, err := tx.PutAccount(&rekey.Account{ID: id, Kind: kind, Location: "westus", Tags: tags}); err != nil {
			return err
		}
		put := func(owner string, slot rekey.Slot, v string) error {
			_, err := tx.PutKey(e.kr.StoredKey(owner, slot, v))
			return err
		}
		for _, err := range []error{
			put(id.SubscriptionKeys(), rekey.Primary, k1), put(id.SubscriptionKeys(), rekey.Secondary, k2),
			put(id.EndpointKeys(), rekey.Primary, rekey.NewEndpointKey()), put(id.EndpointKeys(), rekey.Secondary, rekey.NewEndpointKey()),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return k1, k2
}

// call sends a request; headers are name/value pairs.
func (e *env) call(method, path string, body []byte, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

type dto struct {
	PrimaryEndpointKey, SecondaryEndpointKey, InstalledVersion, LastStableVersion, Language string
}

func (e *env) keys(key string) dto {
	e.t.Helper()
	resp, body := e.call("GET", "/qnamaker/v4.0/endpointkeys", nil, "Ocp-Apim-Subscription-Key", key)
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET endpointkeys = %d %s", resp.StatusCode, body)
	}
	var d dto
	json.Unmarshal(body, &d)
	return d
}

var guid = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func golden(t *testing.T, name string, resp *http.Response, body []byte) {
	t.Helper()
	var out bytes.Buffer
	out.WriteString(strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode) + "\n")
	if len(bytes.TrimSpace(body)) > 0 {
		out.WriteString("\n")
		json.Indent(&out, body, "", "  ")
		out.WriteString("\n")
	}
	got := guid.ReplaceAllString(out.String(), "GUID")
	path := filepath.Join("testdata", name+".golden")
	if *update {
		os.WriteFile(path, []byte(got), 0o644)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./api/qna -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (-update to accept):\n--- got\n%s--- want\n%s", name, got, want)
	}
}

// TestRefreshKeys sends PATCH endpointkeys/{keyType} exactly as the
// published clients do, under every prefix, keyType casing and body form:
// exactly the named key changes, and the answer is the whole DTO.
func TestRefreshKeys(t *testing.T) {
	e := newEnv(t)
	key1, _ := e.account("qna1", rekey.KindQnAMaker, nil)
	bodies := []struct {
		name    string
		body    []byte
		headers []string
	}{
		{"python: empty body, no Content-Type", nil, nil},
		{"json", []byte(`{}`), []string{"Content-Type", "application/json"}},
		{"octet-stream", []byte{}, []string{"Content-Type", "application/octet-stream"}},
	}
	for _, version := range qna.Versions {
		for _, kt := range []string{"PrimaryKey", "secondarykey", "PRIMARYKEY", "SecondaryKey"} {
			for _, b := range bodies {
				before := e.keys(key1)
				// Endpoints end in '/', so clients send "//qnamaker/...".
				resp, body := e.call("PATCH", "//qnamaker/"+version+"/endpointkeys/"+kt, b.body, append([]string{"Ocp-Apim-Subscription-Key", key1}, b.headers...)...)
				if resp.StatusCode != 200 {
					t.Fatalf("%s %s (%s) = %d %s, want 200", version, kt, b.name, resp.StatusCode, body)
				}
				var got dto
				json.Unmarshal(body, &got)
				primary := strings.EqualFold(kt, "PrimaryKey")
				changed, kept := got.PrimaryEndpointKey != before.PrimaryEndpointKey, got.SecondaryEndpointKey == before.SecondaryEndpointKey
				if !primary {
					changed, kept = got.SecondaryEndpointKey != before.SecondaryEndpointKey, got.PrimaryEndpointKey == before.PrimaryEndpointKey
				}
				if !changed || !kept {
					t.Errorf("%s %s (%s): named key changed %v, other kept %v; want true, true", version, kt, b.name, changed, kept)
				}
				if got != e.keys(key1) {
					t.Errorf("%s %s: the DTO answered differs from a GET right after", version, kt)
				}
				if !guid.MatchString(got.PrimaryEndpointKey) || got.InstalledVersion != "4.0.5" || got.LastStableVersion != "4.0.6" || got.Language != "English" {
					t.Errorf("DTO: GUID keys %v, versions %q/%q, language %q; want GUID keys, 4.0.5/4.0.6, English",
						guid.MatchString(got.PrimaryEndpointKey), got.InstalledVersion, got.LastStableVersion, got.Language)
				}
			}
		}
	}
	resp, body := e.call("PATCH", "/qnamaker/v5.0-preview.2/endpointkeys/PrimaryKey", nil, "Ocp-Apim-Subscription-Key", key1)
	golden(t, "refresh_keys", resp, body)
	resp, body = e.call("GET", "/qnamaker/v5.0-preview.2/endpointkeys", nil, "Ocp-Apim-Subscription-Key", key1)
	golden(t, "get_keys", resp, body)
}

// TestLanguageFromAccountTag: the account's qnaLanguage tag wins.
func TestLanguageFromAccountTag(t *testing.T) {
	e := newEnv(t)
	key, _ := e.account("qna-de", rekey.KindQnAMaker, map[string]string{"qnaLanguage": "German"})
	if got := e.keys(key).Language; got != "German" {
		t.Errorf("language = %q, want German", got)
	}
}

func TestEndpointSettings(t *testing.T) {
	e := newEnv(t)
	key, _ := e.account("qna1", rekey.KindQnAMaker, nil)
	resp, body := e.call("GET", "/qnamaker/v4.0/endpointSettings", nil, "Ocp-Apim-Subscription-Key", key)
	golden(t, "get_settings_default", resp, body)
	resp, body = e.call("PATCH", "/qnamaker/v5.0-preview.1/endpointSettings", []byte(`{"activeLearning":{"enable":"True"}}`),
		"Ocp-Apim-Subscription-Key", key, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("PATCH endpointSettings = %d %q, want 204 with no body", resp.StatusCode, body)
	}
	resp, body = e.call("GET", "/qnamaker/v5.0-preview.2/endpointsettings", nil, "Ocp-Apim-Subscription-Key", key)
	golden(t, "get_settings_enabled", resp, body)
}

// TestErrors enumerates the error answers; each is pinned as a golden file.
func TestErrors(t *testing.T) {
	e := newEnv(t)
	key1, key2 := e.account("qna1", rekey.KindQnAMaker, nil)
	faceKey, _ := e.account("face1", "Face", nil)
	endpointKey := e.keys(key1).PrimaryEndpointKey
	ok := []string{"Ocp-Apim-Subscription-Key", key1}
	json := []string{"Ocp-Apim-Subscription-Key", key1, "Content-Type", "application/json"}
	tests := []struct {
		name         string
		method, path string
		body         string
		headers      []string
		status       int
		code         string
	}{
		{"no_key", "GET", "/qnamaker/v4.0/endpointkeys", "", nil, 401, "Unauthorized"},
		{"unknown_key", "GET", "/qnamaker/v4.0/endpointkeys", "", []string{"Ocp-Apim-Subscription-Key", "0123456789abcdef0123456789abcdef"}, 401, "Unauthorized"},
		{"key_of_other_kind", "GET", "/qnamaker/v4.0/endpointkeys", "", []string{"Ocp-Apim-Subscription-Key", faceKey}, 401, "Unauthorized"},
		{"endpoint_key_as_subscription_key", "GET", "/qnamaker/v4.0/endpointkeys", "", []string{"Ocp-Apim-Subscription-Key", endpointKey}, 401, "Unauthorized"},
		{"unknown_version", "GET", "/qnamaker/v3.0/endpointkeys", "", ok, 404, "NotFound"},
		{"no_version", "GET", "/qnamaker", "", ok, 404, "NotFound"},
		{"unknown_operation", "GET", "/qnamaker/v4.0/knowledgebases", "", ok, 404, "NotFound"},
		{"wrong_method", "POST", "/qnamaker/v4.0/endpointkeys", "", ok, 405, "BadArgument"},
		{"unknown_key_type", "PATCH", "/qnamaker/v4.0/endpointkeys/TertiaryKey", "", ok, 400, "BadArgument"},
		{"wrong_content_type", "PATCH", "/qnamaker/v4.0/endpointkeys/PrimaryKey", "x", []string{"Ocp-Apim-Subscription-Key", key1, "Content-Type", "text/xml"}, 415, "BadArgument"},
		{"oversized_body", "PATCH", "/qnamaker/v4.0/endpointkeys/PrimaryKey", strings.Repeat("a", 2048), []string{"Ocp-Apim-Subscription-Key", key1, "Content-Type", "application/octet-stream"}, 413, "BadArgument"},
		{"settings_malformed_json", "PATCH", "/qnamaker/v4.0/endpointSettings", `{"activeLearning":`, json, 400, "BadArgument"},
		{"settings_wrong_type", "PATCH", "/qnamaker/v4.0/endpointSettings", `{"activeLearning":{"enable":true}}`, json, 400, "BadArgument"},
		{"settings_bad_value", "PATCH", "/qnamaker/v4.0/endpointSettings", `{"activeLearning":{"enable":"Maybe"}}`, json, 400, "BadArgument"},
		{"settings_missing", "PATCH", "/qnamaker/v4.0/endpointSettings", `{}`, json, 400, "BadArgument"},
		{"settings_empty", "PATCH", "/qnamaker/v4.0/endpointSettings", ``, json, 400, "BadArgument"},
		{"settings_form", "PATCH", "/qnamaker/v4.0/endpointSettings", `a=b`, []string{"Ocp-Apim-Subscription-Key", key1, "Content-Type", "application/x-www-form-urlencoded"}, 415, "BadArgument"},
	}
	before := e.keys(key2)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			var body []byte
			if tt.body != "" || tt.method == "PATCH" {
				body = []byte(tt.body)
			}
			resp, data := e.call(tt.method, tt.path, body, tt.headers...)
			if resp.StatusCode != tt.status || !strings.Contains(string(data), `"code":"`+tt.code+`"`) || resp.Header.Get("apim-request-id") == "" {
				t.Errorf("%s %s = %d %s, want %d with code %s and an apim-request-id", tt.method, tt.path, resp.StatusCode, data, tt.status, tt.code)
			}
			golden(t, "error_"+tt.name, resp, data)
		})
	}
	e.t = t
	if e.keys(key2) != before {
		t.Errorf("endpoint keys changed across rejected requests")
	}
	// One message for every authentication failure.
	_, a := e.call("GET", "/qnamaker/v4.0/endpointkeys", nil)
	_, b := e.call("GET", "/qnamaker/v4.0/endpointkeys", nil, "Ocp-Apim-Subscription-Key", faceKey)
	if string(a) != string(b) {
		t.Errorf("401 bodies differ between a missing key and a non-QnA key:\n%s\n%s", a, b)
	}
}
