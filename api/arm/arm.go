// Package arm serves rekey's management API in Azure Resource Manager's
// dialect for Microsoft.MachineLearningServices: workspaces, online
// endpoints, their keys and tokens, and the long-running operations that
// report on them. routes.go lists every endpoint.
package arm

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/fault"
	"github.com/rekey-dev/rekey/reqinfo"
	"github.com/rekey-dev/rekey/throttle"
)

// Authenticator checks a management bearer token. It is the seam for a
// fuller identity model: today one admin token, later service principals.
type Authenticator interface {
	// Authenticate returns the principal that owns token, or an error with
	// code Unauthorized.
	Authenticate(ctx context.Context, token string) (rekey.Principal, error)
}

// Config holds what the ARM API needs. Zero values take the defaults noted.
type Config struct {
	Store   rekey.Store
	Keyring *rekey.Keyring
	Auth    Authenticator
	Logger  *slog.Logger
	// Wake tells the operation runner that an operation was written.
	Wake func() // or nil
	// OperationDelay is an artificial duration for every long-running
	// operation, for testing clients' polling code; default 0.
	OperationDelay time.Duration
	// APIVersions says which unknown api-versions are accepted; default
	// VersionsNewer (see apiversion.go).
	APIVersions VersionMode
	// GatewayURL is the data-plane base that scoring URIs are built on.
	GatewayURL string
	// PublicURL, when set, is the base of every absolute URL handed out
	// (polling URLs, nextLink), for servers behind a proxy. Otherwise the
	// request's scheme and Host are used.
	PublicURL string
	// TokenLifetime is how long an issued AMLToken is valid; default
	// rekey.DefaultTokenLifetime, Azure ML's own.
	TokenLifetime time.Duration
	// Tenant is the token service's tenant id, named in the
	// WWW-Authenticate header of 401 answers; "" names none.
	Tenant string
	// Subscriptions are subscription ids the server knows besides
	// DefaultSubscription and those that hold resources.
	Subscriptions []string
	// MaxBody limits request bodies; default 1 MiB.
	MaxBody int64
	// Throttle refuses addresses that failed authentication too often;
	// nil throttles nothing.
	Throttle *throttle.Limiter
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Authz authorizes every request by its route's action and scope
	// (routes.go); nil authorizes everything.
	Authz Authorizer
}

type api struct {
	Config
	versions *versionPolicy
}

// New returns the ARM API handler.
func New(cfg Config) http.Handler {
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = rekey.DefaultTokenLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Wake == nil {
		cfg.Wake = func() {}
	}
	a := &api{Config: cfg, versions: &versionPolicy{mode: cfg.APIVersions, logger: cfg.Logger}}
	mux := http.NewServeMux()
	a.addRoutes(mux)
	authed := a.authenticate(cleanPathsOnly(cfg.Logger, mux))
	metadata := a.h(route{}, "Microsoft.Resources/metadata", metadataVersions, a.handleMetadata)
	return withARMHeaders("local", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// az cloud register joins "https://host/" and "/metadata/...": its
		// doubled slash is accepted here, as ARM does.
		if strings.EqualFold(path.Clean(r.URL.Path), "/metadata/endpoints") && r.Method == http.MethodGet {
			metadata.ServeHTTP(w, r) // unauthenticated, as in ARM: clients read it before they sign in
			return
		}
		authed.ServeHTTP(w, r)
	}))
}

// h wraps a handler with the api-version check for its resource type. rt
// names the request's action and scope, which h puts in the request's
// context before anything else runs.
func (a *api) h(rt route, resourceType string, versions []string, fn handlerFunc) http.Handler {
	return handle(a.Logger, func(w http.ResponseWriter, r *http.Request) error {
		reqinfo.SetOperation(r.Context(), reqinfo.Route(r.Pattern))
		if rt.action != "" {
			scope := scopeOf(rt.scope, r)
			r = r.WithContext(rekey.WithAction(r.Context(), rt.action, scope))
			rekey.NoteRequest(r.Context(), rekey.PrincipalFrom(r.Context()), rt.action, scope)
		}
		r, err := a.versions.check(r, resourceType, versions)
		if err != nil {
			return err
		}
		if err := a.authorize(r, rt); err != nil {
			return err
		}
		if f, ok := fault.FailureFrom(r.Context()); ok {
			return a.injectedFailure(w, r, f)
		}
		return fn(w, r)
	})
}

// baseURL is the scheme and host of absolute URLs handed to the caller.
func (a *api) baseURL(r *http.Request) string {
	if a.PublicURL != "" {
		return strings.TrimSuffix(a.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// apiVersion returns the request's api-version for URLs handed back.
func apiVersion(r *http.Request) string { return r.URL.Query().Get("api-version") }

// absURL builds an absolute URL on this server with the given path and query.
func (a *api) absURL(r *http.Request, path string, q url.Values) string {
	u := a.baseURL(r) + (&url.URL{Path: path}).EscapedPath()
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func (a *api) now() time.Time { return a.Now().UTC() }
