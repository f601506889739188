package identity

import (
	"strings"
)

// Claims are the claims of an app-only access token, named and shaped as
// in Entra's v1 and v2 access tokens. v1 tokens name the client in appid
// and appidacr, v2 tokens in azp and azpacr.
type Claims struct {
	Audience  string `json:"aud"`
	Issuer    string `json:"iss"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expires   int64  `json:"exp"`
	IDP       string `json:"idp,omitempty"`
	AppID     string `json:"appid,omitempty"`
	AppIDACR  string `json:"appidacr,omitempty"`
	AZP       string `json:"azp,omitempty"`
	AZPACR    string `json:"azpacr,omitempty"`
	IDType    string `json:"idtyp"`
	ObjectID  string `json:"oid"`
	Subject   string `json:"sub"`
	TenantID  string `json:"tid"`
	TokenID   string `json:"uti"`
	Version   string `json:"ver"`
}

// Client returns the client id the token was issued to.
func (c *Claims) Client() string {
	if c.AppID != "" {
		return c.AppID
	}
	return c.AZP
}

// Token versions, as the ver claim spells them.
const (
	V1 = "1.0"
	V2 = "2.0"
)

// Issuers. base is the scheme and authority the client used (or
// --public-url), without a trailing slash.
//
// Entra's v2 tokens name https://login.microsoftonline.com/{tid}/v2.0 and
// its v1 tokens https://sts.windows.net/{tid}/; rekey has one host, so v1
// tokens name {base}/{tid}/. Tokens from the adfs tenant name {base}/adfs,
// the issuer that its discovery document announces.
func issuerV2(base, tid string) string { return base + "/" + tid + "/v2.0" }
func issuerV1(base, tid string) string { return base + "/" + tid + "/" }
func issuerADFS(base string) string    { return base + "/adfs" }

// issuerPath reports whether iss is one of this tenant's issuers on some
// base URL; when publicURL is set, on that base only.
func issuerOK(iss, tid, publicURL string) bool {
	if publicURL != "" {
		base := strings.TrimSuffix(publicURL, "/")
		return iss == issuerV2(base, tid) || iss == issuerV1(base, tid) || iss == issuerADFS(base)
	}
	scheme, rest, ok := strings.Cut(iss, "://")
	if !ok || (scheme != "https" && scheme != "http") {
		return false
	}
	host, path, ok := strings.Cut(rest, "/")
	if !ok || host == "" {
		return false
	}
	return path == tid+"/v2.0" || path == tid+"/" || path == "adfs"
}
