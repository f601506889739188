package rekey

import (
	"context"
	"crypto/sha256"
)

// Principal is an authenticated caller of the management API. Today there
// is one kind, the admin; service principals and roles will add fields,
// not change callers, since everything goes through PrincipalFrom.
type Principal struct {
	ID   string
	Name string // shown in systemData.createdBy
	Type string // systemData.createdByType: User, Application, ManagedIdentity or Key
}

// TokenHash is how management tokens are stored: SHA-256 of the token.
// Tokens are random 256-bit strings, so an unkeyed hash is enough, and the
// store never holds a usable credential.
func TokenHash(token string) [32]byte { return sha256.Sum256([]byte(token)) }

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller in ctx, or the zero Principal.
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}
