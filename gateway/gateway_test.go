package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/gateway"
	"github.com/rekey-dev/rekey/metrics"
	"github.com/rekey-dev/rekey/store/sqlite"
)

const sub = "00000000-0000-0000-0000-0000000000dd"

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Now()} }

// upstream is a recording model server.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
	hits atomic.Int64
}

func newUpstream(t testing.TB, name string) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		u.mu.Lock()
		u.seen = append(u.seen, r)
		u.mu.Unlock()
		u.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"upstream": name, "path": r.URL.Path, "query": r.URL.RawQuery, "body": string(body)})
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen[len(u.seen)-1]
}

// env is a gateway over a real SQLite store; resources are written
// straight into the store, as the management API would.
type env struct {
	t     testing.TB
	store *sqlite.Store
	kr    *rekey.Keyring
	gw    *gateway.Gateway
	srv   *testServer
	clock *clock
	reg   *metrics.Registry
	logs  *bytes.Buffer
	logMu *sync.Mutex
	path  string // the database file
}

type syncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func newEnv(t testing.TB, mod ...func(*gateway.Config)) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rekey.db")
	store, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	kr, _ := rekey.NewKeyring(bytes.Repeat([]byte{5}, 32))
	e := &env{t: t, store: store, kr: kr, clock: newClock(), reg: &metrics.Registry{}, logs: &bytes.Buffer{}, logMu: &sync.Mutex{}, path: path}
	cfg := gateway.Config{Source: store, Keyring: kr, Metrics: e.reg, Now: e.clock.Now, AccessLog: true,
		Logger: slog.New(slog.NewTextHandler(syncWriter{e.logMu, e.logs}, nil))}
	for _, m := range mod {
		m(&cfg)
	}
	gw, err := gateway.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	store.Watch(gw.Sync)
	e.gw = gw
	e.srv = serveGateway(t, gw)
	t.Cleanup(func() { e.srv.Close(); gw.Stop(context.Background()); store.Close() })
	return e
}

func (e *env) update(fn func(tx rekey.Tx) error) {
	e.t.Helper()
	if err := e.store.Update(context.Background(), fn); err != nil {
		e.t.Fatal(err)
	}
}

// endpoint creates an endpoint with keys and deployments (name → upstream
// URL) and traffic; it returns the primary and secondary keys.
func (e *env) endpoint(name string, mode rekey.AuthMode, props map[string]string, deps map[string]string, traffic, mirror map[string]int32) (*rekey.Endpoint, string, string) {
	e.t.Helper()
	ws := rekey.WorkspaceID{Subscription: sub, ResourceGroup: "rg", Name: "ws1"}
	ep := &rekey.Endpoint{ID: rekey.EndpointID{Workspace: ws, Name: name}, UID: rekey.NewGUID(), AuthMode: mode, Location: "eastus",
		Properties: props, Traffic: traffic, MirrorTraffic: mirror, ProvisioningState: rekey.Succeeded, PublicNetworkAccess: "Enabled"}
	p, s := rekey.NewKey(), rekey.NewKey()
	e.update(func(tx rekey.Tx) error {
		tx.PutWorkspace(&rekey.Workspace{ID: ws})
		if _, err := tx.PutEndpoint(ep); err != nil {
			return err
		}
		for dname, u := range deps {
			d := &rekey.Deployment{ID: rekey.DeploymentID{Endpoint: ep.ID, Name: dname}, ComputeType: "Managed",
				Properties: map[string]string{rekey.UpstreamProperty: u}, ProvisioningState: rekey.Succeeded}
			if _, err := tx.PutDeployment(d); err != nil {
				return err
			}
		}
		return e.putKeys(tx, ep.ID.Key(), p, s)
	})
	return ep, p, s
}

func (e *env) putKeys(tx rekey.Tx, owner, primary, secondary string) error {
	for slot, v := range map[rekey.Slot]string{rekey.Primary: primary, rekey.Secondary: secondary} {
		if v == "" {
			continue
		}
		k := e.kr.StoredKey(owner, slot, v)
		k.UpdatedAt = e.clock.Now()
		if _, err := tx.PutKey(k); err != nil {
			return err
		}
	}
	return nil
}

// rotate gives a slot a new key without grace, as regenerateKeys does.
func (e *env) rotate(owner string, slot rekey.Slot) string {
	return e.rotateGrace(owner, slot, 0)
}

