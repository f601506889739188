package identity

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
)

// entraError is an error of the token service, in Entra's shape: an
// OAuth error code, an AADSTS number and a description that starts with
// it.
type entraError struct {
	status int
	code   string // OAuth 2.0 error: invalid_request, invalid_client, ...
	aadsts int
	msg    string
}

func (e *entraError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.aadsts, e.msg) }

func entraErr(status int, code string, aadsts int, format string, args ...any) *entraError {
	return &entraError{status: status, code: code, aadsts: aadsts, msg: fmt.Sprintf(format, args...)}
}

// The errors the token endpoint answers. AADSTS numbers are Entra's for
// the same condition.
func errMissing(param string) *entraError {
	return entraErr(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: '%s'.", param)
}

func errInvalidRequest(format string, args ...any) *entraError {
	return entraErr(http.StatusBadRequest, "invalid_request", 90023, format, args...)
}

// wireError is the JSON body of an Entra error.
type wireError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
}

// writeEntraError answers e with Entra's body and headers. The trace and
// correlation ids and the timestamp are repeated in the description, as
// Entra does, so a user pasting the message gives everything needed to
// find the request in rekey's log.
func (s *Service) writeEntraError(w http.ResponseWriter, r *http.Request, e *entraError) {
	now := s.now().UTC()
	trace := rekey.NewGUID()
	corr := correlationID(r)
	ts := now.Format("2006-01-02 15:04:05Z")
	body := wireError{
		Error:            e.code,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", e.aadsts, e.msg, trace, corr, ts),
		ErrorCodes:       []int{e.aadsts},
		Timestamp:        ts,
		TraceID:          trace,
		CorrelationID:    corr,
	}
	s.cfg.Logger.Info("token request refused", "path", r.URL.Path, "error", e.code, "aadsts", e.aadsts, "trace_id", trace, "correlation_id", corr)
	// RFC 6749 5.2: a client that authenticated with the Authorization
	// header is told the scheme it should use.
	if e.status == http.StatusUnauthorized && r.Header.Get("Authorization") != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+s.base(r)+`"`)
	}
	writeJSON(w, r, e.status, body)
}

// correlationID is the client's client-request-id when it is a GUID (MSAL
// sends one), else a new one.
func correlationID(r *http.Request) string {
	if c := r.Header.Get("client-request-id"); rekey.IsGUID(c) {
		return strings.ToLower(c)
	}
	return rekey.NewGUID()
}

// writeJSON writes v with the headers Entra sends on token responses:
// never cached, and client-request-id echoed when asked for.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if c := r.Header.Get("client-request-id"); rekey.IsGUID(c) && strings.EqualFold(r.Header.Get("return-client-request-id"), "true") {
		h.Set("client-request-id", c)
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
