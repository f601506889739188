package arm

import (
	"log/slog"
	"net/http"

	"github.com/rekey-dev/rekey"
)

// cleanPathsOnly answers a path that is not in canonical form (an empty,
// "." or ".." segment, also one that an encoded slash such as
// "..%2f..%2fetc" decodes into) with 404 NotFound in ARM's envelope.
// ServeMux would answer it with a redirect to the cleaned path and an
// HTML body; ARM never redirects, and such a path names no resource (ARM
// answers "resourceGroups//providers/..." with 404 too).
func cleanPathsOnly(logger *slog.Logger, next http.Handler) http.Handler {
	refuse := handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		return errWire(http.StatusNotFound, "NotFound",
			"No API matches '"+r.Method+" "+rekey.Clip(r.URL.Path, 200)+"': the path has an empty, '.' or '..' segment (an encoded '/' counts as '/'). Resource names never contain '/'; send the resource ID's path as it is.")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rekey.IsCleanPath(r.URL.Path) {
			refuse.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
