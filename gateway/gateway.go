// Package gateway is rekey's data plane: it authenticates scoring and QnA
// runtime requests against the keys the management API rotates, and
// forwards them to real upstreams (a model server such as vLLM, Ollama or
// Triton, or a QnA runtime). Two HTTP layers serve it with the same
// answers: FastServer, on fasthttp (rekey serve's default), and the
// Gateway itself as an http.Handler, with httputil.ReverseProxy.
//
// Keys are checked against an in-memory table of key fingerprints that
// the store's change feed keeps current: in the same process the table is
// updated before a key change's Update returns, so a regenerated key is
// refused on the very next request.
package gateway

import (
	"context"
	"encoding/json"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/metrics"
	"github.com/rekey-dev/rekey/throttle"
)

// Config configures a Gateway. Zero durations and limits take the defaults
// noted.
type Config struct {
	Source  Source
	Keyring *rekey.Keyring
	Logger  *slog.Logger
	Metrics *metrics.Registry // or nil
	// Tokens verifies the access tokens of AADToken endpoints; nil
	// refuses them all.
	Tokens TokenVerifier
	// Authz authorizes verified AADToken callers (score/action); nil
	// authorizes them all.
	Authz Authorizer

	// PropagationDelay simulates a stale cache in a cloud's propagation
	// window: after a key change this gateway observes live, the new key
	// is refused, and the key it replaced still accepted, until the
	// change's time plus this delay, never longer. A gateway loaded from
	// the store (a start or restart) has no stale state. 0
	// (Azure-faithful) by default.
	PropagationDelay time.Duration
	// FailLimit failed authentications within FailWindow from one address
	// throttle it for a FailWindow: its requests get 429 without their
	// credential being checked. Defaults 20 in 10s; -1 disables.
	FailLimit  int
	FailWindow time.Duration
	// MaxRequestBody limits request bodies (default 64 MiB); MaxResponseBody
	// cuts off larger upstream responses (default 0, unlimited).
	MaxRequestBody, MaxResponseBody int64
	// ConnectTimeout (default 5s) and ResponseHeaderTimeout (default 5m)
	// bound the upstream; a streaming body is never cut off.
	ConnectTimeout, ResponseHeaderTimeout time.Duration
	// SyncInterval is how often the change feed is polled for changes made
	// by other processes (default 1s): the fallback, when Source is a
	// rekey.Notifier, for notifications lost while its listener was away. UsageFlush is how often usage counts
	// are written to the store (default 2s).
	SyncInterval, UsageFlush time.Duration
	// AccessLog logs one line per request (default true via New's callers).
	AccessLog bool
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Ready reports whether the store answers, for /readyz; default: an
	// empty read transaction on Source.
	Ready func(ctx context.Context) error
	// Database, when not nil, is the process's view of the database's
	// reachability (since when it is down), shown in /readyz.
	Database *metrics.Database
}

// Gateway is the data-plane handler. Start it after New; Stop flushes
// usage and waits for its goroutines.
type Gateway struct {
	cfg       Config
	tbl       *table
	limiter   *throttle.Limiter // nil: no throttling
	transport *http.Transport
	errorLog  *log.Logger
	mirrorc   *http.Client
	m         gatewayMetrics

	stop      context.CancelFunc
	wg        sync.WaitGroup // background loops and mirror requests
	closed    chan struct{}  // closed by Stop; ends the stream watch loop
	closeOnce sync.Once
	streams   streams       // open long-lived responses, re-checked on changes
	sem       chan struct{} // bounds concurrent mirror requests

	clientsMu sync.Mutex
	clients   map[string]*fasthttp.HostClient // the fast engine's, by scheme://host:port; guarded by clientsMu

	dirtyMu sync.Mutex
	dirty   []*keySet // key sets with unflushed usage; guarded by dirtyMu

	healthMu    sync.Mutex
	behindSince time.Time // when syncing last started failing; zero once a sync succeeds; guarded by healthMu
}

