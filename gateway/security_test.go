package gateway_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/gateway"
)

// paths returns the escaped paths an upstream has seen.
func (u *upstream) paths() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for _, r := range u.seen {
		out = append(out, r.URL.EscapedPath())
	}
	return out
}

// dotSegments reports whether p, decoded up to three times, has a "." or
// ".." segment between '/' or '\'. It is the test's own reading, apart
// from the gateway's.
func dotSegments(p string) bool {
	for range 4 {
		for _, seg := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
			seg, _, _ = strings.Cut(seg, ";")
			if seg == "." || seg == ".." {
				return true
			}
		}
		u, err := url.PathUnescape(p)
		if err != nil {
			return false
		}
		p = u
	}
	return false
}

// within reports whether the escaped path p stays below base, however an
// upstream resolves it.
func within(p, base string) bool {
	return strings.HasPrefix(p, base) && !dotSegments(p)
}

// TestDotSegmentsRefused: a path below the prefix with a dot segment in
// any spelling is refused with 400, and neither the live upstream nor a
// mirror sees anything; paths with dots that are not segments pass.
func TestDotSegmentsRefused(t *testing.T) {
	e := newEnv(t)
	up, shadow := newUpstream(t, "blue"), newUpstream(t, "shadow")
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL + "/base/", "shadow": shadow.URL + "/mirror/"},
		map[string]int32{"blue": 100}, map[string]int32{"shadow": 100})
	for _, path := range []string{
		"/endpoints/ep1/../../other/secret",
		"/endpoints/ep1/%2e%2e/%2e%2e/other/secret",
		"/endpoints/ep1/%2E%2E/other",
		"/endpoints/ep1/..%2f..%2fother/secret",
		"/endpoints/ep1/..%2F..%2Fother/secret",
		"/endpoints/ep1/.%2E/other",
		"/endpoints/ep1/%2e./other",
		"/endpoints/ep1/x/%2e/y",
		"/endpoints/ep1/score/..",
		"/endpoints/ep1/score/%2e%2e",
		"/endpoints/ep1/score/.",
		"/endpoints/ep1/a%2f..%2f..%2fb",
		"/endpoints/ep1/%252e%252e/other",
		"/endpoints/ep1/..%5cother",
		"/endpoints/ep1/..\\other",
		"/endpoints/ep1/..;x/other",
		"/endpoints/ep1/./score",
	} {
		resp, body := e.call("POST", path, "Bearer "+p, "{}")
		if resp.StatusCode != 400 || !strings.Contains(body, `"message":`) || !strings.Contains(body, "'..'") {
			t.Errorf("POST %s = %d %s, want 400 with a message about dot segments", path, resp.StatusCode, body)
		}
	}
	e.gw.Stop(context.Background()) // waits for mirror copies
	if up.hits.Load() != 0 || shadow.hits.Load() != 0 {
		t.Errorf("the upstream saw %q and the mirror %q; want nothing", up.paths(), shadow.paths())
	}
}

// TestUpstreamPathStaysBelowBase: paths the gateway forwards are appended
// to the upstream's base path as they are, for live and mirrored
// requests alike; dots that are not segments and encoded slashes pass.
func TestUpstreamPathStaysBelowBase(t *testing.T) {
	e := newEnv(t)
	up, shadow := newUpstream(t, "blue"), newUpstream(t, "shadow")
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL + "/base/", "shadow": shadow.URL + "/mirror"},
		map[string]int32{"blue": 100}, map[string]int32{"shadow": 100})
	for _, tt := range []struct{ path, live, mirror string }{
		{"/endpoints/ep1/score", "/base/score", "/mirror/score"},
		{"/endpoints/ep1", "/base/", "/mirror/"},
		{"/endpoints/ep1/v1/models/a..b/file.v2.json", "/base/v1/models/a..b/file.v2.json", "/mirror/v1/models/a..b/file.v2.json"},
		{"/endpoints/ep1/v1/a%2Fb/...", "/base/v1/a%2Fb/...", "/mirror/v1/a%2Fb/..."},
	} {
		if resp, body := e.call("POST", tt.path, "Bearer "+p, "{}"); resp.StatusCode != 200 {
			t.Fatalf("POST %s = %d %s", tt.path, resp.StatusCode, body)
		}
		if got := up.last().URL.EscapedPath(); got != tt.live {
			t.Errorf("POST %s: upstream path %q, want %q", tt.path, got, tt.live)
		}
		e.gw.Stop(context.Background())
		if got := shadow.last().URL.EscapedPath(); got != tt.mirror {
			t.Errorf("POST %s: mirror path %q, want %q", tt.path, got, tt.mirror)
		}
	}
	for _, got := range up.paths() {
		if !within(got, "/base/") {
			t.Errorf("the upstream saw %q, outside /base/", got)
		}
	}
}

