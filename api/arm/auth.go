package arm

import (
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/identity"
)

// authenticate requires a valid management bearer token on every request:
// an access token from rekey's token service or the admin token.
func (a *api) authenticate(next http.Handler) http.Handler {
	return handle(a.Logger, func(w http.ResponseWriter, r *http.Request) error {
		h := r.Header.Get("Authorization")
		if h == "" {
			return a.challenge(w, r, errWire(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."))
		}
		scheme, token, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return a.challenge(w, r, errWire(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is invalid: it must be 'Bearer <token>'."))
		}
		p, err := a.Auth.Authenticate(r.Context(), token)
		if reason, ok := identity.ErrReason(err); ok {
			return a.challenge(w, r, errWire(http.StatusUnauthorized, tokenCodes[reason], err.Error()))
		}
		if rekey.ErrorCode(err) == rekey.Unauthorized {
			return a.challenge(w, r, errWire(http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid. Use a token from this server's token service, or its admin token (the file admin-token in its data directory, or REKEY_ADMIN_TOKEN)."))
		}
		if err != nil {
			return err
		}
		next.ServeHTTP(w, r.WithContext(rekey.WithPrincipal(r.Context(), p)))
		return nil
	})
}

// tokenCodes are ARM's codes for refused access tokens.
var tokenCodes = map[identity.Reason]string{
	identity.Malformed:    "InvalidAuthenticationToken",
	identity.BadSignature: "InvalidAuthenticationToken",
	identity.NotYetValid:  "InvalidAuthenticationToken",
	identity.BadIssuer:    "InvalidAuthenticationTokenTenant",
	identity.Expired:      "ExpiredAuthenticationToken",
	identity.BadAudience:  "InvalidAuthenticationTokenAudience",
}

// challenge sets the WWW-Authenticate header ARM sends with a 401: where
// to get a token (this server's tenant authority), and why this one failed.
func (a *api) challenge(w http.ResponseWriter, r *http.Request, err error) error {
	uri := a.baseURL(r)
	if a.Tenant != "" {
		uri += "/" + a.Tenant
	}
	w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="`+uri+`", error="invalid_token", error_description="`+strings.ReplaceAll(err.(*wireError).message, `"`, `'`)+`"`)
	return err
}
