package fault

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/rekey-dev/rekey"
)

// Counter counts injected faults by kind and operation; metrics.CounterVec
// is one.
type Counter interface {
	Add(n int64, labels ...string)
}

// Injector applies a Set's faults to requests. Logger and Counted may be
// nil.
type Injector struct {
	Set     *Set
	Logger  *slog.Logger
	Counted Counter // rekey_faults_injected_total{kind,operation}
}

// Failure is a Failed fault handed to the ARM dialect through the
// request's context: it answers as if it had started a long-running
// operation, writes nothing but that operation, and the runner ends it
// Failed with Code and Message.
type Failure struct {
	FaultID string
	Status  int // for a request that starts no operation
	Code    string
	Message string
}

type failureKey struct{}

// FailureFrom returns the Failed fault injected into ctx, if any.
func FailureFrom(ctx context.Context) (Failure, bool) {
	f, ok := ctx.Value(failureKey{}).(Failure)
	return f, ok
}

// requestIDHeader is where each dialect puts its request id.
var requestIDHeader = map[Dialect]string{
	DialectARM:     "x-ms-request-id",
	DialectQnA:     "apim-request-id",
	DialectGateway: "x-request-id",
}

// Middleware injects the faults that match requests to next, an API of
// dialect d. While no fault is set a request costs one atomic load
// (BenchmarkMiddleware); otherwise its classification, one lock and a
// scan of the set.
func (in *Injector) Middleware(d Dialect, next http.Handler) http.Handler {
	if in == nil || in.Set == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if in.Set.Empty() {
			next.ServeHTTP(w, r)
			return
		}
		req := Classify(d, r)
		if d == DialectGateway && req.Operation != Gateway {
			next.ServeHTTP(w, r)
			return
		}
		f, ok := in.Set.Match(req, func(f *Fault) bool {
			return d == DialectARM || f.Operation != ARM
		})
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		switch f.Kind {
		case Latency:
			t := time.NewTimer(time.Duration(f.Latency))
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
			}
			next.ServeHTTP(w, r)
			in.log(r, d, f, w.Header().Get(requestIDHeader[d]))
		case Failed:
			if d == DialectARM {
				ctx := context.WithValue(r.Context(), failureKey{}, Failure{FaultID: f.ID, Status: f.Status, Code: or(f.Code, "InternalServerError"), Message: f.Message})
				next.ServeHTTP(w, r.WithContext(ctx))
				in.log(r, d, f, w.Header().Get(requestIDHeader[d]))
				return
			}
			in.log(r, d, f, in.answer(w, d, f.Status, or(f.Code, "ServiceError"), f.Message))
		case Throttle:
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
			code := map[Dialect]string{DialectARM: "TooManyRequests", DialectQnA: "QuotaExceeded"}[d]
			in.log(r, d, f, in.answer(w, d, http.StatusTooManyRequests, or(f.Code, code),
				or(f.Message, "Too many requests (a fault injected by rekey). Retry after "+strconv.Itoa(f.RetryAfter)+" seconds.")))
		case Error:
			code := map[Dialect]string{DialectARM: "InternalServerError", DialectQnA: "ServiceError"}[d]
			if f.Status == http.StatusServiceUnavailable && d == DialectARM {
				code = "ServiceUnavailable"
			}
			in.log(r, d, f, in.answer(w, d, f.Status, or(f.Code, code), or(f.Message, "The server failed (a fault injected by rekey).")))
		case Reset:
			in.log(r, d, f, "")
			reset(w)
		}
	})
}

// answer writes an error in d's envelope and returns the request id it
// gave the response.
func (in *Injector) answer(w http.ResponseWriter, d Dialect, status int, code, msg string) string {
	id := rekey.NewGUID()
	h := w.Header()
	h.Set(requestIDHeader[d], id)
	h.Set("Content-Type", "application/json; charset=utf-8")
	var body any
	switch d {
	case DialectGateway:
		body = struct {
			Message string `json:"message"`
		}{msg}
	default:
		if d == DialectARM {
			h.Set("x-ms-error-code", code)
		}
		type detail struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		body = struct {
			Error detail `json:"error"`
		}{detail{code, msg}}
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
	return id
}

// reset drops the connection with a TCP RST (linger 0), so the client
// sees "connection reset by peer" rather than a clean close. Under
// HTTP/2, where the connection is shared, it resets the stream instead.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	raw.Close()
}

func (in *Injector) log(r *http.Request, d Dialect, f Fault, requestID string) {
	if in.Counted != nil {
		in.Counted.Add(1, string(f.Kind), string(f.Operation))
	}
	if in.Logger != nil {
		in.Logger.LogAttrs(r.Context(), slog.LevelWarn, "fault injected",
			slog.String("fault_id", f.ID), slog.String("kind", string(f.Kind)), slog.String("operation", string(f.Operation)),
			slog.String("dialect", string(d)), slog.String("request_id", requestID),
			slog.String("method", r.Method), slog.String("path", r.URL.Path))
	}
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
