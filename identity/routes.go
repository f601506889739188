package identity

import "net/http"

// Handler returns the token service's HTTP handler. Its paths are those
// of login.microsoftonline.com (and of an AD FS server for the adfs
// tenant), so an authority host pointing at rekey is all a client needs:
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration   OpenID discovery (v2)
//	GET  /{tenant}/.well-known/openid-configuration        OpenID discovery (v1)
//	GET  /adfs/.well-known/openid-configuration            OpenID discovery (AD FS)
//	GET  /{tenant}/discovery/v2.0/keys                     JWKS (also /{tenant}/discovery/keys, /adfs/discovery/keys)
//	POST /{tenant}/oauth2/v2.0/token                       token, v2 (scope=<resource>/.default)
//	POST /{tenant}/oauth2/token                            token, v1 (resource=<resource>)
//	POST /adfs/oauth2/token                                token, AD FS (v1 shape)
//	GET  /common/discovery/instance                        MSAL instance discovery
//	GET  /msi/token                                        App Service managed identity
//
// Methods are checked by the handlers, so that a wrong one gets Entra's
// error rather than a bare 405.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/{tenant}/v2.0/.well-known/openid-configuration", s.get(s.serveDiscovery(V2)))
	mux.Handle("/{tenant}/.well-known/openid-configuration", s.get(s.serveDiscovery(V1)))
	mux.Handle("/{tenant}/discovery/v2.0/keys", s.get(http.HandlerFunc(s.serveJWKS)))
	mux.Handle("/{tenant}/discovery/keys", s.get(http.HandlerFunc(s.serveJWKS)))
	mux.Handle("/{tenant}/oauth2/v2.0/token", s.serveToken(V2))
	mux.Handle("/{tenant}/oauth2/token", s.serveToken(V1))
	mux.Handle("/common/discovery/instance", s.get(http.HandlerFunc(s.serveInstanceDiscovery)))
	mux.Handle("/msi/token", s.get(http.HandlerFunc(s.serveMSI)))
	return mux
}

// Serves reports whether r's path is one of the token service's, so the
// management listener can route it here before the ARM API's catch-all.
func Serves(h http.Handler, r *http.Request) bool {
	mux, ok := h.(*http.ServeMux)
	if !ok {
		return false
	}
	_, pattern := mux.Handler(r)
	return pattern != ""
}

// get refuses methods other than GET and HEAD with Entra's error.
func (s *Service) get(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET")
			s.writeEntraError(w, r, entraErr(http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts GET requests. Received a %s request.", r.Method))
			return
		}
		h.ServeHTTP(w, r)
	})
}
