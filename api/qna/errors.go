package qna

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/rekey-dev/rekey"
)

// retryUnavailable is the Retry-After of a 503 (the database is away; the
// store reconnects by itself within seconds of its return).
const retryUnavailable = "5"

// codes maps each domain error code to QnA Maker's status and wire code.
// Wire codes come only from the specification's ErrorCodeType enum.
var codes = map[rekey.Code]struct {
	status int
	code   string
}{
	rekey.Invalid:         {http.StatusBadRequest, "BadArgument"},
	rekey.NotFound:        {http.StatusNotFound, "NotFound"},
	rekey.ParentNotFound:  {http.StatusNotFound, "NotFound"},
	rekey.Conflict:        {http.StatusConflict, "BadArgument"},
	rekey.Unauthorized:    {http.StatusUnauthorized, "Unauthorized"},
	rekey.Forbidden:       {http.StatusForbidden, "Forbidden"},
	rekey.TooLarge:        {http.StatusRequestEntityTooLarge, "BadArgument"},
	rekey.TooManyRequests: {http.StatusTooManyRequests, "QuotaExceeded"},
	rekey.Unavailable:     {http.StatusServiceUnavailable, "ServiceError"},
	rekey.Internal:        {http.StatusInternalServerError, "ServiceError"},
}

// statusError is an error with a status of its own (415, 405), still with
// a wire code from the enum.
type statusError struct {
	status int
	code   string
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// errorBody is QnA Maker's ErrorResponse.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func status(err error) (int, errorDetail) {
	var se *statusError
	if errors.As(err, &se) {
		return se.status, errorDetail{Code: se.code, Message: se.msg}
	}
	c, ok := codes[rekey.ErrorCode(err)]
	if !ok {
		c = codes[rekey.Internal]
	}
	return c.status, errorDetail{Code: c.code, Message: rekey.ErrorMessage(err)}
}

func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	st, d := status(err)
	if st >= 500 {
		logger.ErrorContext(r.Context(), "internal error", "request_id", w.Header().Get(headerRequestID), "path", r.URL.Path, "err", err)
	}
	if st == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", retryUnavailable) // the database is away: it says when to try again
	}
	encode(w, st, errorBody{Error: d})
}

func encode(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
