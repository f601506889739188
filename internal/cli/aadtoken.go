package cli

import (
	"context"
	"sync"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/authz"
	"github.com/rekey-dev/rekey/identity"
)

// aadTokens is the gateway's TokenVerifier for AADToken endpoints: the
// token service's Verifier for Azure ML's audience. It has its own cache
// of the signing keys, read from the store at most every few seconds and
// on an unknown kid at most once a second (identity.Keys), so it works the
// same in a gateway-only process; verified tokens are cached by digest.
type aadTokens struct {
	v     *identity.Verifier
	authz *authz.Authorizer // nil: every verified token may score
	// who caches, per token, the principal it was issued to (a fact that
	// never changes), so that authorizing a scoring request costs one map
	// lookup and the authorizer's cached decision.
	who *tokenPrincipals
}

// tokenPrincipals maps tokens to their principals, bounded: past
// maxTokenPrincipals entries it starts again.
type tokenPrincipals struct {
	mu sync.RWMutex
	m  map[string]rekey.Principal
}

const maxTokenPrincipals = 1 << 14

// newAADTokens returns the verifier of the tenant kept in store (created
// on first start, as the token service does).
func newAADTokens(ctx context.Context, cfg *serveConfig, store rekey.Store, keyring *rekey.Keyring) (aadTokens, error) {
	tenant, err := identity.EnsureTenant(ctx, store, cfg.TenantID)
	if err != nil {
		return aadTokens{}, err
	}
	keys := identity.NewKeys(store, keyring, cfg.TokenLifetime, nil)
	return aadTokens{v: &identity.Verifier{Keys: keys, Tenant: tenant, PublicURL: cfg.PublicURL, Audiences: identity.MLAudiences},
		who: &tokenPrincipals{m: map[string]rekey.Principal{}}}, nil
}

// VerifyToken maps the Verifier's refusals to rekey.Unauthorized, and
// returns the last instant the token is accepted (exp plus the skew).
func (a aadTokens) VerifyToken(ctx context.Context, token string) (time.Time, error) {
	c, err := a.v.Verify(ctx, token)
	if err != nil {
		if _, refused := identity.ErrReason(err); refused {
			return time.Time{}, &rekey.Error{Code: rekey.Unauthorized, Message: err.Error()}
		}
		return time.Time{}, err
	}
	return time.Unix(c.Expires, 0).Add(identity.Skew), nil
}

// AuthorizeScore is the gateway's Authorizer: may the principal of token
// (verified by VerifyToken just before) perform score/action over the
// endpoint? The refusal is ARM's AuthorizationFailed sentence.
func (a aadTokens) AuthorizeScore(ctx context.Context, token, endpoint string) (bool, string, error) {
	if a.authz == nil {
		return true, "", nil
	}
	a.who.mu.RLock()
	p, ok := a.who.m[token]
	a.who.mu.RUnlock()
	if !ok {
		c, err := a.v.Verify(ctx, token)
		if err != nil {
			return false, err.Error(), nil
		}
		p = rekey.Principal{ID: c.ObjectID, Name: c.Client(), Type: "Application"}
		a.who.mu.Lock()
		if len(a.who.m) >= maxTokenPrincipals {
			clear(a.who.m)
		}
		a.who.m[token] = p
		a.who.mu.Unlock()
	}
	allowed, err := a.authz.Allowed(ctx, p.ID, rekey.ActionScore, endpoint)
	if err != nil || allowed {
		return allowed, "", err
	}
	return false, "The client '" + p.Name + "' with object id '" + p.ID + "' does not have authorization to perform action '" +
		string(rekey.ActionScore) + "' over scope '" + endpoint + "' or the scope is invalid. If access was recently granted, please refresh your credentials.", nil
}
