package cli

import (
	"context"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/identity"
)

// aadTokens is the gateway's TokenVerifier for AADToken endpoints: the
// token service's Verifier for Azure ML's audience. It has its own cache
// of the signing keys, read from the store at most every few seconds and
// on an unknown kid at most once a second (identity.Keys), so it works the
// same in a gateway-only process; verified tokens are cached by digest.
type aadTokens struct{ v *identity.Verifier }

// newAADTokens returns the verifier of the tenant kept in store (created
// on first start, as the token service does).
func newAADTokens(ctx context.Context, cfg *serveConfig, store rekey.Store, keyring *rekey.Keyring) (aadTokens, error) {
	tenant, err := identity.EnsureTenant(ctx, store, cfg.TenantID)
	if err != nil {
		return aadTokens{}, err
	}
	keys := identity.NewKeys(store, keyring, cfg.TokenLifetime, nil)
	return aadTokens{&identity.Verifier{Keys: keys, Tenant: tenant, PublicURL: cfg.PublicURL, Audiences: identity.MLAudiences}}, nil
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