// TestMirrorDoesNotFollowRedirects: a mirror's redirect is not followed.
func TestMirrorDoesNotFollowRedirects(t *testing.T) {
	e := newEnv(t)
	up := newUpstream(t, "blue")
	var elsewhere, mirrored atomic.Int64
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/mirror/") {
			mirrored.Add(1)
			http.Redirect(w, r, "/other/secret", http.StatusTemporaryRedirect)
			return
		}
		elsewhere.Add(1)
	}))
	defer redirector.Close()
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL, "shadow": redirector.URL + "/mirror/"},
		map[string]int32{"blue": 100}, map[string]int32{"shadow": 100})
	if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 200 {
		t.Fatalf("live request = %d", st)
	}
	e.gw.Stop(context.Background())
	if mirrored.Load() != 1 || elsewhere.Load() != 0 {
		t.Errorf("mirror got %d copies and its redirect target %d requests; want 1 and 0", mirrored.Load(), elsewhere.Load())
	}
	rec := httptest.NewRecorder()
	e.reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `rekey_gateway_mirrored_total{code="307",deployment="shadow",endpoint="ep1"} 1`) {
		t.Errorf("the mirror's redirect is not counted as its answer:\n%s", rec.Body.String())
	}
}

// TestCredentialsNotForwarded: no header or query parameter that can
// carry a credential reaches an upstream or a mirror, in any case; the
// rest of the request passes untouched.
func TestCredentialsNotForwarded(t *testing.T) {
	e := newEnv(t)
	up, shadow := newUpstream(t, "blue"), newUpstream(t, "shadow")
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL, "shadow": shadow.URL},
		map[string]int32{"blue": 100}, map[string]int32{"shadow": 100})
	for _, query := range []string{
		"subscription-key=" + p + "&a=1",
		"a=1&Subscription-Key=" + p,
		"subscription%2Dkey=" + p + "&a=1",
		"a=1&subscription-key=" + p + "&subscription-key=" + p,
	} {
		resp, body := e.call("POST", "/endpoints/ep1/score?"+query, "Bearer "+p, "{}",
			"api-key", p, "Ocp-Apim-Subscription-Key", p, "X-Kept", "yes")
		if resp.StatusCode != 200 {
			t.Fatalf("request = %d %s", resp.StatusCode, body)
		}
		e.gw.Stop(context.Background())
		for name, u := range map[string]*upstream{"upstream": up, "mirror": shadow} {
			r := u.last()
			for _, h := range []string{"Authorization", "Api-Key", "Ocp-Apim-Subscription-Key"} {
				if r.Header.Get(h) != "" {
					t.Errorf("the %s got header %s", name, h)
				}
			}
			if strings.Contains(r.URL.RawQuery, p) || r.URL.Query().Get("a") != "1" || r.Header.Get("X-Kept") != "yes" {
				t.Errorf("the %s got query with the key %v, a=%q, X-Kept %q; want no key, a=1, yes", name, strings.Contains(r.URL.RawQuery, p), r.URL.Query().Get("a"), r.Header.Get("X-Kept"))
			}
		}
	}
	// The header in other spellings (net/http canonicalises what it parses).
	req, _ := http.NewRequest("POST", e.srv.URL+"/endpoints/ep1/score", strings.NewReader("{}"))
	req.Header["authorization"] = []string{"Bearer " + p}
	req.Header["API-KEY"] = []string{p}
	req.Header["ocp-apim-subscription-key"] = []string{p}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e.gw.Stop(context.Background())
	for name, u := range map[string]*upstream{"upstream": up, "mirror": shadow} {
		for h, v := range u.last().Header {
			if strings.Contains(strings.Join(v, ","), p) {
				t.Errorf("the %s got the key in header %s", name, h)
			}
		}
	}
}

