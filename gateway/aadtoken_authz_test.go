package gateway_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/gateway"
	"github.com/rekey-dev/rekey/identity"
)

// scoreAuthz allows the endpoints in allow (by Key()), refuses others,
// and fails when err is set.
type scoreAuthz struct {
	allow map[string]bool
	err   error
	seen  []string
}

func (a *scoreAuthz) AuthorizeScore(_ context.Context, token, endpoint string) (bool, string, error) {
	a.seen = append(a.seen, endpoint)
	return a.allow[endpoint], "no score/action over '" + endpoint + "'", a.err
}

// TestAADTokenAuthorizer: a verified token whose principal may not score
// the endpoint gets 403 aad_token_auth_access_denied, never reaching the
// upstream, and is not counted as a failed sign-in; an authorizer failure
// is 503. The authorizer is asked about the endpoint's resource id.
func TestAADTokenAuthorizer(t *testing.T) {
	az := &scoreAuthz{allow: map[string]bool{}}
	var tokens mlTokens
	e := newEnv(t, func(c *gateway.Config) { c.Tokens = &tokens; c.Authz = az; c.FailLimit = 1 })
	e.clock.t = time.Now()
	ts := newTokenService(t, e.store, e.kr, aadTenant, e.clock.Now)
	tokens.v = ts.svc.Verifier(identity.MLAudiences)
	up := newUpstream(t, "blue")
	ep, _, _ := e.endpoint("aad", rekey.AuthAADToken, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	tok := ts.token(t, "https://ml.azure.com")
	for range 3 { // FailLimit 1: a refusal here is not a failed sign-in
		resp, body := e.call("POST", "/endpoints/aad/score", "Bearer "+tok, "{}")
		if resp.StatusCode != 403 || !strings.Contains(body, "aad_token_auth_access_denied") || !strings.Contains(body, "score/action") {
			t.Fatalf("unauthorized principal = %d %s, want 403 aad_token_auth_access_denied", resp.StatusCode, body)
		}
	}
	if up.hits.Load() != 0 {
		t.Error("a refused request reached the upstream")
	}
	if len(az.seen) == 0 || az.seen[0] != ep.ID.Key() {
		t.Errorf("authorizer asked about %v, want %s", az.seen, ep.ID.Key())
	}
	az.allow[ep.ID.Key()] = true
	if resp, body := e.call("POST", "/endpoints/aad/score", "Bearer "+tok, "{}"); resp.StatusCode != 200 {
		t.Errorf("authorized principal = %d %s, want 200", resp.StatusCode, body)
	}
	az.err = errors.New("database is locked")
	if resp, body := e.call("POST", "/endpoints/aad/score", "Bearer "+tok, "{}"); resp.StatusCode != 503 || strings.Contains(body, "database") {
		t.Errorf("authorizer failure = %d %s, want 503 without the internal error", resp.StatusCode, body)
	}
}
