package server

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/reqinfo"
)

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withRequestID gives the request its id, in its context (reqinfo): the
// dialects send it in their own header (ARM's x-ms-request-id, QnA
// Maker's apim-request-id), and every line logged with the context
// carries it.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(reqinfo.With(r.Context(), &reqinfo.Info{ID: rekey.NewGUID()})))
	})
}

// accessLog logs one line per request and counts it in the metrics. It
// logs the path but never the query, headers or body, where credentials
// travel.
func accessLog(logger *slog.Logger, m *apiMetrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = 499 // the client went away before an answer
		}
		m.observe(operation(r), status, time.Since(start))
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			return
		}
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
	})
}

// recoverPanics turns a handler panic into a logged 500 instead of a
// dropped connection.
func recoverPanics(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.ErrorContext(r.Context(), "panic", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, `{"error":{"code":"InternalServerError","message":"An internal error occurred."}}`)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
