package rekey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// DefaultTokenLifetime is how long an AMLToken is valid unless configured
// otherwise: Azure ML's own, as recorded by the azure-ai-ml and az ml test
// suites (expiryTimeUtc = issue time + 86,340 s, 24 hours less a minute).
// Clients are told to refresh a token after half of its lifetime.
const DefaultTokenLifetime = 24*time.Hour - time.Minute

// Token is an issued AMLToken for one endpoint incarnation.
type Token struct {
	Value        string
	Type         string // "Bearer"
	Expires      time.Time
	RefreshAfter time.Time
}

type tokenClaims struct {
	Endpoint string `json:"ep"`  // Endpoint.UID
	IssuedAt int64  `json:"iat"` // Unix seconds
	Expires  int64  `json:"exp"` // Unix seconds
}

const tokenPrefix = "rk1."

// IssueToken signs a token for the endpoint with the given UID, valid for
// lifetime (DefaultTokenLifetime when 0). The token is "rk1." +
// base64url(claims) + "." + base64url(HMAC-SHA256); it names the endpoint's
// UID, so a token outlives neither the endpoint nor a re-creation under
// the same name. The expiry travels in the signed claims, so VerifyToken
// accepts whatever lifetime the issuer was configured with.
func (k *Keyring) IssueToken(endpointUID string, now time.Time, lifetime time.Duration) Token {
	if lifetime <= 0 {
		lifetime = DefaultTokenLifetime
	}
	c := tokenClaims{Endpoint: endpointUID, IssuedAt: now.Unix(), Expires: now.Add(lifetime).Unix()}
	body, _ := json.Marshal(c)
	payload := tokenPrefix + base64.RawURLEncoding.EncodeToString(body)
	return Token{
		Value:        payload + "." + base64.RawURLEncoding.EncodeToString(k.tokenMAC(payload)),
		Type:         "Bearer",
		Expires:      time.Unix(c.Expires, 0).UTC(),
		RefreshAfter: now.Add(lifetime / 2).UTC().Truncate(time.Second),
	}
}

func (k *Keyring) tokenMAC(payload string) []byte {
	m := hmac.New(sha256.New, k.tokenKey)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// VerifyToken checks a token's signature and expiry and returns the UID of
// the endpoint it was issued for. Every failure is the same Unauthorized
// error, so a caller learns nothing about why.
func (k *Keyring) VerifyToken(token string, now time.Time) (string, error) {
	uid, _, err := k.VerifyTokenUntil(token, now)
	return uid, err
}

// VerifyTokenUntil is VerifyToken that also returns when the token
// expires, so that a stream admitted with it ends then instead of
// outliving its credential.
func (k *Keyring) VerifyTokenUntil(token string, now time.Time) (uid string, expires time.Time, err error) {
	bad := Errorf(Unauthorized, "The token is invalid or expired.")
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return "", time.Time{}, bad
	}
	claimsB64, macB64, ok := strings.Cut(rest, ".")
	if !ok {
		return "", time.Time{}, bad
	}
	mac, ok := decodeCanonical(macB64)
	if !ok || !hmac.Equal(mac, k.tokenMAC(tokenPrefix+claimsB64)) {
		return "", time.Time{}, bad
	}
	body, ok := decodeCanonical(claimsB64)
	if !ok {
		return "", time.Time{}, bad
	}
	var c tokenClaims
	if json.Unmarshal(body, &c) != nil || c.Endpoint == "" || now.Unix() >= c.Expires {
		return "", time.Time{}, bad
	}
	return c.Endpoint, time.Unix(c.Expires, 0), nil
}

// decodeCanonical decodes unpadded base64url, accepting only the one
// spelling IssueToken produces: Strict refuses non-zero unused bits in the
// last character (which would make four strings of one signature), and the
// round trip refuses what even Strict skips (line breaks).
func decodeCanonical(s string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return b, err == nil && base64.RawURLEncoding.EncodeToString(b) == s
}
