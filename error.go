package rekey

import (
	"errors"
	"fmt"
)

// Code is the machine-readable kind of an application error. Each wire
// dialect maps every Code to a status and a wire code in one table.
type Code string

// The closed set of error codes.
const (
	Internal        Code = "internal"
	Invalid         Code = "invalid"          // the request is malformed or breaks a rule
	NotFound        Code = "not_found"        // the addressed resource does not exist
	ParentNotFound  Code = "parent_not_found" // the parent of the addressed resource does not exist
	Conflict        Code = "conflict"         // the request clashes with existing state
	Unauthorized    Code = "unauthorized"     // no or bad credential
	Forbidden       Code = "forbidden"        // a credential without the right
	TooLarge        Code = "too_large"        // the request body exceeds the limit
	TooManyRequests Code = "too_many_requests"
	Unavailable     Code = "unavailable" // the server is starting or stopping
)

// Error is an application error: a code, a message safe to show to the
// caller, and an optional wrapped cause that is never shown.
type Error struct {
	Code    Code
	Message string
	Err     error // or nil; logged, never sent
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
// The message goes to the caller verbatim, so it must never hold a secret.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// Internal for any other non-nil error. It returns "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the caller-safe message of err: the message of an
// *Error, or a generic text for anything else, whose details stay in logs.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	return "An internal error occurred. The request id in the response headers identifies it in the server log."
}

// Wrap adds context to *errp, keeping its chain, when it is non-nil. It is
// meant for a deferred call at a boundary: defer rekey.Wrap(&err, "store.PutEndpoint(%s)", id).
func Wrap(errp *error, format string, args ...any) {
	if *errp != nil {
		*errp = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), *errp)
	}
}
