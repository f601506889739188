package identity

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/throttle"
)

// tenantKind classifies the tenant segment of a token service path.
type tenantKind int

const (
	tenantUnknown tenantKind = iota
	tenantOwn                // the server's GUID
	tenantOrganizations
	tenantADFS
	tenantCommon
)

func (s *Service) tenantOf(segment string) tenantKind {
	switch {
	case strings.EqualFold(segment, s.cfg.Tenant):
		return tenantOwn
	case strings.EqualFold(segment, "organizations"):
		return tenantOrganizations
	case strings.EqualFold(segment, "adfs"):
		return tenantADFS
	case strings.EqualFold(segment, "common"):
		return tenantCommon
	}
	return tenantUnknown
}

// tokenRequest is a parsed client-credentials request.
type tokenRequest struct {
	clientID, secret string
	resource         string
}

// serveToken handles the token endpoints; version is the endpoint's (V1
// for /oauth2/token, V2 for /oauth2/v2.0/token).
func (s *Service) serveToken(version string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			s.writeEntraError(w, r, entraErr(http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a %s request.", r.Method))
			return
		}
		tenant := r.PathValue("tenant")
		kind := s.tenantOf(tenant)
		switch kind {
		case tenantUnknown:
			s.writeEntraError(w, r, entraErr(http.StatusBadRequest, "invalid_request", 90002, "Tenant '%s' not found. This rekey server's tenant is %s; use it, 'organizations' or 'adfs' as the tenant.", rekey.Clip(tenant, 64), s.cfg.Tenant))
			return
		case tenantCommon:
			s.writeEntraError(w, r, entraErr(http.StatusBadRequest, "invalid_request", 50059, "No tenant-identifying information found in either the request or implied by any provided credentials. Use the tenant %s, 'organizations' or 'adfs' instead of 'common'.", s.cfg.Tenant))
			return
		case tenantADFS:
			if version == V2 {
				s.writeEntraError(w, r, entraErr(http.StatusNotFound, "invalid_request", 90023, "The adfs tenant has no v2.0 endpoint: use /adfs/oauth2/token."))
				return
			}
		}
		addr, now := throttle.Addr(r), s.now()
		if retry, throttled := s.cfg.Throttle.Throttled(addr, now); throttled {
			w.Header().Set("Retry-After", throttle.RetryAfter(retry))
			s.writeEntraError(w, r, entraErr(http.StatusTooManyRequests, "temporarily_unavailable", 50196, "%s", throttle.Message(retry)))
			return
		}
		req, eerr := s.parseTokenRequest(w, r, version, kind == tenantADFS)
		if eerr != nil {
			if eerr.status == http.StatusUnauthorized {
				s.cfg.Throttle.Fail(addr, now)
			}
			s.writeEntraError(w, r, eerr)
			return
		}
		sp, err := s.authenticateClient(r.Context(), req.clientID, req.secret)
		if c := rekey.ErrorCode(err); c == rekey.NotFound || c == rekey.Unauthorized {
			s.cfg.Throttle.Fail(addr, now)
		}
		switch rekey.ErrorCode(err) {
		case "":
		case rekey.NotFound:
			s.writeEntraError(w, r, entraErr(http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been created on this rekey server (rekey sp create) or you sent your authentication request to the wrong server.", rekey.Clip(req.clientID, 64), s.cfg.Tenant))
			return
		case rekey.Unauthorized:
			s.writeEntraError(w, r, entraErr(http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", sp0(req.clientID)))
			return
		default:
			s.internalError(w, r, err)
			return
		}
		tokVersion := V1
		if version == V2 && !isURL(req.resource) {
			tokVersion = V2
		}
		tok, err := s.issue(r.Context(), sp, req.resource, tokVersion, kind == tenantADFS, s.base(r))
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		secs := int64(tok.lifetime.Seconds())
		// AD FS sends numbers, as the v2 endpoint does; the Azure CLI
		// (2.45) adds expires_in to the time and fails on a string.
		if version == V2 || kind == tenantADFS {
			writeJSON(w, r, http.StatusOK, struct {
				TokenType    string `json:"token_type"`
				ExpiresIn    int64  `json:"expires_in"`
				ExtExpiresIn int64  `json:"ext_expires_in"`
				AccessToken  string `json:"access_token"`
			}{"Bearer", secs, secs, tok.token})
			return
		}
		// The v1 endpoint sends its numbers as strings.
		writeJSON(w, r, http.StatusOK, struct {
			TokenType    string `json:"token_type"`
			ExpiresIn    string `json:"expires_in"`
			ExtExpiresIn string `json:"ext_expires_in"`
			ExpiresOn    string `json:"expires_on"`
			NotBefore    string `json:"not_before"`
			Resource     string `json:"resource"`
			AccessToken  string `json:"access_token"`
		}{"Bearer", strconv.FormatInt(secs, 10), strconv.FormatInt(secs, 10), strconv.FormatInt(tok.claims.Expires, 10),
			strconv.FormatInt(tok.claims.NotBefore, 10), req.resource, tok.token})
	})
}

func sp0(id string) string { return rekey.Clip(id, 64) }

// isURL reports whether a resource is an http(s) URL: Azure's own
// resources, for which Entra issues v1 tokens whichever endpoint is asked.
func isURL(resource string) bool {
	return strings.HasPrefix(resource, "https://") || strings.HasPrefix(resource, "http://")
}

// ignoredScopes are OpenID scopes that MSAL adds to every request; they
// mean nothing to the client-credentials grant.
var ignoredScopes = map[string]bool{"openid": true, "offline_access": true, "profile": true, "email": true}

// parseTokenRequest reads and checks a client-credentials request.
func (s *Service) parseTokenRequest(w http.ResponseWriter, r *http.Request, version string, adfs bool) (tokenRequest, *entraError) {
	var req tokenRequest
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return req, errInvalidRequest("The request body must be a form: send Content-Type: application/x-www-form-urlencoded.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return req, entraErr(http.StatusRequestEntityTooLarge, "invalid_request", 90023, "The request body is larger than %d bytes.", s.cfg.MaxBody)
	}
	if err != nil {
		return req, errInvalidRequest("The request body could not be read.")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return req, errInvalidRequest("The request body is not a well-formed form (application/x-www-form-urlencoded): check the escaping of its values.")
	}
	for name, vs := range form {
		if len(vs) > 1 {
			return req, errInvalidRequest("The parameter '%s' is given more than once.", rekey.Clip(name, 40))
		}
	}
	grant := form.Get("grant_type")
	if grant == "" {
		return req, errMissing("grant_type")
	}
	if grant != "client_credentials" {
		return req, entraErr(http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'. rekey's token service supports client_credentials.", rekey.Clip(grant, 64))
	}
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return req, errInvalidRequest("Client assertions (certificate credentials) are not supported by rekey's token service: send client_secret.")
	}
	req.clientID, req.secret = form.Get("client_id"), form.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		if form.Has("client_secret") {
			return req, errInvalidRequest("The client credentials were sent twice, in the Authorization header and in the body: send them in one place only.")
		}
		// RFC 6749 2.3.1: both are form-encoded before Basic encoding.
		u, err1 := url.QueryUnescape(user)
		p, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return req, errInvalidRequest("The Basic credentials are not form-encoded correctly.")
		}
		if req.clientID != "" && req.clientID != u {
			return req, errInvalidRequest("The client_id in the body differs from the one in the Authorization header.")
		}
		req.clientID, req.secret = u, p
	} else if h := r.Header.Get("Authorization"); h != "" {
		return req, errInvalidRequest("The Authorization header must be 'Basic base64(client_id:client_secret)', or absent with client_secret in the body.")
	}
	if req.clientID == "" {
		return req, errMissing("client_id")
	}
	if req.secret == "" {
		return req, entraErr(http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	// The v1 endpoints take resource=; MSAL sends scope= to them too (the
	// adfs tenant), so either is accepted there.
	if version == V1 && form.Has("resource") {
		req.resource = form.Get("resource")
		if req.resource == "" {
			return req, errMissing("resource")
		}
	} else {
		scope := form.Get("scope")
		if scope == "" {
			if version == V1 || adfs {
				return req, errMissing("resource")
			}
			return req, errMissing("scope")
		}
		var resources []string
		for _, sc := range strings.Fields(scope) {
			if ignoredScopes[sc] {
				continue
			}
			res, ok := strings.CutSuffix(sc, "/.default")
			if !ok || res == "" {
				return req, entraErr(http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", rekey.Clip(sc, 100))
			}
			resources = append(resources, res)
		}
		switch len(resources) {
		case 0:
			return req, entraErr(http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", rekey.Clip(scope, 100))
		case 1:
			req.resource = resources[0]
		default:
			return req, entraErr(http.StatusBadRequest, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid: it names %d resources; a token is for one resource.", len(resources))
		}
	}
	if !validResource(req.resource) {
		return req, entraErr(http.StatusBadRequest, "invalid_resource", 500011, "The resource principal named %s was not found in the tenant: a resource is an absolute URI (https://management.azure.com/) or an application id.", rekey.Clip(req.resource, 100))
	}
	return req, nil
}

// validResource accepts what can name an Entra resource: an absolute URI
// or a GUID, without white space or control characters.
func validResource(res string) bool {
	if len(res) > 512 {
		return false
	}
	for i := 0; i < len(res); i++ {
		if res[i] <= ' ' || res[i] == 0x7f {
			return false
		}
	}
	if rekey.IsGUID(res) {
		return true
	}
	u, err := url.Parse(res)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "")
}

// internalError logs err and answers Entra's server error.
func (s *Service) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.ErrorContext(r.Context(), "token service", "path", r.URL.Path, "err", err)
	s.writeEntraError(w, r, entraErr(http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again."))
}
