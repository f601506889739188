package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/gateway"
	"github.com/rekey-dev/rekey/identity"
	"github.com/rekey-dev/rekey/store/sqlite"
)

const aadTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// mlTokens is what cmd/rekey wires into the gateway: the token service's
// Verifier for Azure ML's audience, its refusals as rekey.Unauthorized.
type mlTokens struct{ v *identity.Verifier }

func (m mlTokens) VerifyToken(ctx context.Context, token string) (time.Time, error) {
	c, err := m.v.Verify(ctx, token)
	if err != nil {
		if _, refused := identity.ErrReason(err); refused {
			return time.Time{}, &rekey.Error{Code: rekey.Unauthorized, Message: err.Error()}
		}
		return time.Time{}, err
	}
	return time.Unix(c.Expires, 0).Add(identity.Skew), nil
}

// tokenService is a real token service on its own HTTP listener.
type tokenService struct {
	svc   *identity.Service
	srv   *httptest.Server
	creds identity.Credentials
}

func newTokenService(t *testing.T, store rekey.Store, kr *rekey.Keyring, tenant string, now func() time.Time) *tokenService {
	t.Helper()
	svc, err := identity.New(t.Context(), identity.Config{Store: store, Keyring: kr, Tenant: tenant, Lifetime: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := svc.CreateServicePrincipal(t.Context(), "scorer-"+tenant[:4], "", "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return &tokenService{svc: svc, srv: srv, creds: creds}
}

// token asks for a v1 token (resource=) through the AD FS endpoint.
func (ts *tokenService) token(t *testing.T, resource string) string {
	t.Helper()
	resp, err := http.PostForm(ts.srv.URL+"/adfs/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {ts.creds.AppID}, "client_secret": {ts.creds.Password}, "resource": {resource}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 200 || body.AccessToken == "" {
		t.Fatalf("token for %s: %d %s", resource, resp.StatusCode, body.Error)
	}
	return body.AccessToken
}

// aadEnv is a gateway whose AADToken endpoints verify the tokens of a
// token service on the same store, sharing the test clock.
func aadEnv(t *testing.T, start time.Time) (*env, *tokenService) {
	t.Helper()
	var tokens mlTokens
	e := newEnv(t, func(c *gateway.Config) { c.Tokens = &tokens })
	e.clock.t = start
	ts := newTokenService(t, e.store, e.kr, aadTenant, e.clock.Now)
	tokens.v = ts.svc.Verifier(identity.MLAudiences)
	return e, ts
}

func TestAADToken(t *testing.T) {
	e, ts := aadEnv(t, time.Now())
	up := newUpstream(t, "blue")
	e.endpoint("aad", rekey.AuthAADToken, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	_, key, _ := e.endpoint("keyed", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)

	ml := ts.token(t, "https://ml.azure.com")
	resp, body := e.call("POST", "/endpoints/aad/score", "Bearer "+ml, "{}")
	if resp.StatusCode != 200 {
		t.Fatalf("token for https://ml.azure.com = %d %s, want 200", resp.StatusCode, body)
	}
	if up.last().Header.Get("Authorization") != "" {
		t.Error("the token was forwarded upstream")
	}
	if st := e.status("/endpoints/aad/score", "Bearer "+ts.token(t, "https://ml.azure.com/")); st != 200 {
		t.Errorf("token for https://ml.azure.com/ (trailing slash) = %d, want 200", st)
	}

	// Another rekey server: its own store, so its own signing key.
	otherStore, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { otherStore.Close() })
	other := newTokenService(t, otherStore, e.kr, aadTenant, e.clock.Now)
	// Another tenant on this server's store: a published key, the wrong issuer.
	otherTenant := newTokenService(t, e.store, e.kr, "11111111-2222-4333-8444-555555555555", e.clock.Now)

	parts := strings.Split(ml, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	for _, tc := range []struct {
		name, auth, want string
	}{
		{"no token", "", "https://ml.azure.com/.default"},
		{"not a JWT", "Bearer not-a-token", "not a well-formed JWT"},
		{"wrong audience", "Bearer " + ts.token(t, "https://management.azure.com/"), "wrong audience"},
		{"bad signature", "Bearer " + tampered, "signature does not verify"},
		{"another server", "Bearer " + other.token(t, "https://ml.azure.com"), "not one this server publishes"},
		{"wrong issuer", "Bearer " + otherTenant.token(t, "https://ml.azure.com"), "issuer"},
		{"EndpointKey scheme", "EndpointKey " + ml, "https://ml.azure.com/.default"},
	} {
		resp, body := e.call("POST", "/endpoints/aad/score", tc.auth, "{}")
		var got struct{ Message string }
		json.Unmarshal([]byte(body), &got)
		if resp.StatusCode != 401 || !strings.HasPrefix(got.Message, "aad_token_auth_access_denied: ") || !strings.Contains(got.Message, tc.want) {
			t.Errorf("%s: %d %q, want 401 with a message starting aad_token_auth_access_denied: and naming %q", tc.name, resp.StatusCode, got.Message, tc.want)
		}
		if resp.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("%s: WWW-Authenticate %q, want Bearer", tc.name, resp.Header.Get("WWW-Authenticate"))
		}
		if strings.Contains(body, "eyJ") {
			t.Errorf("%s: the answer repeats the token", tc.name)
		}
	}

	// A key endpoint does not take tokens, nor an AADToken endpoint keys.
	if st := e.status("/endpoints/keyed/score", "Bearer "+ml); st != 401 {
		t.Errorf("AAD token on a Key endpoint = %d, want 401", st)
	}
	if st := e.status("/endpoints/aad/score", "Bearer "+key); st != 401 {
		t.Errorf("endpoint key on an AADToken endpoint = %d, want 401", st)
	}

	// Past exp plus the verifiers' skew, the cached token is refused too.
	e.clock.Add(time.Hour + identity.Skew + time.Second)
	resp, body = e.call("POST", "/endpoints/aad/score", "Bearer "+ml, "{}")
	if resp.StatusCode != 401 || !strings.Contains(body, "aad_token_auth_access_denied: The access token expiry") {
		t.Errorf("expired token = %d %s, want 401 aad_token_auth_access_denied: The access token expiry…", resp.StatusCode, body)
	}
	if strings.Contains(e.logs.String(), "eyJ") {
		t.Error("the gateway log holds a token")
	}
}

// A stream admitted with a token ends when the token expires; a request
// whose upstream has not answered by then gets 401.
func TestAADTokenExpiresMidRequest(t *testing.T) {
	// The test clock is set behind real time so that a token issued on it
	// expires (with the skew) left from now in real time.
	const left = 3 * time.Second
	e, ts := aadEnv(t, time.Now())
	streaming := tokenStream(t)
	e.endpoint("aad", rekey.AuthAADToken, nil, map[string]string{"s": streaming.URL}, map[string]int32{"s": 100}, nil)
	// Set the clock just before the token is issued, so that a slow
	// set-up does not eat into its real-time lifetime.
	e.clock.mu.Lock()
	e.clock.t = time.Now().Add(-time.Hour - identity.Skew + left)
	e.clock.mu.Unlock()
	issued := time.Now()
	tok := ts.token(t, "https://ml.azure.com")

	// The slow request and the stream run together, so both see the
	// token expire.
	type result struct {
		status int
		body   string
	}
	slow := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", e.srv.URL+"/endpoints/aad/slow", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- result{0, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- result{resp.StatusCode, string(b)}
	}()
	start := time.Now()
	req, _ := http.NewRequest("POST", e.srv.URL+"/endpoints/aad/stream", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == 401 && time.Since(issued) >= left {
		t.Skip("the machine is too slow: the token expired before the stream began")
	}
	if took := time.Since(start); resp.StatusCode != 200 || err == nil || took > 8*time.Second {
		t.Errorf("stream: status %d, read error %v after %v; want 200, cut off with an error around %v", resp.StatusCode, err, took, left)
	}
	if r := <-slow; r.status != 401 || !strings.Contains(r.body, "expired while the request was in progress") {
		t.Errorf("upstream slower than the token = %d %s, want 401 naming the expiry", r.status, r.body)
	}
}

// brokenTokens is a verifier whose key source fails.
type brokenTokens struct{}

func (brokenTokens) VerifyToken(context.Context, string) (time.Time, error) {
	return time.Time{}, errors.New("signing keys: database is locked")
}

// A verifier that cannot read its keys is the server's failure: 503,
// without the internal error, and not counted as a failed sign-in.
func TestAADTokenVerifierFails(t *testing.T) {
	e := newEnv(t, func(c *gateway.Config) { c.Tokens = brokenTokens{}; c.FailLimit = 1 })
	up := newUpstream(t, "blue")
	e.endpoint("aad", rekey.AuthAADToken, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	for range 3 {
		resp, body := e.call("POST", "/endpoints/aad/score", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig", "{}")
		if resp.StatusCode != 503 || strings.Contains(body, "database") || !strings.Contains(body, "retry") {
			t.Fatalf("verifier failure = %d %s, want 503 asking to retry, without the internal error", resp.StatusCode, body)
		}
	}
}

// countingStore counts reads of the signing keys.
type countingStore struct {
	rekey.Store
	reads *atomic.Int64
}

func (s countingStore) View(ctx context.Context, fn func(rekey.Tx) error) error {
	return s.Store.View(ctx, func(tx rekey.Tx) error { return fn(countingTx{tx, s.reads}) })
}

type countingTx struct {
	rekey.Tx
	reads *atomic.Int64
}

func (tx countingTx) SigningKeys() ([]*rekey.SigningKey, error) {
	tx.reads.Add(1)
	return tx.Tx.SigningKeys()
}

// Tokens naming signing keys the server does not have cannot make the
// gateway read the store per request: the verifier reloads its keys at
// most once a second for unknown kids (and every 2 s for staleness).
func TestAADTokenUnknownKIDsDoNotReadTheStore(t *testing.T) {
	var tokens mlTokens
	e := newEnv(t, func(c *gateway.Config) { c.Tokens = &tokens; c.FailLimit = -1 })
	reads := &atomic.Int64{}
	ts := newTokenService(t, countingStore{e.store, reads}, e.kr, aadTenant, time.Now)
	tokens.v = ts.svc.Verifier(identity.MLAudiences)
	up := newUpstream(t, "blue")
	e.endpoint("aad", rekey.AuthAADToken, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	good := ts.token(t, "https://ml.azure.com")
	parts := strings.Split(good, ".")

	before, start := reads.Load(), time.Now()
	const n = 200
	for i := range n {
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"made-up-` + strconv.Itoa(i) + `","typ":"JWT"}`))
		resp, body := e.call("POST", "/endpoints/aad/score", "Bearer "+header+"."+parts[1]+"."+parts[2], "{}")
		if resp.StatusCode != 401 || !strings.Contains(body, "not one this server publishes") {
			t.Fatalf("token with an unknown kid = %d %s, want 401", resp.StatusCode, body)
		}
	}
	took := time.Since(start)
	// One forced reload per second, one staleness reload per 2 s, and one
	// of each at the start.
	if got, limit := reads.Load()-before, int64(took/time.Second)*2+2; got > limit {
		t.Errorf("%d tokens with unknown kids in %v read the signing keys %d times, want at most %d", n, took.Round(time.Millisecond), got, limit)
	}
}

// tokenStream is an upstream for tests of a credential that expires
// mid-request: /slow answers only when released (at cleanup) or when the
// gateway hangs up; any other path streams 10 s of events, unless the
// gateway cuts it off.
func tokenStream(t *testing.T) *httptest.Server {
	release := make(chan struct{})
	streaming := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // from here on, r's context ends when the gateway hangs up
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		for range 50 {
			io.WriteString(w, "data: tick\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-time.After(200 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(streaming.Close)
	t.Cleanup(func() { close(release) }) // runs first
	return streaming
}
