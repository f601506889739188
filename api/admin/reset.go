package admin

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/rekey-dev/rekey"
)

// handleReset handles POST /rekey/v1/reset: every resource, key, usage
// count and operation goes (Tx.Reset), and the server's identity stays
// (the admin token, service principals, signing keys, the tenant), so
// clients that are connected keep working against an empty server. The
// in-process gateway forgets every key before the 204 is sent (the store
// wakes it synchronously); one in another process does at its next sync.
// flush, when not nil, first writes the gateway's pending usage counts, so
// that the reset removes them too rather than a later flush crediting
// them to a new resource of the same name.
func handleReset(store rekey.Store, flush func(context.Context) error, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Reset with POST "+Prefix+"reset.")
			return
		}
		if flush != nil {
			if err := flush(r.Context()); err != nil {
				logger.Warn("flushing usage before a reset", "err", err)
			}
		}
		if err := store.Update(r.Context(), func(tx rekey.Tx) error {
			rekey.NoteStatus(r.Context(), http.StatusNoContent)
			return tx.Reset()
		}); err != nil {
			writeDomainError(w, r, logger, err)
			return
		}
		logger.Info("reset: removed every resource, key, usage count and operation")
		w.WriteHeader(http.StatusNoContent)
	})
}
