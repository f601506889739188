package arm_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekey-dev/rekey/api/arm"
	"github.com/rekey-dev/rekey/identity"
)

const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestTokenAuth drives the ARM API with tokens from a real token service:
// accepted ones name the service principal in systemData; refused ones get
// ARM's code for the reason and its WWW-Authenticate challenge.
func TestTokenAuth(t *testing.T) {
	clock := &testClock{t: time.Now().Truncate(time.Second)}
	auth := &lateAuth{}
	e := newEnv(t, func(c *arm.Config) {
		c.Tenant = tenant
		c.Now = clock.now
		c.Auth = auth
	})
	svc, err := identity.New(t.Context(), identity.Config{Store: e.store, Keyring: e.kr, Tenant: tenant, Now: clock.now, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := svc.CreateServicePrincipal(t.Context(), "ci", "", "")
	if err != nil {
		t.Fatal(err)
	}
	auth.Authenticator = identity.Authenticator{Verifier: svc.Verifier(identity.ARMAudiences), Opaque: tokenAuth{}}
	e2 := e
	ts := httptest.NewServer(svc.Handler())
	defer ts.Close()
	tok := func(scope string) string {
		resp, err := http.PostForm(ts.URL+"/"+tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {creds.AppID}, "client_secret": {creds.Password}, "scope": {scope}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&b)
		return b.AccessToken
	}
	arm := tok("https://management.azure.com/.default")
	ml := tok("https://ml.azure.com/.default")

	resp := e2.do("PUT", base+"/workspaces/ws1"+av, `{"location":"westeurope"}`, "Authorization", "Bearer "+arm)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || !strings.Contains(string(body), `"createdBy":"`+creds.AppID+`","createdByType":"Application"`) {
		t.Errorf("PUT with a service principal's token: %d, want success with systemData naming appId %s as Application:\n%s", resp.StatusCode, creds.AppID, body)
	}

	for _, tc := range []struct {
		name, token string
		skip        time.Duration
		code        string
	}{
		{"token_wrong_audience", ml, 0, "InvalidAuthenticationTokenAudience"},
		{"token_expired", arm, time.Hour + identity.Skew, "ExpiredAuthenticationToken"},
		{"token_not_yet_valid", arm, -identity.Skew - time.Minute, "InvalidAuthenticationToken"},
		{"token_bad_signature", arm[:len(arm)-4] + "AAAA", 0, "InvalidAuthenticationToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock.add(tc.skip)
			defer clock.add(-tc.skip)
			resp := e2.do("GET", base+"/workspaces"+av, "", "Authorization", "Bearer "+tc.token)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 401 || resp.Header.Get("x-ms-error-code") != tc.code {
				t.Errorf("%d %s, want 401 %s", resp.StatusCode, resp.Header.Get("x-ms-error-code"), tc.code)
			}
			if wa := resp.Header.Get("WWW-Authenticate"); !strings.Contains(wa, `authorization_uri="`+e2.srv.URL+"/"+tenant+`", error="invalid_token", error_description="`) {
				t.Errorf("WWW-Authenticate = %q", wa)
			}
			golden(t, "error_"+tc.name, resp, []byte(timesRE.ReplaceAllString(string(body), "TIME")))
		})
	}
}

// lateAuth is an authenticator set after the env (and its store) exist.
type lateAuth struct{ arm.Authenticator }

var timesRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