// rotateGrace gives a slot a new key, the replaced one staying valid for
// grace, as regenerateKeys does with the grace period in force.
func (e *env) rotateGrace(owner string, slot rekey.Slot, grace time.Duration) string {
	v := rekey.NewKey()
	e.update(func(tx rekey.Tx) error {
		_, err := tx.PutKey(e.sealed(owner, slot, v, grace))
		return err
	})
	return v
}

// sealed is v as slot's next key of owner, changed now, the replaced key
// staying valid for grace.
func (e *env) sealed(owner string, slot rekey.Slot, v string, grace time.Duration) rekey.StoredKey {
	return e.kr.Rotate(owner, slot, v, e.clock.Now(), grace)
}

// call sends a request to the gateway; auth is the Authorization header.
func (e *env) call(method, path, auth, body string, headers ...string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func (e *env) status(path, auth string, headers ...string) int {
	e.t.Helper()
	resp, _ := e.call("POST", path, auth, `{}`, headers...)
	return resp.StatusCode
}

func TestKeyAuthAndForwarding(t *testing.T) {
	e := newEnv(t)
	up := newUpstream(t, "blue")
	_, p, s := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL + "/v1"}, map[string]int32{"blue": 100}, nil)
	_, otherKey, _ := e.endpoint("ep2", rekey.AuthKey, nil, map[string]string{"x": up.URL}, map[string]int32{"x": 100}, nil)

	resp, body := e.call("POST", "/endpoints/ep1/score?verbose=1&b=%2F", "Bearer "+p, `{"data":[1]}`, "X-Custom", "kept")
	if resp.StatusCode != 200 {
		t.Fatalf("primary = %d %s", resp.StatusCode, body)
	}
	var got map[string]string
	json.Unmarshal([]byte(body), &got)
	if got["path"] != "/v1/score" || got["query"] != "verbose=1&b=%2F" || got["body"] != `{"data":[1]}` {
		t.Errorf("upstream saw %v, want path /v1/score, the query and body untouched", got)
	}
	r := up.last()
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-Custom") != "kept" || r.Header.Get("X-Request-Id") == "" {
		t.Errorf("upstream headers: Authorization %q, X-Custom %q, X-Request-Id %q; want none, kept, set",
			r.Header.Get("Authorization"), r.Header.Get("X-Custom"), r.Header.Get("X-Request-Id"))
	}
	if resp.Header.Get("azureml-model-deployment") != "blue" || resp.Header.Get("azureml-model-session") != "blue" || len(resp.Header.Values("x-request-id")) != 1 {
		t.Errorf("response headers %v, want azureml-model-deployment and azureml-model-session blue and one x-request-id", resp.Header)
	}
	if st := e.status("/endpoints/ep1/v1/chat/completions", "Bearer "+s); st != 200 || up.last().URL.Path != "/v1/v1/chat/completions" {
		t.Errorf("secondary on an OpenAI-style path = %d (upstream path %s)", st, up.last().URL.Path)
	}
	// Every failure looks the same.
	var bodies []string
	// Failure messages name the case, never the key.
	for i, auth := range []string{"", "Bearer", "Bearer wrong-key", "Basic " + p, "Bearer " + otherKey, "bearer " + p + "x"} {
		resp, body := e.call("POST", "/endpoints/ep1/score", auth, `{}`)
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("bad credential case %d = %d, want 401 with WWW-Authenticate", i, resp.StatusCode)
		}
		bodies = append(bodies, body)
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("401 bodies differ: %q vs %q", b, bodies[0])
		}
	}
	if st := e.status("/endpoints/EP1/score", "bearer "+p); st != 200 {
		t.Errorf("endpoint name in another case, scheme in lower case = %d, want 200", st)
	}
	for i := range 3 {
		if st := e.status("/endpoints/made-up-"+string(rune('a'+i))+"/score", "Bearer "+p); st != 404 {
			t.Errorf("unknown endpoint = %d, want 404", st)
		}
	}
	rec := httptest.NewRecorder()
	e.reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if strings.Contains(rec.Body.String(), "made-up") || !strings.Contains(rec.Body.String(), `{code="404",deployment="",endpoint="(unknown)",slot="none"} 3`) {
		t.Errorf("requests for unknown endpoints must share one metrics label:\n%s", rec.Body.String())
	}
}

