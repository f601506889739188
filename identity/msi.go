package identity

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"

	"github.com/rekey-dev/rekey"
)

// MSIAPIVersion is the App Service managed identity protocol served
// (IDENTITY_ENDPOINT and IDENTITY_HEADER).
const MSIAPIVersion = "2019-08-01"

// msiError is App Service's error body for its identity endpoint.
type msiError struct {
	StatusCode    int    `json:"statusCode"`
	Message       string `json:"message"`
	CorrelationID string `json:"correlationId"`
}

func (s *Service) writeMSIError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	corr := rekey.NewGUID()
	s.cfg.Logger.Info("managed identity request refused", "status", status, "correlation_id", corr)
	writeJSON(w, r, status, msiError{StatusCode: status, Message: msg, CorrelationID: corr})
}

// serveMSI issues a token for the managed identity, as App Service's
// identity endpoint does: GET ?api-version=2019-08-01&resource=... with the
// X-IDENTITY-HEADER secret.
func (s *Service) serveMSI(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ManagedIdentity == "" || s.cfg.IdentityHeader == "" {
		s.writeMSIError(w, r, http.StatusNotFound, "No managed identity is configured on this rekey server: start it with --managed-identity APPID.")
		return
	}
	h := r.Header.Get("X-IDENTITY-HEADER")
	if h == "" {
		s.writeMSIError(w, r, http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing: send the content of IDENTITY_HEADER.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(h), []byte(s.cfg.IdentityHeader)) != 1 {
		s.writeMSIError(w, r, http.StatusUnauthorized, "The X-IDENTITY-HEADER header is not this server's identity header (the file identity-header in its data directory).")
		return
	}
	q := r.URL.Query()
	if v := q.Get("api-version"); v != MSIAPIVersion {
		s.writeMSIError(w, r, http.StatusBadRequest, "The api-version must be "+MSIAPIVersion+".")
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		s.writeMSIError(w, r, http.StatusBadRequest, "The query parameter 'resource' is missing: name the resource the token is for, e.g. https://management.azure.com/.")
		return
	}
	if !validResource(resource) {
		s.writeMSIError(w, r, http.StatusBadRequest, "The resource must be an absolute URI (https://management.azure.com/) or an application id.")
		return
	}
	for _, p := range []string{"client_id", "principal_id", "object_id", "mi_res_id"} {
		if v := q.Get(p); v != "" && !(p == "client_id" && strings.EqualFold(v, s.cfg.ManagedIdentity)) {
			s.writeMSIError(w, r, http.StatusBadRequest, "No managed identity found for the specified "+p+": this server's managed identity has the client_id "+s.cfg.ManagedIdentity+".")
			return
		}
	}
	var sp *rekey.ServicePrincipal
	err := s.cfg.Store.View(r.Context(), func(tx rekey.Tx) (err error) {
		sp, err = tx.ServicePrincipal(s.cfg.ManagedIdentity)
		return err
	})
	if rekey.ErrorCode(err) == rekey.NotFound {
		s.writeMSIError(w, r, http.StatusNotFound, "The managed identity "+s.cfg.ManagedIdentity+" no longer exists as a service principal.")
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	tok, err := s.issue(r.Context(), sp, resource, V1, false, s.base(r))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, struct {
		AccessToken string `json:"access_token"`
		ExpiresOn   string `json:"expires_on"`
		Resource    string `json:"resource"`
		TokenType   string `json:"token_type"`
		ClientID    string `json:"client_id"`
	}{tok.token, strconv.FormatInt(tok.claims.Expires, 10), resource, "Bearer", sp.AppID})
}
