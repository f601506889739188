package identity_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/identity"
	"github.com/rekey-dev/rekey/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fixture is a token service over a real SQLite store, served over TLS by
// httptest, with one service principal.
type fixture struct {
	svc    *identity.Service
	srv    *httptest.Server
	store  rekey.Store
	clock  *clock
	creds  identity.Credentials
	client *http.Client
}

func newFixture(t testing.TB, mutate ...func(*identity.Config)) *fixture {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	master := bytes.Repeat([]byte{7}, rekey.MasterKeySize)
	keyring, err := rekey.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now().Truncate(time.Second)}
	cfg := identity.Config{Store: store, Keyring: keyring, Tenant: testTenant, Lifetime: time.Hour, Now: c.Now}
	for _, m := range mutate {
		m(&cfg)
	}
	svc, err := identity.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := svc.CreateServicePrincipal(t.Context(), "ci", "", "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(svc.Handler())
	t.Cleanup(srv.Close)
	return &fixture{svc: svc, srv: srv, store: store, clock: c, creds: creds, client: srv.Client()}
}

// post sends a form to path and returns the status and decoded body.
func (f *fixture) post(t testing.TB, path string, form url.Values, mutate ...func(*http.Request)) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, m := range mutate {
		m(req)
	}
	return f.do(t, req)
}

func (f *fixture) do(t testing.TB, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", req.Method, req.URL.Path, err)
	}
	return resp, body
}

// token gets a v2 token for resource.
func (f *fixture) token(t testing.TB, resource string) string {
	t.Helper()
	resp, body := f.post(t, "/"+testTenant+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {f.creds.AppID}, "client_secret": {f.creds.Password},
		"scope": {resource + "/.default openid offline_access profile"},
	})
	if resp.StatusCode != 200 {
		t.Fatalf("token request: %d %v", resp.StatusCode, body["error"])
	}
	return body["access_token"].(string)
}

// normalise replaces what changes from run to run (hosts, GUIDs, times,
// tokens) so a golden file compares.
var (
	reGUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	reTime = regexp.MustCompile(`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\dZ`)
	reJWT  = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)
	reUnix = regexp.MustCompile(`"(expires_on|not_before)": "\d+"`)
	reKID  = regexp.MustCompile(`"(kid|n)": "[A-Za-z0-9_-]+"`)
)

func normalise(s, host string) string {
	s = strings.ReplaceAll(s, host, "HOST")
	s = strings.ReplaceAll(s, testTenant, "TENANT")
	s = reGUID.ReplaceAllString(s, "GUID")
	s = reTime.ReplaceAllString(s, "TIME")
	s = reJWT.ReplaceAllString(s, "JWT")
	s = reUnix.ReplaceAllString(s, `"$1": "UNIX"`)
	s = reKID.ReplaceAllString(s, `"$1": "X"`)
	return s
}

// golden compares got with testdata/name.golden, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// dump renders a response's status, chosen headers and indented body.
func dump(resp *http.Response, body map[string]any, host string) string {
	var b strings.Builder
	b.WriteString(resp.Status + "\n")
	for _, h := range []string{"Content-Type", "Cache-Control", "WWW-Authenticate"} {
		if v := resp.Header.Get(h); v != "" {
			b.WriteString(h + ": " + v + "\n")
		}
	}
	out, _ := json.MarshalIndent(body, "", "  ")
	b.WriteString("\n" + string(out) + "\n")
	return normalise(b.String(), host)
}

func keyringOf(t testing.TB) *rekey.Keyring {
	k, err := rekey.NewKeyring(bytes.Repeat([]byte{7}, rekey.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