// TestRotationCutsOffAtOnce: a regeneration in this process is enforced on
// the very next request; the other slot never fails.
func TestRotationCutsOffAtOnce(t *testing.T) {
	// 20 refused old keys from one address would throttle it (TestBruteForce).
	e := newEnv(t, func(c *gateway.Config) { c.FailLimit = -1 })
	up := newUpstream(t, "blue")
	ep, p, s := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	stop := make(chan struct{})
	var fails, total atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // traffic on the secondary throughout
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			req, _ := http.NewRequest("POST", e.srv.URL+"/endpoints/ep1/score", strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer "+s)
			resp, err := http.DefaultClient.Do(req)
			total.Add(1)
			if err != nil || resp.StatusCode != 200 {
				fails.Add(1)
			}
			if resp != nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	for i := range 20 {
		newP := e.rotate(ep.ID.Key(), rekey.Primary)
		if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 401 {
			t.Fatalf("rotation %d: old primary = %d right after the change, want 401", i, st)
		}
		if st := e.status("/endpoints/ep1/score", "Bearer "+newP); st != 200 {
			t.Fatalf("rotation %d: new primary = %d, want 200", i, st)
		}
		p = newP
	}
	close(stop)
	wg.Wait()
	if fails.Load() != 0 || total.Load() == 0 {
		t.Errorf("secondary-key requests during 20 rotations: %d of %d failed, want 0 of many", fails.Load(), total.Load())
	}
}

func TestAMLToken(t *testing.T) {
	e := newEnv(t)
	up := newUpstream(t, "blue")
	ep, _, _ := e.endpoint("tok", rekey.AuthAMLToken, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	other, _, _ := e.endpoint("tok2", rekey.AuthAMLToken, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	e.endpoint("aad", rekey.AuthAADToken, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	tok := e.kr.IssueToken(ep.UID, e.clock.Now(), 0)
	if st := e.status("/endpoints/tok/score", "Bearer "+tok.Value); st != 200 {
		t.Errorf("token = %d, want 200", st)
	}
	if st := e.status("/endpoints/tok/score", "Bearer "+e.kr.IssueToken(other.UID, e.clock.Now(), 0).Value); st != 401 {
		t.Errorf("token of another endpoint = %d, want 401", st)
	}
	e.clock.Add(rekey.DefaultTokenLifetime + time.Second)
	if st := e.status("/endpoints/tok/score", "Bearer "+tok.Value); st != 401 {
		t.Errorf("expired token = %d, want 401", st)
	}
	resp, body := e.call("POST", "/endpoints/aad/score", "Bearer anything", "{}")
	if resp.StatusCode != 401 || !strings.Contains(body, "aad_token_auth_access_denied: this gateway has no token service") {
		t.Errorf("AADToken endpoint without a verifier = %d %s, want 401 aad_token_auth_access_denied", resp.StatusCode, body)
	}
}

func TestTrafficSplitMirrorAndPinning(t *testing.T) {
	e := newEnv(t)
	blue, green, shadow := newUpstream(t, "blue"), newUpstream(t, "green"), newUpstream(t, "shadow")
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil,
		map[string]string{"blue": blue.URL, "green": green.URL, "shadow": shadow.URL},
		map[string]int32{"blue": 70, "green": 30}, map[string]int32{"shadow": 50})
	const n = 2000
	for range n {
		resp, body := e.call("POST", "/endpoints/ep1/score", "Bearer "+p, `{"x":1}`)
		if resp.StatusCode != 200 || strings.Contains(body, "shadow") {
			t.Fatalf("request = %d %s; want 200 from a live deployment", resp.StatusCode, body)
		}
	}
	b := blue.hits.Load()
	if b < n*65/100 || b > n*75/100 || b+green.hits.Load() != n {
		t.Errorf("blue got %d of %d (green %d), want about 70%%", b, n, green.hits.Load())
	}
	e.gw.Stop(context.Background()) // waits for mirror requests
	if m := shadow.hits.Load(); m < n*45/100 || m > n*55/100 {
		t.Errorf("shadow got %d mirrored copies of %d, want about 50%%", m, n)
	}
	if shadow.last().Header.Get("Authorization") != "" || !strings.Contains(shadow.last().URL.Path, "/score") {
		t.Errorf("mirrored request: Authorization %q, path %q", shadow.last().Header.Get("Authorization"), shadow.last().URL.Path)
	}
	before := blue.hits.Load()
	for range 10 {
		if st := e.status("/endpoints/ep1/score", "Bearer "+p, "azureml-model-deployment", "SHADOW"); st != 200 {
			t.Fatalf("pinned to shadow = %d", st)
		}
	}
	if blue.hits.Load() != before {
		t.Errorf("pinned requests reached blue")
	}
	resp, body := e.call("POST", "/endpoints/ep1/score", "Bearer "+p, "{}", "azureml-model-deployment", "nope")
	if resp.StatusCode != 404 || !strings.Contains(body, "nope") {
		t.Errorf("pinned to a missing deployment = %d %s, want 404 naming it", resp.StatusCode, body)
	}
	_, p2, _ := e.endpoint("idle", rekey.AuthKey, nil, map[string]string{"blue": blue.URL}, nil, nil)
	resp, body = e.call("POST", "/endpoints/idle/score", "Bearer "+p2, "{}")
	if resp.StatusCode != 404 || !strings.Contains(body, "No valid deployments") {
		t.Errorf("endpoint without traffic = %d %s, want Azure's 404", resp.StatusCode, body)
	}
}

// TestStreaming: the first Server-Sent Event reaches the client while the
// upstream is still writing.
func TestStreaming(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("data: first\n\n"))
		w.(http.Flusher).Flush()
		<-release
		w.Write([]byte("data: last\n\n"))
	}))
	defer sse.Close()
	defer close(release)
	_, p, _ := e.endpoint("llm", rekey.AuthKey, nil, map[string]string{"vllm": sse.URL}, map[string]int32{"vllm": 100}, nil)
	req, _ := http.NewRequest("POST", e.srv.URL+"/endpoints/llm/v1/chat/completions", strings.NewReader(`{"stream":true}`))
	req.Header.Set("Authorization", "Bearer "+p)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(resp.Body).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if l != "data: first\n" {
			t.Errorf("first line = %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event did not arrive while the upstream was still streaming")
	}
}

