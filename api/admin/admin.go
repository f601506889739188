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
	mux.Handle("GET "+Prefix+"audit", handleAudit(store, logger, time.Now))
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NotFound", "No admin API at this path. rekey serves GET "+Prefix+"keys/usage?resource={ARM id}, GET "+Prefix+"audit, "+Prefix+"servicePrincipals[/{appId}], POST "+Prefix+"signingKeys/rotate, "+Prefix+"apply, "+Prefix+"reset and "+Prefix+"faults[/{id}].")
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
		p, err := auth.Authenticate(r.Context(), strings.TrimSpace(tok))
		if err != nil {
			if rekey.ErrorCode(err) == rekey.Unauthorized {
				lim.Fail(addr, now)
				writeError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
			} else {
				writeDomainError(w, r, logger, err)
			}
			return
		}
		rekey.NoteRequest(r.Context(), p, adminAction(r), rekey.Clip(r.URL.Path, 1024))
		next.ServeHTTP(w, r.WithContext(rekey.WithPrincipal(r.Context(), p)))
	})
}

// adminAction names an admin API request for the audit log, in the shape
// of Azure's actions: "rekey/" and the path below Prefix without the
// names it carries, then read, write, delete or action, as in
// "rekey/servicePrincipals/credentials/reset/action".
func adminAction(r *http.Request) rekey.Action {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, Prefix), "/"), "/")
	kept := []string{"rekey"}
	for i, s := range segs {
		if i > 0 && (segs[i-1] == "servicePrincipals" || segs[i-1] == "faults") {
			continue // an appId or a fault id
		}
		kept = append(kept, rekey.Clip(s, 40))
	}
	verb := map[string]string{http.MethodGet: "read", http.MethodHead: "read", http.MethodPut: "write",
		http.MethodPatch: "write", http.MethodDelete: "delete"}[r.Method]
	if verb == "" {
		verb = "action"
		if r.Method == http.MethodPost && (len(segs) == 1 && segs[0] == "servicePrincipals" || segs[0] == "faults" && len(segs) == 1) {
			verb = "write" // creates one
		}
	}
	return rekey.Action(strings.Join(append(kept, verb), "/"))
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
	// LastRotated is when the slot's key last changed after it was first
	// set (null if never); LastRotatedBy who changed it, as the audit log
	// remembers ("" once its record is pruned).
	LastRotated   *time.Time `json:"lastRotated"`
	LastRotatedBy string     `json:"lastRotatedBy"`
}

// serveUsage handles GET /rekey/v1/keys/usage?resource={ARM id}: per key
// slot, how many gateway requests used it and when it was last used, for an
// online endpoint (its keys) or a QnAMaker account (its endpoint keys).
func serveUsage(w http.ResponseWriter, r *http.Request, store rekey.Store, logger *slog.Logger) {
	res := r.URL.Query().Get("resource")
	var (
		owner  string
		rotate rekey.Action
	)
	if id, err := rekey.ParseEndpointID(res); err == nil {
		owner, rotate = id.Key(), rekey.ActionEndpointRegenerate
	} else if id, err := rekey.ParseAccountID(res); err == nil {
		owner, rotate = id.EndpointKeys(), rekey.ActionQnAKeysRefresh
	} else {
		writeError(w, http.StatusBadRequest, "BadArgument", "The query parameter 'resource' must be the ARM id of an online endpoint or a Cognitive Services account.")
		return
	}
	var (
		usage   []rekey.KeyUsage
		keys    []rekey.StoredKey
		rotated map[rekey.Slot]rekey.AuditRecord
	)
	err := store.View(r.Context(), func(tx rekey.Tx) (err error) {
		keys, err = tx.Keys(owner)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return rekey.Errorf(rekey.NotFound, "No resource with keys has the id '%s'.", res)
		}
		if usage, err = tx.KeyUsage(owner); err != nil {
			return err
		}
		rotated, err = lastRotations(tx, res, rotate)
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
		for _, k := range keys {
			if k.Slot == s && k.Version > 1 {
				t := k.UpdatedAt.UTC()
				su.LastRotated = &t
			}
		}
		if a, ok := rotated[s]; ok && su.LastRotated != nil {
			su.LastRotatedBy = a.PrincipalName
			if su.LastRotatedBy == "" {
				su.LastRotatedBy = a.PrincipalID
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
