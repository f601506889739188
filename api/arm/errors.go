package arm

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
)

// retryUnavailable is the Retry-After of a 503 (the database is away; the
// store reconnects by itself within seconds of its return).
const retryUnavailable = "5"

// codes maps each domain error code to ARM's status and wire code. It is
// the only place the ARM dialect chooses an error status.
var codes = map[rekey.Code]struct {
	status int
	code   string
}{
	rekey.Invalid:         {http.StatusBadRequest, "BadArgument"},
	rekey.NotFound:        {http.StatusNotFound, "ResourceNotFound"},
	rekey.ParentNotFound:  {http.StatusNotFound, "ParentResourceNotFound"},
	rekey.Conflict:        {http.StatusConflict, "Conflict"},
	rekey.Unauthorized:    {http.StatusUnauthorized, "AuthenticationFailed"},
	rekey.Forbidden:       {http.StatusForbidden, "AuthorizationFailed"},
	rekey.TooLarge:        {http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"},
	rekey.TooManyRequests: {http.StatusTooManyRequests, "TooManyRequests"},
	rekey.Unavailable:     {http.StatusServiceUnavailable, "ServiceUnavailable"},
	rekey.Internal:        {http.StatusInternalServerError, "InternalServerError"},
}

// wireError is an error only ARM has a name for (InvalidApiVersionParameter,
// InvalidRequestContent, ...). It carries its status and wire code itself.
type wireError struct {
	status  int
	code    string
	message string
}

func (e *wireError) Error() string { return e.code + ": " + e.message }

func errWire(status int, code, message string) error {
	return &wireError{status: status, code: code, message: message}
}

// errorBody is ARM's error envelope (common-types v3 ErrorResponse).
type errorBody struct {
	Error errorDetail `json:"error"`
}

// errorDetail is one error. details and additionalInfo are sent only when
// they have content: recorded ARM and Azure ML errors carry no empty lists.
type errorDetail struct {
	Code           string        `json:"code"`
	Message        string        `json:"message"`
	Target         string        `json:"target,omitempty"`
	Details        []errorDetail `json:"details,omitempty"`
	AdditionalInfo []any         `json:"additionalInfo,omitempty"`
}

// notFoundPointer ends every ResourceNotFound message, as ARM's do.
const notFoundPointer = "For more details please go to https://aka.ms/ARMResourceNotFoundFix"

// withPointer appends ARM's troubleshooting pointer to a not-found message.
func withPointer(msg string) string {
	if strings.HasSuffix(msg, notFoundPointer) {
		return msg
	}
	return strings.TrimSpace(msg) + " " + notFoundPointer
}

// status returns the HTTP status and ARM error detail for err.
func status(err error) (int, errorDetail) {
	var we *wireError
	if errors.As(err, &we) {
		return we.status, errorDetail{Code: we.code, Message: we.message}
	}
	c, ok := codes[rekey.ErrorCode(err)]
	if !ok {
		c = codes[rekey.Internal]
	}
	msg := rekey.ErrorMessage(err)
	if c.code == "ResourceNotFound" {
		msg = withPointer(msg)
	}
	return c.status, errorDetail{Code: c.code, Message: msg}
}

// writeError renders err in ARM's envelope. Internal errors are logged with
// the request id; the caller gets a generic message.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	st, detail := status(err)
	if st >= 500 {
		logger.ErrorContext(r.Context(), "internal error", "request_id", w.Header().Get(headerRequestID), "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if st == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", retryUnavailable) // the database is away: it says when to try again
	}
	w.Header().Set("x-ms-error-code", detail.Code)
	if st == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rekey", error="invalid_token"`)
	}
	encode(w, st, errorBody{Error: detail})
}

// handlerFunc is an HTTP handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc to http.Handler, rendering its error once.
func handle(logger *slog.Logger, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, logger, err)
		}
	})
}