func TestQnARuntime(t *testing.T) {
	e := newEnv(t)
	runtime := newUpstream(t, "qna-runtime")
	acc := rekey.AccountID{Subscription: sub, ResourceGroup: "rg", Name: "qna1"}
	k1, k2 := rekey.NewEndpointKey(), rekey.NewEndpointKey()
	e.update(func(tx rekey.Tx) error {
		if _, err := tx.PutAccount(&rekey.Account{ID: acc, Kind: rekey.KindQnAMaker, QnARuntimeEndpoint: runtime.URL + "/base"}); err != nil {
			return err
		}
		return e.putKeys(tx, acc.EndpointKeys(), k1, k2)
	})
	path := "/qnamaker/knowledgebases/kb-1/generateAnswer"
	for _, k := range []string{k1, k2} {
		resp, body := e.call("POST", path, "EndpointKey "+k, `{"question":"hi"}`)
		if resp.StatusCode != 200 || !strings.Contains(body, `"path":"/base/qnamaker/knowledgebases/kb-1/generateAnswer"`) {
			t.Errorf("generateAnswer = %d %s", resp.StatusCode, body)
		}
	}
	if runtime.last().Header.Get("Authorization") != "" {
		t.Errorf("the runtime saw the endpoint key")
	}
	if st := e.status("/qnamaker/knowledgebases/kb-1/train", "EndpointKey "+k1); st != 200 {
		t.Errorf("train = %d", st)
	}
	newK1 := e.rotate(acc.EndpointKeys(), rekey.Primary)
	resp, body := e.call("POST", path, "EndpointKey "+k1, "{}")
	if resp.StatusCode != 401 || !strings.Contains(body, `"code":"Unauthorized"`) {
		t.Errorf("old endpoint key after refresh = %d %s, want 401 Unauthorized", resp.StatusCode, body)
	}
	if e.status(path, "EndpointKey "+newK1) != 200 || e.status(path, "EndpointKey "+k2) != 200 {
		t.Errorf("new primary or untouched secondary refused")
	}
	if st := e.status(path, "Bearer "+k2); st != 401 {
		t.Errorf("Bearer scheme on the QnA runtime = %d, want 401", st)
	}
	if resp, _ := e.call("GET", path, "EndpointKey "+k2, ""); resp.StatusCode != 405 {
		t.Errorf("GET generateAnswer = %d, want 405", resp.StatusCode)
	}
}

