package identity

import (
	"context"

	"github.com/rekey-dev/rekey"
)

// TokenAuthenticator checks an opaque bearer token (the admin token).
type TokenAuthenticator interface {
	Authenticate(ctx context.Context, token string) (rekey.Principal, error)
}

// Authenticator authenticates a management API caller: a JWT through the
// Verifier, as the service principal it was issued to; anything else
// through Opaque (the admin token, which stays the superuser).
type Authenticator struct {
	Verifier *Verifier
	Opaque   TokenAuthenticator
}

// Authenticate returns the caller. A refused JWT is a *TokenError; a
// wrong opaque token is Opaque's Unauthorized error.
func (a Authenticator) Authenticate(ctx context.Context, token string) (rekey.Principal, error) {
	if !IsJWT(token) {
		return a.Opaque.Authenticate(ctx, token)
	}
	c, err := a.Verifier.Verify(ctx, token)
	if err != nil {
		return rekey.Principal{}, err
	}
	return rekey.Principal{ID: c.ObjectID, Name: c.Client(), Type: "Application"}, nil
}
