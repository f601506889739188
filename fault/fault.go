// Package fault makes rekey fail on purpose, so that the code under test
// can prove it handles failure: throttling, server errors, latency, reset
// connections and long-running operations that end Failed.
//
// Faults live in memory, per process: a restart clears them. They are
// applied by a middleware in front of each dialect (ARM, QnA Maker, the
// gateway) and, for Failed operations, by the operation runner; handlers
// know nothing of them.
package fault

import (
	"fmt"
	"strings"
	"time"
)

// Kind is what an injected fault does.
type Kind string

// The fault kinds.
const (
	// Failed accepts a request that starts a long-running operation
	// without doing anything, and the runner ends that operation Failed
	// with the fault's code and message. Nothing the request asked for
	// takes effect: a regenerateKeys that fails this way leaves the key
	// as it was. A request that starts no operation fails at once with
	// the code (status 500 unless Status says otherwise).
	Failed Kind = "failed"
	// Throttle answers 429 with Retry-After.
	Throttle Kind = "throttle"
	// Error answers Status (500 or 503) in the dialect's envelope.
	Error Kind = "error"
	// Latency delays the request by Latency, then serves it.
	Latency Kind = "latency"
	// Reset closes the connection without an answer (TCP RST).
	Reset Kind = "reset"
)

// Kinds lists every kind, for messages.
var Kinds = []Kind{Failed, Throttle, Error, Latency, Reset}

// Operation names what a fault applies to.
type Operation string

// The operations a fault can target.
const (
	RegenerateKeys Operation = "regenerateKeys" // POST …/onlineEndpoints/{name}/regenerateKeys
	ListKeys       Operation = "listKeys"       // POST …/onlineEndpoints/{name}/listKeys and …/accounts/{name}/listKeys
	Token          Operation = "token"          // POST …/onlineEndpoints/{name}/token
	Refresh        Operation = "refresh"        // QnA Maker PATCH /qnamaker/{version}/endpointkeys/{keyType}
	RegenerateKey  Operation = "regenerateKey"  // POST …/accounts/{name}/regenerateKey
	ARM            Operation = "arm"            // any ARM request matching Method and Path
	Gateway        Operation = "gateway"        // scoring requests of an endpoint on the gateway
)

// Operations lists every operation, for messages.
var Operations = []Operation{RegenerateKeys, ListKeys, Token, Refresh, RegenerateKey, ARM, Gateway}

// Fault is one injected fault: where it applies, what it does, and how
// often. The JSON form is the admin API's.
type Fault struct {
	ID        string    `json:"id"`
	Kind      Kind      `json:"kind"`
	Operation Operation `json:"operation"`
	// Method and Path select ARM requests for operation "arm": Method is
	// an HTTP method or "*"; Path is matched against the whole path,
	// case-insensitively, with '*' standing for any run of characters
	// ("*/onlineEndpoints/*").
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	// Resource narrows the fault to one resource: an ARM id prefix
	// (starting with '/', matched at segment boundaries) or the name of
	// an endpoint or account. Empty means every resource.
	Resource string `json:"resource,omitempty"`
	// Count, when above 0, is how many more times the fault fires before
	// it expires.
	Count int `json:"count,omitempty"`
	// Probability is the chance in [0, 1] that a matching request gets
	// the fault; nil means 1.
	Probability *float64 `json:"probability,omitempty"`

	// Code and Message are the error of a Failed operation, or of an
	// Error or Throttle answer in the ARM and QnA dialects.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// Status is the HTTP status of an Error (500 or 503) or of a Failed
	// request that starts no operation.
	Status int `json:"status,omitempty"`
	// RetryAfter is the Retry-After of a Throttle, in whole seconds.
	RetryAfter int `json:"retryAfterSeconds,omitempty"`
	// Latency is the delay of a Latency fault, in Go's duration syntax.
	Latency Duration `json:"latency,omitempty"`

	Created time.Time `json:"created"`
	Fired   int       `json:"fired"` // how many times it has fired
}

// Duration is a time.Duration written as "2s" in JSON.
type Duration time.Duration

// MarshalText writes d in Go's duration syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads Go's duration syntax ("250ms", "2s").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("'latency' must be a duration such as \"250ms\" or \"2s\", not %q", b)
	}
	*d = Duration(v)
	return nil
}

// MaxLatency bounds an injected delay, so a typo cannot hang a test run.
const MaxLatency = 5 * time.Minute

// normalize fills defaults and checks f, returning every problem found.
func (f *Fault) normalize() []string {
	var errs []string
	if !contains(Kinds, f.Kind) {
		errs = append(errs, fmt.Sprintf("'kind' must be one of %s, not %q.", list(Kinds), f.Kind))
	}
	if !contains(Operations, f.Operation) {
		errs = append(errs, fmt.Sprintf("'operation' must be one of %s, not %q.", list(Operations), f.Operation))
	}
	if f.Operation == ARM {
		if f.Path == "" {
			errs = append(errs, "'path' is required for operation \"arm\": a path pattern such as \"*/onlineEndpoints/*\".")
		} else if !strings.HasPrefix(f.Path, "/") && !strings.HasPrefix(f.Path, "*") {
			errs = append(errs, "'path' must start with '/' or '*'.")
		}
		if f.Method == "" {
			f.Method = "*"
		}
		f.Method = strings.ToUpper(f.Method)
	} else if f.Method != "" || f.Path != "" {
		errs = append(errs, "'method' and 'path' apply only to operation \"arm\".")
	}
	if f.Operation == Refresh && f.Resource != "" {
		errs = append(errs, "'resource' cannot scope operation \"refresh\": the QnA Maker API names no account in its path.")
	}
	if f.Kind == Failed && f.Operation == Gateway {
		errs = append(errs, "kind \"failed\" is for management operations; use \"error\" or \"reset\" on the gateway.")
	}
	if f.Count < 0 {
		errs = append(errs, "'count' must be 0 (no limit) or more.")
	}
	if p := f.Probability; p != nil && (*p < 0 || *p > 1) {
		errs = append(errs, "'probability' must be between 0 and 1.")
	}
	switch f.Kind {
	case Failed:
		if f.Status == 0 {
			f.Status = 500
		}
		if f.Message == "" {
			f.Message = "The operation failed (a fault injected by rekey)."
		}
	case Error:
		if f.Status == 0 {
			f.Status = 500
		}
		if f.Status != 500 && f.Status != 503 {
			errs = append(errs, "'status' of an error fault must be 500 or 503.")
		}
	case Throttle:
		if f.RetryAfter == 0 {
			f.RetryAfter = 1
		}
		if f.RetryAfter < 0 || f.RetryAfter > 3600 {
			errs = append(errs, "'retryAfterSeconds' must be between 1 and 3600.")
		}
	case Latency:
		if f.Latency <= 0 || time.Duration(f.Latency) > MaxLatency {
			errs = append(errs, fmt.Sprintf("'latency' must be above 0 and at most %s.", MaxLatency))
		}
	}
	if f.Kind == Failed && (f.Status < 400 || f.Status > 599) {
		errs = append(errs, "'status' must be an error status (400-599).")
	}
	if len(f.Code) > 64 || strings.ContainsAny(f.Code, " \r\n\"") {
		errs = append(errs, "'code' must be a short identifier such as \"QuotaExceeded\".")
	}
	if len(f.Message) > 1024 {
		errs = append(errs, "'message' must be at most 1024 characters.")
	}
	return errs
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func list[T ~string](s []T) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = `"` + string(v) + `"`
	}
	return strings.Join(q, ", ")
}