// TestGracePeriod: a key rotated out with a grace period works for that
// long after the regeneration, and is counted as such.
func TestGracePeriod(t *testing.T) {
	e := newEnv(t)
	up := newUpstream(t, "blue")
	ep, p, _ := e.endpoint("ep1", rekey.AuthKey, map[string]string{rekey.GracePeriodProperty: "1m"}, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	newP := e.rotateGrace(ep.ID.Key(), rekey.Primary, time.Minute)
	if e.status("/endpoints/ep1/score", "Bearer "+p) != 200 || e.status("/endpoints/ep1/score", "Bearer "+newP) != 200 {
		t.Errorf("during the grace period both the old and the new primary must work")
	}
	e.clock.Add(61 * time.Second)
	if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 401 {
		t.Errorf("old primary after the grace period = %d, want 401", st)
	}
	if err := e.gw.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.store.View(context.Background(), func(tx rekey.Tx) error {
		u, _ := tx.KeyUsage(ep.ID.Key())
		if len(u) != 1 || u[0].Requests != 2 || u[0].GraceRequests != 1 || u[0].LastUsed.IsZero() {
			t.Errorf("usage = %+v, want 2 primary requests, 1 of them in grace", u)
		}
		return nil
	})
}

// TestPropagationDelay: with a simulated delay, the new key is refused and
// the old one accepted until the delay passes.
func TestPropagationDelay(t *testing.T) {
	e := newEnv(t, func(c *gateway.Config) { c.PropagationDelay = 5 * time.Second })
	up := newUpstream(t, "blue")
	ep, _, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	e.clock.Add(6 * time.Second) // the initial keys have propagated
	old, _ := keysOf(t, e, ep)
	newP := e.rotate(ep.ID.Key(), rekey.Primary)
	if e.status("/endpoints/ep1/score", "Bearer "+newP) != 401 || e.status("/endpoints/ep1/score", "Bearer "+old) != 200 {
		t.Errorf("within the propagation delay: want the new key refused and the old one accepted")
	}
	e.clock.Add(5 * time.Second)
	if e.status("/endpoints/ep1/score", "Bearer "+newP) != 200 || e.status("/endpoints/ep1/score", "Bearer "+old) != 401 {
		t.Errorf("after the propagation delay: want the new key accepted and the old one refused")
	}
}

func keysOf(t *testing.T, e *env, ep *rekey.Endpoint) (string, string) {
	var pair rekey.KeyPair
	e.store.View(context.Background(), func(tx rekey.Tx) error {
		ks, err := tx.Keys(ep.ID.Key())
		if err == nil {
			pair, err = e.kr.OpenPair(ks)
		}
		return err
	})
	return pair.Primary, pair.Secondary
}

// TestBruteForce: once an address reaches the limit, all its requests get
// 429 with Retry-After, without their key being checked (a right key
// too), until the penalty ends.
func TestBruteForce(t *testing.T) {
	e := newEnv(t, func(c *gateway.Config) { c.FailLimit, c.FailWindow = 5, 10*time.Second })
	up := newUpstream(t, "blue")
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	for i := range 5 {
		if st := e.status("/endpoints/ep1/score", "Bearer guess"); st != 401 {
			t.Fatalf("failure %d = %d, want 401", i+1, st)
		}
	}
	resp, _ := e.call("POST", "/endpoints/ep1/score", "Bearer guess", "{}")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "10" {
		t.Errorf("6th failure = %d (Retry-After %q), want 429 with Retry-After 10", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	resp, body := e.call("POST", "/endpoints/ep1/score", "Bearer "+p, "{}")
	if resp.StatusCode != 429 || !strings.Contains(body, "throttled") || !strings.Contains(body, "Retry after 10 seconds") || up.hits.Load() != 0 {
		t.Errorf("valid key from a throttled address = %d %s (upstream hits %d), want 429 saying so, and nothing forwarded", resp.StatusCode, body, up.hits.Load())
	}
	e.clock.Add(11 * time.Second)
	if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 200 {
		t.Errorf("valid key after the penalty = %d, want 200", st)
	}
	if st := e.status("/endpoints/ep1/score", "Bearer guess"); st != 401 {
		t.Errorf("failure after the window = %d, want 401", st)
	}
}

func TestUpstreamFailures(t *testing.T) {
	e := newEnv(t, func(c *gateway.Config) { c.ResponseHeaderTimeout, c.MaxRequestBody = 200*time.Millisecond, 1024 })
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(2 * time.Second) }))
	defer slow.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	up := newUpstream(t, "ok")
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"slow": slow.URL, "dead": dead.URL, "ok": up.URL}, map[string]int32{"ok": 100}, nil)
	for _, tt := range []struct {
		pin  string
		want int
	}{{"dead", 502}, {"slow", 504}} {
		resp, body := e.call("POST", "/endpoints/ep1/score", "Bearer "+p, "{}", "azureml-model-deployment", tt.pin)
		if resp.StatusCode != tt.want || !strings.Contains(body, tt.pin) {
			t.Errorf("%s upstream = %d %s, want %d naming the deployment", tt.pin, resp.StatusCode, body, tt.want)
		}
	}
	if resp, _ := e.call("POST", "/endpoints/ep1/score", "Bearer "+p, strings.Repeat("x", 2048)); resp.StatusCode != 413 {
		t.Errorf("oversized body = %d, want 413", resp.StatusCode)
	}
	if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 200 {
		t.Errorf("healthy deployment after the failures = %d, want 200", st)
	}
}

