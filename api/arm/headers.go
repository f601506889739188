package arm

import (
	"net/http"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/reqinfo"
)

const (
	headerRequestID     = "x-ms-request-id"
	headerCorrelationID = "x-ms-correlation-request-id"
	headerClientID      = "x-ms-client-request-id"
)

// withARMHeaders gives every response, errors included, ARM's tracing
// headers, and canonicalises the path before routing.
func withARMHeaders(region string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		id := reqinfo.ID(r.Context()) // the server's, which its log lines carry
		if id == "" {
			id = rekey.NewGUID()
		}
		h.Set(headerRequestID, id)
		corr := r.Header.Get(headerCorrelationID)
		if !isGUIDish(corr) {
			corr = rekey.NewGUID()
		}
		h.Set(headerCorrelationID, corr)
		h.Set("x-ms-routing-request-id", strings.ToUpper(region)+":"+time.Now().UTC().Format("20060102T150405Z")+":"+id)
		if c := r.Header.Get(headerClientID); c != "" && strings.EqualFold(r.Header.Get("x-ms-return-client-request-id"), "true") && isGUIDish(c) {
			h.Set(headerClientID, c)
		}
		r.URL.Path = canonicalPath(r.URL.Path)
		r.URL.RawPath = ""
		next.ServeHTTP(w, r)
	})
}

// isGUIDish accepts the id formats clients send (GUIDs and similar
// tokens) and rejects anything that could smuggle text into a header.
func isGUIDish(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
