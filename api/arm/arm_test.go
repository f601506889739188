package arm_test

import (
	"bytes"
	"context"
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
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/arm"
	"github.com/rekey-dev/rekey/ops"
	"github.com/rekey-dev/rekey/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	sub   = "00000000-0000-0000-0000-0000000000aa"
	token = "test-admin-token-0123456789"
	base  = "/subscriptions/" + sub + "/resourceGroups/rg1/providers/Microsoft.MachineLearningServices"
	av    = "?api-version=2024-04-01"
)

type tokenAuth struct{}

func (tokenAuth) Authenticate(_ context.Context, tok string) (rekey.Principal, error) {
	if tok != token {
		return rekey.Principal{}, rekey.Errorf(rekey.Unauthorized, "bad token")
	}
	return rekey.Principal{ID: "admin", Name: "admin", Type: "Application"}, nil
}

// env is an ARM API over a real SQLite store and operation runner.
type env struct {
	t      testing.TB
	srv    *httptest.Server
	store  *sqlite.Store
	runner *ops.Runner
	kr     *rekey.Keyring
	dbPath string
}

func newEnv(t testing.TB, mod ...func(*arm.Config)) *env {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "rekey.db")
	store, err := sqlite.Open(t.Context(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := rekey.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	runner := ops.New(store, logger)
	runner.Start(context.Background())
	cfg := arm.Config{Store: store, Keyring: kr, Auth: tokenAuth{}, Logger: logger, Wake: runner.Wake,
		GatewayURL: "http://gateway.test", MaxBody: 64 << 10}
	for _, m := range mod {
		m(&cfg)
	}
	srv := httptest.NewServer(arm.New(cfg))
	e := &env{t: t, srv: srv, store: store, runner: runner, kr: kr, dbPath: dbPath}
	t.Cleanup(func() {
		srv.Close()
		runner.Stop(context.Background())
		store.Close()
	})
	return e
}

// do sends a request with the admin token (unless headers override it).
func (e *env) do(method, path, body string, headers ...string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// must sends a request and fails unless the status is want.
func (e *env) must(want int, method, path, body string, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	resp := e.do(method, path, body, headers...)
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, data, want)
	}
	return resp, data
}

// waitOp polls an Azure-AsyncOperation URL until the operation ends.
func (e *env) waitOp(statusURL string) map[string]any {
	e.t.Helper()
	path := strings.TrimPrefix(statusURL, e.srv.URL)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		_, data := e.must(http.StatusOK, "GET", path, "")
		var st map[string]any
		json.Unmarshal(data, &st)
		if st["status"] != "Updating" {
			return st
		}
	}
	e.t.Fatalf("operation %s did not end", statusURL)
	return nil
}

func (e *env) workspace(name string) {
	e.t.Helper()
	e.must(http.StatusOK, "PUT", base+"/workspaces/"+name+av, `{"location":"eastus"}`)
}

func (e *env) endpoint(ws, name, mode string) {
	e.t.Helper()
	resp, _ := e.must(http.StatusCreated, "PUT", base+"/workspaces/"+ws+"/onlineEndpoints/"+name+av,
		`{"location":"eastus","properties":{"authMode":"`+mode+`"}}`)
	e.waitOp(resp.Header.Get("Azure-AsyncOperation"))
}

// volatile matches values that change from run to run.
var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`oe:[0-9a-f-]{36}:[0-9a-f-]{36}`), "oe:OPERATION-ID"},
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z`), "TIMESTAMP"},
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "GUID"},
	{regexp.MustCompile(`http://127\.0\.0\.1:\d+`), "https://SERVER"},
	{regexp.MustCompile(`"[0-9a-f]{32}"`), `"HEX32"`},
}

// golden compares a response (status, polling headers, indented body)
// with testdata/name.golden, rewriting it under -update.
func golden(t testing.TB, name string, resp *http.Response, body []byte) {
	t.Helper()
	var b strings.Builder
	b.WriteString(strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode) + "\n")
	for _, h := range []string{"Azure-AsyncOperation", "Location", "Retry-After", "x-ms-error-code", "WWW-Authenticate"} {
		if v := resp.Header.Get(h); v != "" {
			b.WriteString(h + ": " + v + "\n")
		}
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var out bytes.Buffer
		if err := json.Indent(&out, body, "", "  "); err != nil {
			t.Fatalf("%s: body is not JSON: %s", name, body)
		}
		b.WriteString("\n" + out.String())
	}
	got := b.String()
	// Placeholders are applied in order; GUID after operation ids.
	for _, v := range volatile {
		got = v.re.ReplaceAllString(got, v.with)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./api/arm -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (-update to accept):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}