// TestQnARuntimeCredentialsAndPaths: the QnA runtime forwards no
// credential either, refuses dot segments with its own envelope, and its
// 401 advertises its own scheme.
func TestQnARuntimeCredentialsAndPaths(t *testing.T) {
	e := newEnv(t)
	runtime := newUpstream(t, "qna-runtime")
	acc := rekey.AccountID{Subscription: sub, ResourceGroup: "rg", Name: "qna1"}
	k1 := rekey.NewEndpointKey()
	e.update(func(tx rekey.Tx) error {
		if _, err := tx.PutAccount(&rekey.Account{ID: acc, Kind: rekey.KindQnAMaker, QnARuntimeEndpoint: runtime.URL + "/base"}); err != nil {
			return err
		}
		return e.putKeys(tx, acc.EndpointKeys(), k1, "")
	})
	resp, body := e.call("POST", "/qnamaker/knowledgebases/kb-1/generateAnswer?subscription-key="+k1+"&x=1", "EndpointKey "+k1, "{}",
		"api-key", k1, "Ocp-Apim-Subscription-Key", k1)
	if resp.StatusCode != 200 {
		t.Fatalf("generateAnswer = %d %s", resp.StatusCode, body)
	}
	r := runtime.last()
	if r.Header.Get("Authorization")+r.Header.Get("Api-Key")+r.Header.Get("Ocp-Apim-Subscription-Key") != "" || strings.Contains(r.URL.RawQuery, k1) || r.URL.RawQuery != "x=1" {
		t.Errorf("the runtime got a credential (query %q)", strings.ReplaceAll(r.URL.RawQuery, k1, "<key>"))
	}
	for _, path := range []string{
		"/qnamaker/knowledgebases/../generateAnswer",
		"/qnamaker/knowledgebases/%2e%2e/generateAnswer",
		"/qnamaker/knowledgebases/.%2E/train",
	} {
		resp, body := e.call("POST", path, "EndpointKey "+k1, "{}")
		if resp.StatusCode != 400 || !strings.Contains(body, `"code":"BadArgument"`) {
			t.Errorf("POST %s = %d %s, want 400 BadArgument", path, resp.StatusCode, body)
		}
	}
	if runtime.hits.Load() != 1 {
		t.Errorf("the runtime saw %d requests, want 1: %q", runtime.hits.Load(), runtime.paths())
	}
	resp, _ = e.call("POST", "/qnamaker/knowledgebases/kb-1/generateAnswer", "EndpointKey wrong", "{}")
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "EndpointKey" {
		t.Errorf("QnA runtime 401: %d with WWW-Authenticate %q, want 401 with EndpointKey", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// clientFrom is an HTTP client whose connections come from ip, another
// loopback address, so the gateway sees a second client address.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestThrottleBeforeKeyCheck: a throttled address gets 429 on the scoring
// and QnA runtime paths whatever key it sends, while another address with
// a valid key is unaffected.
func TestThrottleBeforeKeyCheck(t *testing.T) {
	e := newEnv(t, func(c *gateway.Config) { c.FailLimit, c.FailWindow = 20, 10*time.Second })
	up := newUpstream(t, "blue")
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	acc := rekey.AccountID{Subscription: sub, ResourceGroup: "rg", Name: "qna1"}
	k1 := rekey.NewEndpointKey()
	e.update(func(tx rekey.Tx) error {
		if _, err := tx.PutAccount(&rekey.Account{ID: acc, Kind: rekey.KindQnAMaker, QnARuntimeEndpoint: up.URL}); err != nil {
			return err
		}
		return e.putKeys(tx, acc.EndpointKeys(), k1, "")
	})
	// 20 wrong guesses, then 200 more with the right key among them.
	var codes [600]int
	for i := range 220 {
		key := "guess"
		if i == 150 {
			key = p
		}
		codes[e.status("/endpoints/ep1/score", "Bearer "+key)]++
	}
	if codes[401] != 20 || codes[429] != 200 || up.hits.Load() != 0 {
		t.Errorf("220 guesses with the right key 151st: %d×401, %d×429, %d×200; want 20, 200, 0", codes[401], codes[429], codes[200])
	}
	resp, body := e.call("POST", "/qnamaker/knowledgebases/kb/generateAnswer", "EndpointKey "+k1, "{}")
	if resp.StatusCode != 429 || !strings.Contains(body, `"code":"QuotaExceeded"`) || resp.Header.Get("Retry-After") == "" {
		t.Errorf("right QnA endpoint key from the throttled address = %d %s, want 429 QuotaExceeded with Retry-After", resp.StatusCode, body)
	}
	// Another address is not throttled.
	other := clientFrom("127.0.0.2")
	req, _ := http.NewRequest("POST", e.srv.URL+"/endpoints/ep1/score", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+p)
	r2, err := other.Do(req)
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	io.Copy(io.Discard, r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 200 {
		t.Errorf("valid key from another address = %d, want 200", r2.StatusCode)
	}
	e.clock.Add(10 * time.Second)
	if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 200 {
		t.Errorf("valid key after the penalty = %d, want 200", st)
	}
}

// TestTruncatedResponse: a response cut off at MaxResponseBody is counted
// and logged as truncated, not as a 200; one of exactly the limit is not
// cut off.
func TestTruncatedResponse(t *testing.T) {
	const limit = 1000
	e := newEnv(t, func(c *gateway.Config) { c.MaxResponseBody = limit })
	var size atomic.Int64
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", int(size.Load()))))
	}))
	defer big.Close()
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"big": big.URL}, map[string]int32{"big": 100}, nil)
	for _, n := range []int64{limit, 50_000} {
		size.Store(n)
		req, _ := http.NewRequest("POST", e.srv.URL+"/endpoints/ep1/score", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+p)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if n == limit && (err != nil || len(got) != limit) {
			t.Errorf("body of exactly the limit: read %d bytes, %v; want %d, no error", len(got), err, limit)
		}
		if n > limit && err == nil && len(got) == int(n) {
			t.Errorf("body over the limit arrived whole")
		}
	}
	rec := httptest.NewRecorder()
	e.reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	metrics := rec.Body.String()
	if !strings.Contains(metrics, `rekey_gateway_requests_total{code="truncated",deployment="big",endpoint="ep1",slot="primary"} 1`) ||
		!strings.Contains(metrics, `rekey_gateway_requests_total{code="200",deployment="big",endpoint="ep1",slot="primary"} 1`) {
		t.Errorf("want one request counted as 200 and one as truncated:\n%s", metrics)
	}
	e.logMu.Lock()
	logs := e.logs.String()
	e.logMu.Unlock()
	if strings.Count(logs, "truncated=true") != 1 || !strings.Contains(logs, "cut off") {
		t.Errorf("want one access-log line with truncated=true and a warning:\n%s", logs)
	}
}

// TestDeclaredOversizedResponse: an upstream whose Content-Length is
// already over the limit gets the client a 502 with a JSON body, not a
// status line followed by nothing (found in review).
func TestDeclaredOversizedResponse(t *testing.T) {
	const limit = 1000
	e := newEnv(t, func(c *gateway.Config) { c.MaxResponseBody = limit })
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "50000")
		w.Write([]byte(strings.Repeat("x", 50000)))
	}))
	defer big.Close()
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"big": big.URL}, map[string]int32{"big": 100}, nil)
	req, _ := http.NewRequest("POST", e.srv.URL+"/endpoints/ep1/score", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+p)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the client got no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "larger than this gateway's limit") {
		t.Errorf("oversized declared response = %d %q, want 502 naming the limit", resp.StatusCode, body)
	}
}
