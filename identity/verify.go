package identity

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/rekey-dev/rekey"
)

// Skew is the clock difference tolerated on nbf and exp, as Microsoft's
// token validators allow by default (5 minutes is their default; rekey's
// tokens can live 10 seconds, so it is smaller here).
const Skew = 30 * time.Second

// Audiences of the Azure resources rekey serves. A token's aud matches
// one of them with or without the trailing slash.
var (
	ARMAudiences = []string{"https://management.azure.com/", "https://management.core.windows.net/"}
	MLAudiences  = []string{"https://ml.azure.com/"}
)

// Reason tells why a token was refused, so each API can answer with its
// own code (ARM: InvalidAuthenticationToken, ExpiredAuthenticationToken,
// InvalidAuthenticationTokenAudience).
type Reason int

// Reasons a token is refused.
const (
	Malformed    Reason = iota // not a compact JWS, or bad claims JSON
	BadSignature               // signature, algorithm or key do not verify
	BadIssuer                  // iss or tid is not this server's tenant
	Expired                    // exp (plus skew) has passed
	NotYetValid                // nbf (minus skew) is in the future
	BadAudience                // aud is not one of the allowed ones
)

// TokenError is a refused token. Message tells the caller what to fix and
// never repeats the token.
type TokenError struct {
	Reason  Reason
	Message string
}

func (e *TokenError) Error() string { return e.Message }

func refuse(r Reason, msg string) error { return &TokenError{Reason: r, Message: msg} }

// KeySource gives the public key for a kid (Keys implements it).
type KeySource interface {
	PublicKey(ctx context.Context, kid string) (pub *rsa.PublicKey, ok bool, err error)
}

// Verifier checks access tokens issued by this server's token service:
// an RS256 signature by a published key, an issuer of this tenant, a
// lifetime that includes now (with Skew), and an audience from an allowed
// set. It needs no store lookup per token, only the cached keys.
type Verifier struct {
	Keys      KeySource
	Tenant    string
	PublicURL string   // when set, the only base URL accepted in iss
	Audiences []string // compared without trailing slashes
	Now       func() time.Time

	// seen caches tokens whose signature, issuer and audience verified,
	// by SHA-256 of the token: a client sends the same token for up to an
	// hour, and an RS256 verification costs far more than a map lookup.
	// Only the lifetime is checked again. Refused tokens are not cached,
	// so only holders of valid tokens can fill it.
	mu   sync.Mutex
	seen map[[32]byte]*Claims
}

// maxSeen bounds the cache; when full it is emptied and refilled.
const maxSeen = 4096

// Verify checks token and returns its claims. Every error is a
// *TokenError unless the key source failed.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	sum := sha256.Sum256([]byte(token))
	v.mu.Lock()
	c, ok := v.seen[sum]
	v.mu.Unlock()
	if ok {
		if err := checkTimes(c, now()); err != nil {
			return nil, err
		}
		return c, nil
	}
	c, err := v.verify(ctx, token, now())
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if v.seen == nil || len(v.seen) >= maxSeen {
		v.seen = make(map[[32]byte]*Claims)
	}
	v.seen[sum] = c
	v.mu.Unlock()
	return c, nil
}

// checkTimes checks nbf and exp with Skew.
func checkTimes(c *Claims, t time.Time) error {
	if c.Expires == 0 || !t.Before(time.Unix(c.Expires, 0).Add(Skew)) {
		return refuse(Expired, "The access token expiry UTC time '"+time.Unix(c.Expires, 0).UTC().Format(time.RFC3339)+"' is earlier than current UTC time '"+t.UTC().Format(time.RFC3339)+"': request a new token.")
	}
	if t.Add(Skew).Before(time.Unix(c.NotBefore, 0)) {
		return refuse(NotYetValid, "The access token is not valid before UTC time '"+time.Unix(c.NotBefore, 0).UTC().Format(time.RFC3339)+"' (current UTC time '"+t.UTC().Format(time.RFC3339)+"'): check the clocks.")
	}
	return nil
}

// verify does the full check of a token not in the cache.
func (v *Verifier) verify(ctx context.Context, token string, t time.Time) (*Claims, error) {
	// Only RS256 is issued, so only RS256 is parsed: "none", HS256 (with
	// the public key as the secret) and everything else fail here.
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		if strings.Contains(err.Error(), "unexpected signature algorithm") {
			return nil, refuse(BadSignature, "The token's signing algorithm is not RS256, the only one this server issues.")
		}
		return nil, refuse(Malformed, "The token is not a well-formed JWT (header.payload.signature, base64url).")
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return nil, refuse(BadSignature, "The token names no signing key (kid).")
	}
	pub, ok, err := v.Keys.PublicKey(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, refuse(BadSignature, "The token's signing key is not one this server publishes: it was issued by another server, or its key was retired too long ago.")
	}
	var raw json.RawMessage
	if err := tok.Claims(pub, &raw); err != nil {
		return nil, refuse(BadSignature, "The token's signature does not verify.")
	}
	var c Claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, refuse(Malformed, "The token's claims are not valid JSON of the expected types.")
	}
	if c.TenantID != v.Tenant || !issuerOK(c.Issuer, v.Tenant, v.PublicURL) {
		return nil, refuse(BadIssuer, "The token's issuer is not this server's tenant "+v.Tenant+".")
	}
	if err := checkTimes(&c, t); err != nil {
		return nil, err
	}
	if !audienceOK(c.Audience, v.Audiences) {
		return nil, refuse(BadAudience, "The access token has been obtained for wrong audience or resource '"+rekey.Clip(c.Audience, 100)+"'. It should exactly match with one of the allowed audiences '"+strings.Join(v.Audiences, "','")+"' (with or without the trailing slash).")
	}
	if c.ObjectID == "" || c.Client() == "" {
		return nil, refuse(Malformed, "The token names no client (appid or azp) or object id (oid).")
	}
	return &c, nil
}

func audienceOK(aud string, allowed []string) bool {
	aud = strings.TrimSuffix(aud, "/")
	for _, a := range allowed {
		if aud == strings.TrimSuffix(a, "/") {
			return true
		}
	}
	return false
}

// IsJWT reports whether a bearer token has the shape of a JWT, so an
// authenticator can route it to a Verifier instead of a lookup of opaque
// tokens.
func IsJWT(token string) bool {
	return strings.HasPrefix(token, "eyJ") && strings.Count(token, ".") == 2
}

// ErrReason returns err's Reason and whether it is a *TokenError.
func ErrReason(err error) (Reason, bool) {
	var te *TokenError
	if errors.As(err, &te) {
		return te.Reason, true
	}
	return 0, false
}
