// Package admin serves rekey's own management API, for what Azure has no
// API for: which key slots clients still use, and a reset to empty. It
// takes the admin bearer token and answers in a small JSON dialect of its
// own, with ARM's error envelope shape.
package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/reqinfo"
	"github.com/rekey-dev/rekey/throttle"
)

// Authenticator checks the admin bearer token (see arm.Authenticator).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (rekey.Principal, error)
}

// Prefix is where the admin API is mounted.
const Prefix = "/rekey/v1/"

// New returns the admin API handler. flush, when not nil, writes the
// gateway's pending usage counts before they are read: with a gateway in
// the same process, usage is then exact; one in another process writes
// them every --usage-flush. lim (or nil) throttles addresses that fail
// authentication too often; it takes the ARM API's token, so the two
// share one limiter.
//
// id, when not nil, adds the token service's administration: service
// principals and signing key rotation (see mountIdentity). apply, when
// not nil, adds POST /rekey/v1/apply for seed files (see mountApply).
//
// mounts add handlers served by other packages (fault injection) behind
// the same admin authentication.
func New(store rekey.Store, auth Authenticator, logger *slog.Logger, flush func(context.Context) error, id Identity, apply Applier, lim *throttle.Limiter, mounts ...Mount) http.Handler {
	mux := http.NewServeMux()
	if id != nil {
		mountIdentity(mux, store, id, logger)
	}
	if apply != nil {
		mountApply(mux, apply, logger)
	}
	for _, m := range mounts {
		mux.Handle(m.Pattern, m.Handler)
	}
	mux.HandleFunc("GET "+Prefix+"keys/usage", func(w http.ResponseWriter, r *http.Request) {
		if flush != nil {
			if err := flush(r.Context()); err != nil {
				logger.WarnContext(r.Context(), "flushing usage before reading it", "err", err)
			}
		}
		serveUsage(w, r, store, logger)
	})
	mux.Handle(Prefix+"reset", handleReset(store, flush, logger))
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NotFound", "No admin API at this path. rekey serves GET "+Prefix+"keys/usage?resource={ARM id}, "+Prefix+"servicePrincipals[/{appId}], POST "+Prefix+"signingKeys/rotate, "+Prefix+"apply, "+Prefix+"reset and "+Prefix+"faults[/{id}].")
	}
	mux.HandleFunc(Prefix, notFound)
	mux.HandleFunc(strings.TrimSuffix(Prefix, "/"), notFound) // else ServeMux redirects to Prefix
	return RequireToken(auth, logger, lim, mux)
}

// RequireToken serves next only to a request bearing the admin token,
// and answers 401 in the admin API's envelope otherwise. lim (or nil)
// refuses addresses that failed too often, before their token is looked
// at. /metrics uses it under --metrics-auth.
func RequireToken(auth Authenticator, logger *slog.Logger, lim *throttle.Limiter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := reqinfo.ID(r.Context()); id != "" {
			w.Header().Set("x-ms-request-id", id) // the id its log lines carry
		}
		addr, now := throttle.Addr(r), time.Now()
		if retry, throttled := lim.Throttled(addr, now); throttled {
			w.Header().Set("Retry-After", throttle.RetryAfter(retry))
			writeError(w, http.StatusTooManyRequests, "TooManyRequests", throttle.Message(retry))
			return
		}
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" { // schemes are case-insensitive
			lim.Fail(addr, now)
			writeError(w, http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. Send 'Authorization: Bearer <admin token>'.")
			return
		}
		if _, err := auth.Authenticate(r.Context(), strings.TrimSpace(tok)); err != nil {
			if rekey.ErrorCode(err) == rekey.Unauthorized {
				lim.Fail(addr, now)
				writeError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
			} else {
				writeDomainError(w, r, logger, err)
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Mount is a handler of the admin API that another package serves.
type Mount struct {
	Pattern string // a ServeMux pattern under Prefix
	Handler http.Handler
}

type slotUsage struct {
	Slot          string     `json:"slot"`
	Requests      int64      `json:"requests"`
	GraceRequests int64      `json:"graceRequests"`
	LastUsed      *time.Time `json:"lastUsed"`
}

// serveUsage handles GET /rekey/v1/keys/usage?resource={ARM id}: per key
// slot, how many gateway requests used it and when it was last used, for an
// online endpoint (its keys) or a QnAMaker account (its endpoint keys).
func serveUsage(w http.ResponseWriter, r *http.Request, store rekey.Store, logger *slog.Logger) {
	res := r.URL.Query().Get("resource")
	var owner string
	if id, err := rekey.ParseEndpointID(res); err == nil {
		owner = id.Key()
	} else if id, err := rekey.ParseAccountID(res); err == nil {
		owner = id.EndpointKeys()
	} else {
		writeError(w, http.StatusBadRequest, "BadArgument", "The query parameter 'resource' must be the ARM id of an online endpoint or a Cognitive Services account.")
		return
	}
	var usage []rekey.KeyUsage
	err := store.View(r.Context(), func(tx rekey.Tx) (err error) {
		keys, err := tx.Keys(owner)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return rekey.Errorf(rekey.NotFound, "No resource with keys has the id '%s'.", res)
		}
		usage, err = tx.KeyUsage(owner)
		return err
	})
	if rekey.ErrorCode(err) == rekey.NotFound {
		writeError(w, http.StatusNotFound, "ResourceNotFound", rekey.ErrorMessage(err))
		return
	}
	if err != nil {
		writeDomainError(w, r, logger, err)
		return
	}
	out := struct {
		Resource string      `json:"resource"`
		Keys     []slotUsage `json:"keys"`
	}{Resource: res}
	for _, s := range rekey.Slots {
		su := slotUsage{Slot: string(s)}
		for _, u := range usage {
			if u.Slot == s {
				su.Requests, su.GraceRequests = u.Requests, u.GraceRequests
				if !u.LastUsed.IsZero() {
					t := u.LastUsed
					su.LastUsed = &t
				}
			}
		}
		out.Keys = append(out.Keys, su)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(out)
}

// retryUnavailable is the Retry-After of a 503: the database is away,
// and the store reconnects by itself within seconds of its return.
const retryUnavailable = "5"

func writeError(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", retryUnavailable)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}
