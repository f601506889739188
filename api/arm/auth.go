package arm

import (
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
)

// authenticate requires a valid management bearer token on every request.
func (a *api) authenticate(next http.Handler) http.Handler {
	return handle(a.Logger, func(w http.ResponseWriter, r *http.Request) error {
		h := r.Header.Get("Authorization")
		if h == "" {
			return errWire(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
		}
		scheme, token, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return errWire(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is invalid: it must be 'Bearer <token>'.")
		}
		p, err := a.Auth.Authenticate(r.Context(), token)
		if rekey.ErrorCode(err) == rekey.Unauthorized {
			return errWire(http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid. Use the admin token of this rekey server (the file admin-token in its data directory, or REKEY_ADMIN_TOKEN).")
		}
		if err != nil {
			return err
		}
		next.ServeHTTP(w, r.WithContext(rekey.WithPrincipal(r.Context(), p)))
		return nil
	})
}