// New builds a Gateway and loads its table from the store.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.FailLimit == 0 {
		cfg.FailLimit = 20
	}
	if cfg.FailWindow == 0 {
		cfg.FailWindow = 10 * time.Second
	}
	if cfg.MaxRequestBody == 0 {
		cfg.MaxRequestBody = 64 << 20
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.ResponseHeaderTimeout == 0 {
		cfg.ResponseHeaderTimeout = 5 * time.Minute
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = time.Second
	}
	if cfg.UsageFlush == 0 {
		cfg.UsageFlush = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = &metrics.Registry{}
	}
	g := &Gateway{cfg: cfg, tbl: newTable(cfg.Keyring, cfg.Logger), limiter: throttle.New(cfg.FailLimit, cfg.FailWindow),
		m: newGatewayMetrics(cfg.Metrics), sem: make(chan struct{}, 64), closed: make(chan struct{})}
	g.tbl.delay, g.tbl.now, g.tbl.changed = cfg.PropagationDelay, cfg.Now, g.recheck
	transport := &http.Transport{
		Proxy:                 nil, // upstreams are addressed directly
		DialContext:           (&net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		// A proxy passes the client's Accept-Encoding through as it is,
		// rather than adding gzip and inflating the answer itself.
		DisableCompression: true,
	}
	g.transport, g.errorLog = transport, slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)
	g.tbl.newProxy = g.newProxy
	// A mirror's redirect is not followed: its answer is discarded anyway,
	// and following it would send the copy somewhere outside the base.
	g.mirrorc = &http.Client{Transport: transport, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if err := g.tbl.load(ctx, cfg.Source); err != nil {
		return nil, err
	}
	return g, nil
}

// Sync applies the store's change feed now. The server wires it to the
// store's Watch, so changes made in this process apply before their
// Update returns.
func (g *Gateway) Sync() {
	g.syncNow(context.Background())
}

// syncNow syncs and records whether the gateway follows the store: while
// it cannot, it keeps serving the table it last applied (no key can
// change while nobody can write the database), and says so in /readyz.
func (g *Gateway) syncNow(ctx context.Context) error {
	err := g.tbl.sync(ctx, g.cfg.Source)
	g.healthMu.Lock()
	defer g.healthMu.Unlock()
	switch {
	case err == nil && !g.behindSince.IsZero():
		g.cfg.Logger.Info("gateway caught up with the store's change feed", "behind_for", time.Since(g.behindSince).Round(time.Millisecond).String())
		g.behindSince = time.Time{}
	case err != nil && g.behindSince.IsZero():
		g.behindSince = time.Now().UTC()
		g.cfg.Logger.Error("gateway sync: the store does not answer; serving the key table last applied", "err", err)
	case err != nil:
		g.cfg.Logger.Debug("gateway sync", "err", err)
	}
	return err
}

// behind returns since when the gateway has not been able to follow the
// store, or the zero time.
func (g *Gateway) behind() time.Time {
	g.healthMu.Lock()
	defer g.healthMu.Unlock()
	return g.behindSince
}

// Start runs the loops that follow other processes' changes and flush
// usage counts.
func (g *Gateway) Start(ctx context.Context) {
	ctx, g.stop = context.WithCancel(ctx)
	g.wg.Add(1)
	var notified <-chan struct{} // another replica changed the feed
	if n, ok := g.cfg.Source.(rekey.Notifier); ok {
		notified = n.Notify(ctx)
	}
	go func() {
		defer g.wg.Done()
		sync, flush := time.NewTicker(g.cfg.SyncInterval), time.NewTicker(g.cfg.UsageFlush)
		defer sync.Stop()
		defer flush.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-notified:
				g.syncNow(ctx)
			case <-sync.C:
				g.syncNow(ctx)
			case <-flush.C:
				g.FlushUsage(ctx)
			}
		}
	}()
}

// Stop ends the loops, waits for mirror requests, and flushes usage.
func (g *Gateway) Stop(ctx context.Context) error {
	if g.stop != nil {
		g.stop()
	}
	g.closeOnce.Do(func() { close(g.closed) })
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.FlushUsage(ctx)
}

// ServeHTTP routes a data-plane request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/endpoints/"):
		g.serveScoring(w, r)
	case isQnARuntime(p):
		g.serveQnA(w, r)
	case p == "/healthz":
		writeProbe(w, http.StatusOK, "ok")
	case p == "/readyz":
		g.serveReady(w, r)
	default:
		writeML(w, http.StatusNotFound, "No route for this path. Scoring URIs have the form /endpoints/{endpointName}/score.")
	}
}

// serveReady answers /readyz: ready once the key table is loaded (New
// loads it). A gateway stays ready while the store does not answer, so
// load balancers keep it: it serves the table it last applied, which is
// exact, since no key can change while nobody can write the database.
// The body says so ("database": "unreachable", and since when). When
// the store answers again, the gateway catches up with the change feed
// before it says "up".
func (g *Gateway) serveReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	ready := g.cfg.Ready
	if ready == nil {
		ready = g.storeReady
	}
	err := ready(ctx)
	if err == nil && !g.behind().IsZero() {
		err = g.syncNow(ctx) // caught up before it says it follows
	}
	if err != nil {
		since := g.behind()
		if since.IsZero() {
			since = time.Now().UTC()
			if g.cfg.Database != nil {
				if s, down := g.cfg.Database.Down(); down {
					since = s
				}
			}
		}
		g.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "gateway ready on its last key table: the store does not answer", slog.String("err", err.Error()))
		writeJSONProbe(w, http.StatusOK, readyBody{Status: "ready", Database: "unreachable", DatabaseUnreachableSince: since.Format(time.RFC3339Nano),
			Message: "The database does not answer: this gateway serves the key table it last applied (no key can change meanwhile)."})
		return
	}
	writeJSONProbe(w, http.StatusOK, readyBody{Status: "ready", Database: "up"})
}

// readyBody is the gateway's /readyz answer.
type readyBody struct {
	Status                   string `json:"status"`
	Database                 string `json:"database"`
	DatabaseUnreachableSince string `json:"databaseUnreachableSince,omitempty"`
	Message                  string `json:"message,omitempty"`
}

func writeJSONProbe(w http.ResponseWriter, status int, body readyBody) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// storeReady is the default readiness check: an empty read transaction.
func (g *Gateway) storeReady(ctx context.Context) error {
	return g.cfg.Source.View(ctx, func(rekey.Tx) error { return nil })
}

func writeProbe(w http.ResponseWriter, status int, word string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(`{"status":"` + word + `"}` + "\n"))
}

// isQnARuntime reports POST /qnamaker/knowledgebases/{kbId}/generateAnswer or /train.
func isQnARuntime(p string) bool {
	rest, ok := cutPrefixFold(p, "/qnamaker/knowledgebases/")
	if !ok {
		return false
	}
	kb, op, ok := strings.Cut(rest, "/")
	return ok && kb != "" && (strings.EqualFold(op, "generateAnswer") || strings.EqualFold(op, "train"))
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}
