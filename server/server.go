// Package server assembles rekey's HTTP handlers: health and readiness
// probes, shared middleware (panic recovery, access log), and the API
// dialects mounted beneath them.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rekey-dev/rekey"
)

// Readiness reports whether the server can serve; nil means ready.
type Readiness func(ctx context.Context) error

// Options configure New.
type Options struct {
	Logger *slog.Logger
	Ready  Readiness
	API    http.Handler // the ARM dialect: everything but the probes and QnA
	// QnA serves the QnA Maker authoring API; IsQnA tells its paths. Both
	// nil when not served.
	QnA   http.Handler
	IsQnA func(path string) bool
	// Identity serves the token service (login.microsoftonline.com's
	// paths); IsIdentity tells its requests. Both nil when not served.
	Identity   http.Handler
	IsIdentity func(r *http.Request) bool
	// Admin serves rekey's own API under /rekey/; Metrics serves /metrics.
	// Either may be nil.
	Admin, Metrics http.Handler
	// Pprof, when not nil, serves /debug/pprof/ (see Pprof); the caller
	// puts it behind the admin credential. Nil: those paths are the
	// API's, which answers 404.
	Pprof http.Handler
	// BodyTimeout drops a request whose body makes no progress for this
	// long; 0 means no limit.
	BodyTimeout time.Duration
	// Registerer, when not nil, gets the management API's request
	// metrics: counts by operation and status, and latency.
	Registerer prometheus.Registerer
}

// New returns the management-plane handler: /healthz and /readyz
// unauthenticated, everything else to the API.
func New(o Options) http.Handler {
	logger, ready := o.Logger, o.Ready
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			// A management process cannot answer without its database:
			// load balancers should send its requests elsewhere.
			if rekey.ErrorCode(err) == rekey.Unavailable {
				writeJSON(w, http.StatusServiceUnavailable, `{"status":"unavailable","database":"unreachable"}`)
				return
			}
			writeJSON(w, http.StatusServiceUnavailable, `{"status":"unavailable"}`)
			return
		}
		writeJSON(w, http.StatusOK, `{"status":"ready"}`)
	})
	mux.Handle("/", o.API)
	if o.Admin != nil {
		mux.Handle("/rekey/", o.Admin)
		mux.Handle("/rekey", o.API) // else ServeMux redirects to /rekey/
	}
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics)
	}
	if o.Pprof != nil {
		mux.Handle(PprofPrefix, o.Pprof)
		mux.Handle(PprofPrefix[:len(PprofPrefix)-1], o.Pprof) // else ServeMux redirects to PprofPrefix
	}
	// QnA clients build {endpoint}/qnamaker/... from an endpoint ending in
	// '/', so their paths start with "//". ServeMux would redirect those,
	// so QnA paths are routed before it.
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.QnA != nil && o.IsQnA(r.URL.Path) {
			o.QnA.ServeHTTP(w, r)
			return
		}
		if !rekey.IsCleanPath(r.URL.Path) {
			// ServeMux (ours and the token service's) would redirect to
			// the cleaned path, with an HTML body; the API answers in its
			// own envelope instead.
			o.API.ServeHTTP(w, r)
			return
		}
		if o.Identity != nil && o.IsIdentity(r) {
			o.Identity.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	// Management bodies are small: the whole body must also arrive within
	// the body timeout, so a trickle cannot hold a connection either.
	return withRequestID(recoverPanics(logger, accessLog(logger, newAPIMetrics(o.Registerer), GuardStallsWithin(o.BodyTimeout, o.BodyTimeout, root))))
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(body + "\n"))
}

// TokenAuth authenticates management tokens against the hashes in the store.
type TokenAuth struct{ Store rekey.Store }

// Authenticate returns the principal whose token hash matches token.
func (a TokenAuth) Authenticate(ctx context.Context, token string) (rekey.Principal, error) {
	var p *rekey.Principal
	err := a.Store.View(ctx, func(tx rekey.Tx) (err error) {
		p, err = tx.PrincipalByToken(rekey.TokenHash(token))
		return err
	})
	if rekey.ErrorCode(err) == rekey.NotFound {
		return rekey.Principal{}, rekey.Errorf(rekey.Unauthorized, "The token is not valid.")
	}
	if err != nil {
		return rekey.Principal{}, err
	}
	return *p, nil
}