// TestChangesFromAnotherProcess: a key changed through another store
// handle (as by a management process) is picked up by Sync.
func TestChangesFromAnotherProcess(t *testing.T) {
	e := newEnv(t)
	up := newUpstream(t, "blue")
	ep, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	second, err := sqlite.Open(context.Background(), e.path) // same file, a handle without the gateway's watcher
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	newP := rekey.NewKey()
	if err := second.Update(context.Background(), func(tx rekey.Tx) error {
		k := e.kr.StoredKey(ep.ID.Key(), rekey.Primary, newP)
		k.UpdatedAt = e.clock.Now()
		_, err := tx.PutKey(k)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if st := e.status("/endpoints/ep1/score", "Bearer "+p); st != 200 {
		t.Fatalf("before the gateway syncs, the old key = %d (the change came from elsewhere)", st)
	}
	e.gw.Sync()
	if e.status("/endpoints/ep1/score", "Bearer "+p) != 401 || e.status("/endpoints/ep1/score", "Bearer "+newP) != 200 {
		t.Errorf("after Sync: want the old key refused and the new one accepted")
	}
}

// TestNoSecretsInLogsOrMetrics: keys and tokens never reach the logs or
// the metrics exposition.
func TestNoSecretsInLogsOrMetrics(t *testing.T) {
	e := newEnv(t)
	up := newUpstream(t, "blue")
	_, p, s := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	e.status("/endpoints/ep1/score", "Bearer "+p)
	e.status("/endpoints/ep1/score", "Bearer "+s+"-wrong")
	rec := httptest.NewRecorder()
	e.reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	e.logMu.Lock()
	logs := e.logs.String()
	e.logMu.Unlock()
	if !strings.Contains(logs, "gateway request") || !strings.Contains(rec.Body.String(), "rekey_gateway_requests_total") {
		t.Fatalf("no access log or no metrics: the check would prove nothing")
	}
	for _, secret := range []string{p, s} {
		if strings.Contains(logs, secret) || strings.Contains(rec.Body.String(), secret) {
			t.Errorf("a key appears in the logs or metrics")
		}
	}
}

// An AMLToken bounds what it admits as an AADToken does: a stream ends
// when the token expires, and a request whose upstream has not answered
// by then gets 401 (it used to run on for as long as the upstream did).
func TestAMLTokenExpiresMidRequest(t *testing.T) {
	const left = 3 * time.Second
	e := newEnv(t)
	streaming := tokenStream(t)
	ep, _, _ := e.endpoint("tok", rekey.AuthAMLToken, nil, map[string]string{"s": streaming.URL}, map[string]int32{"s": 100}, nil)
	// The gateway's clock runs behind real time, so that the token, valid
	// on that clock, expires about left from now in real time.
	e.clock.mu.Lock()
	e.clock.t = time.Now().Add(-rekey.DefaultTokenLifetime + left)
	e.clock.mu.Unlock()
	issued := time.Now()
	tok := e.kr.IssueToken(ep.UID, e.clock.Now(), 0).Value

	type result struct {
		status int
		body   string
	}
	slow := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", e.srv.URL+"/endpoints/tok/slow", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+tok)
		// Bounded, so that a gateway that never ends it fails the test
		// instead of hanging it.
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			slow <- result{0, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- result{resp.StatusCode, string(b)}
	}()
	start := time.Now()
	req, _ := http.NewRequest("POST", e.srv.URL+"/endpoints/tok/stream", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == 401 && time.Since(issued) >= left-time.Second {
		t.Skip("the machine is too slow: the token expired before the stream began")
	}
	if took := time.Since(start); resp.StatusCode != 200 || err == nil || took > 8*time.Second {
		t.Errorf("stream: status %d, read error %v after %v; want 200, cut off with an error around %v", resp.StatusCode, err, took, left)
	}
	if r := <-slow; r.status != 401 || !strings.Contains(r.body, "aml_token_auth_access_denied: the token expired while the request was in progress") {
		t.Errorf("upstream slower than the token = %d %s, want 401 naming the expiry", r.status, r.body)
	}
}
