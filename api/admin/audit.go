package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/audit"
)

// handleAudit handles GET /rekey/v1/audit: the audit log, newest first,
// filtered by since, until, resource, principal and action, in pages of
// $top, as {"value":[…],"nextLink":…}.
func handleAudit(store rekey.Store, logger *slog.Logger, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := audit.ParseQuery(r.URL.Query(), now())
		if err != nil {
			writeError(w, http.StatusBadRequest, "InvalidFilter", rekey.ErrorMessage(err))
			return
		}
		var page []rekey.AuditRecord
		if err := store.View(r.Context(), func(tx rekey.Tx) (err error) {
			page, err = tx.AuditRecords(f)
			return err
		}); err != nil {
			logger.ErrorContext(r.Context(), "reading the audit log", "err", err)
			writeError(w, http.StatusInternalServerError, "InternalServerError", "An internal error occurred.")
			return
		}
		out := struct {
			Value    []audit.Record `json:"value"`
			NextLink *string        `json:"nextLink"`
		}{Value: []audit.Record{}}
		for i := range page {
			out.Value = append(out.Value, audit.Wire(&page[i]))
		}
		if q := audit.NextQuery(f, page); q != "" {
			link := baseURL(r) + Prefix + "audit?" + q
			out.NextLink = &link
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(out)
	})
}

// baseURL is the scheme and host the request came to.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); strings.EqualFold(p, "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// lastRotations finds, per key slot, the newest successful change of res's
// keys by action that the audit log still holds. It reads at most a few
// pages: rotations are rare next to other records of the resource.
func lastRotations(tx rekey.Tx, res string, action rekey.Action) (map[rekey.Slot]rekey.AuditRecord, error) {
	out := map[rekey.Slot]rekey.AuditRecord{}
	f := rekey.AuditFilter{Resource: res, Action: string(action), Limit: rekey.MaxAuditPage}
	for range 10 {
		page, err := tx.AuditRecords(f)
		if err != nil {
			return nil, err
		}
		for _, rec := range page { // newest first
			slot := rekey.Slot(rec.KeySlot)
			if _, seen := out[slot]; !seen && rec.Status < 400 && strings.EqualFold(rec.ResourceID, res) {
				out[slot] = rec
			}
		}
		if len(out) >= len(rekey.Slots) || len(page) < f.Limit {
			break
		}
		f.Before = page[len(page)-1].Seq
	}
	return out, nil
}
