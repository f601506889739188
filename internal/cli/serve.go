package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/admin"
	"github.com/rekey-dev/rekey/api/arm"
	"github.com/rekey-dev/rekey/api/qna"
	"github.com/rekey-dev/rekey/audit"
	"github.com/rekey-dev/rekey/authz"
	"github.com/rekey-dev/rekey/fault"
	"github.com/rekey-dev/rekey/gateway"
	"github.com/rekey-dev/rekey/identity"
	"github.com/rekey-dev/rekey/localca"
	"github.com/rekey-dev/rekey/metrics"
	"github.com/rekey-dev/rekey/ops"
	"github.com/rekey-dev/rekey/reqinfo"
	"github.com/rekey-dev/rekey/seed"
	"github.com/rekey-dev/rekey/server"
	"github.com/rekey-dev/rekey/store/postgres"
	"github.com/rekey-dev/rekey/throttle"
	"golang.org/x/net/netutil"
)

const serveHelp = `Usage: rekey serve [flags]

Runs rekey's two listeners:

  management API  HTTPS on --listen (127.0.0.1:7443), with a local CA made in
                  the data directory on first start: Azure Resource Manager's
                  dialect for Microsoft.MachineLearningServices workspaces and
                  online endpoints and Microsoft.CognitiveServices accounts,
                  the QnA Maker authoring API (/qnamaker/v4.0, v5.0-preview.1,
                  v5.0-preview.2), the token service and /rekey/v1/ (admin).
  gateway         HTTP on --gateway-listen (127.0.0.1:7080): the data plane.
                  It checks endpoint and QnA keys and forwards requests to
                  the deployments' upstreams (model servers, QnA runtimes).

The data directory (--data, ./rekey-data) holds the database, the CA, the
admin token, the master key and server.json, where the client commands
find the running server's URLs and CA: "rekey workspace list --data DIR"
works with any --listen. The configuration is checked and both listeners
are bound before anything is written there.

Main flags (each also a REKEY_* variable; every flag is listed below):
  --data DIR                  data directory
  --listen HOST:PORT          management API address (port 0: any free port)
  --gateway-listen HOST:PORT  gateway address
  --role ROLE                 all, management or gateway: one plane per process
  --tls-cert, --tls-key       your own certificate instead of the local CA's
  --insecure-http             plain HTTP, behind a TLS-terminating proxy
  --gateway-tls               HTTPS on the gateway too
  --operation-delay D         long-running operations last D, to test polling

Examples:
  rekey serve
  rekey serve --data /var/lib/rekey --listen 0.0.0.0:7443 --gateway-listen 0.0.0.0:7080
  rekey serve --listen 127.0.0.1:0 --gateway-listen 127.0.0.1:0   # free ports; clients read server.json
  rekey serve --operation-delay 10s       # realistic polling for your client code
  rekey serve --seed examples/seed.yaml   # start with known workspaces, endpoints and keys
  rekey serve --in-memory                 # for tests: nothing persists
  REKEY_ADMIN_TOKEN=... rekey serve --insecure-http --listen 127.0.0.1:8080
`

// runServe runs the server until ctx is done, then shuts it down in
// reverse order of start: listener, operation runner, store.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg, validate := bindServe(fs, getenv)
	if err := parseFlags(fs, args, stdout, stderr, serveHelp); err != nil {
		return helpOK(err)
	}
	if err := validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := checkSecretsEnv(getenv); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := cfg.checkCertFiles(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	logger := newLogger(cfg.LogFormat, stderr)
	if cfg.databasePasswordInArgs() {
		logger.Warn("--database holds a password, which every local user can read in the process list (ps); set REKEY_DATABASE_URL instead, or leave the password out of the URL and use PGPASSWORD or a .pgpass file (PGPASSFILE)")
	}
	tuneGC(getenv)
	warnFDLimit(cfg, logger)
	seedFile, err := loadSeed(cfg.Seed) // a broken seed file stops the start before anything is touched
	if err != nil {
		return err
	}

	// Bind every listener before anything touches the data directory: a
	// port in use then leaves nothing half made behind. The banner is
	// printed as one block once everything runs.
	var gatewayLn, managementLn net.Listener
	if cfg.gateway() {
		ln, err := listen(cfg.GatewayListen, cfg.GatewayMaxConnections)
		if err != nil {
			return fmt.Errorf("--gateway-listen: %w", err)
		}
		defer ln.Close() // a no-op once served and shut down
		gatewayLn = ln
	}
	if cfg.management() {
		ln, err := listen(cfg.Listen, cfg.MaxConnections)
		if err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
		defer ln.Close()
		managementLn = ln
	}
	var banner bytes.Buffer
	info := serverInfo{Version: version(), PID: os.Getpid()}

	removeDir, err := prepareDataDir(cfg)
	if err != nil {
		return err
	}
	defer removeDir() // last: after the listeners and loops have stopped
	if err := secureDataDir(cfg.DataDir, logger); err != nil {
		return err
	}
	master, generatedKey, err := masterKey(cfg.DataDir, getenv, logger)
	if err != nil {
		return err
	}
	// forgetKey removes a master key generated by this start when the
	// start fails before the store has accepted it.
	forgetKey := func() {
		if generatedKey != "" {
			os.Remove(generatedKey)
		}
	}
	keyring, err := rekey.NewKeyring(master)
	if err != nil {
		forgetKey()
		return err
	}
	db, err := openStoreWaiting(ctx, cfg, logger)
	if err != nil {
		forgetKey()
		return err
	}
	defer db.Close()
	// Before anything is written: a replica with another master key would
	// seal keys that no other replica can open.
	if err := rekey.CheckMasterKey(ctx, db, keyring); err != nil {
		forgetKey()
		return err
	}
	reg := &metrics.Registry{}
	reg.RegisterRuntime()
	dbState := metrics.NewDatabase(reg)
	store := metrics.Store(db, reg, dbState) // times every transaction, follows the database's reachability
	if err := applySeed(ctx, seedFile, store, keyring, logger, stdout); err != nil {
		return err
	}
	// One limiter for the management listener: the ARM and admin APIs and
	// /metrics (under --metrics-auth) take the same token, and the QnA
	// authoring API and the token service are on the same listener. The
	// gateway keeps its own counts with the same numbers.
	lim := throttle.New(cfg.AuthFailLimit, cfg.AuthFailWindow)
	metricsHandler := reg.Handler()
	if cfg.MetricsAuth {
		metricsHandler = admin.RequireToken(server.TokenAuth{Store: store}, logger, lim, metricsHandler)
	}
	// Faults live in memory, per process (see package fault).
	faults := &fault.Injector{Set: fault.NewSet(), Logger: logger, Counted: reg.Counter("rekey_faults_injected_total",
		"Faults injected on purpose (rekey fault add), by kind and operation.", "kind", "operation")}
	var (
		servers []*http.Server
		stops   []func(context.Context) error // in start order; run in reverse
		gw      *gateway.Gateway
		// shutdowns stop listeners not served by an http.Server (the
		// fast gateway engine's).
		shutdowns []func(context.Context) error
	)
	errc := make(chan error, 2)
	serve := func(srv *http.Server, ln net.Listener) {
		servers = append(servers, srv)
		go func() { errc <- srv.Serve(ln) }()
	}
	defer func() {
		// Shut down in reverse order of start: listeners, then loops.
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		for _, srv := range servers {
			srv.Shutdown(shutdownCtx)
		}
		for _, shutdown := range shutdowns {
			shutdown(shutdownCtx)
		}
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i](shutdownCtx)
		}
	}()

	// One authorizer per process: the ARM API and the gateway share its
	// cached decisions, which this process's role changes drop at once
	// (Watch) and other processes' within --sync-interval (change feed).
	authorizer := &authz.Authorizer{Store: store, Admin: adminPrincipalID, Logger: logger}
	store.Watch(authorizer.Invalidate)
	authzCtx, stopAuthz := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAuthz()
	authorizer.Start(authzCtx, cfg.SyncInterval)

	gatewayURL := cfg.GatewayURL
	if cfg.gateway() {
		tokens, err := newAADTokens(ctx, cfg, store, keyring)
		if err != nil {
			return fmt.Errorf("--tenant-id: %w", err)
		}
		tokens.authz = authorizer
		gw, err = gateway.New(ctx, gateway.Config{
			Source: store, Keyring: keyring, Logger: logger, Metrics: reg, Tokens: tokens, Authz: tokens,
			PropagationDelay: cfg.PropagationDelay, FailLimit: failLimit(cfg.AuthFailLimit), FailWindow: cfg.AuthFailWindow,
			MaxRequestBody: cfg.GatewayMaxRequestBody, MaxResponseBody: cfg.GatewayMaxResponseBody,
			ConnectTimeout: cfg.UpstreamConnectTimeout, ResponseHeaderTimeout: cfg.UpstreamResponseTimeout,
			SyncInterval: cfg.SyncInterval, UsageFlush: cfg.UsageFlush, AccessLog: cfg.GatewayAccessLog,
			Ready: store.Ready, Database: dbState,
		})
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		store.Watch(gw.Sync) // this process's key changes apply before their Update returns
		gw.Start(context.WithoutCancel(ctx))
		stops = append(stops, gw.Stop)
		ln := gatewayLn
		scheme := "http"
		var gatewayTLS *tls.Config
		if cfg.GatewayTLS || cfg.GatewayTLSCert != "" {
			conf, _, err := serverTLS(cfg.DataDir, cfg.GatewayTLSCert, cfg.GatewayTLSKey, cfg.GatewayListen)
			if err != nil {
				ln.Close()
				return fmt.Errorf("gateway TLS: %w", err)
			}
			ln, scheme, gatewayTLS = tls.NewListener(ln, conf), "https", conf
		}
		if gatewayURL == "" {
			gatewayURL = scheme + "://" + ln.Addr().String()
		}
		info.GatewayURL = clientURL(scheme, ln.Addr())
		var h http.Handler = faults.Middleware(fault.DialectGateway, gw)
		if !cfg.management() {
			h = withMetrics(metricsHandler, gw) // no management listener to serve them
		}
		if cfg.GatewayEngine == engineFast {
			// TLS is the fast server's own, so its requests know it.
			o := gateway.FastOptions{ReadHeaderTimeout: cfg.ReadHeaderTimeout, IdleTimeout: cfg.IdleTimeout, BodyTimeout: cfg.BodyTimeout,
				Fallback: server.GuardStalls(cfg.BodyTimeout, faults.Middleware(fault.DialectGateway, gw)), Divert: func() bool { return !faults.Set.Empty() }}
			if !cfg.management() {
				o.Metrics = metricsHandler
			}
			if gatewayTLS != nil {
				o.TLS, ln = gatewayTLS, gatewayLn
			}
			fs := gw.NewFastServer(o)
			shutdowns = append(shutdowns, fs.Shutdown)
			go func() { errc <- fs.Serve(ln) }()
		} else {
			h = server.GuardStalls(cfg.BodyTimeout, h)
			serve(&http.Server{Handler: h, ReadHeaderTimeout: cfg.ReadHeaderTimeout, IdleTimeout: cfg.IdleTimeout,
				ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}, ln)
		}
		fmt.Fprintf(&banner, "rekey %s: data-plane gateway on %s://%s\n", version(), scheme, ln.Addr())
	}
	if gatewayURL == "" {
		gatewayURL = "http://127.0.0.1:7080"
	}
	if info.GatewayURL == "" && cfg.GatewayURL != "" {
		info.GatewayURL = cfg.GatewayURL
	}

	if cfg.management() {
		token, tokenFromEnv, err := adminToken(cfg.DataDir, getenv)
		if err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		if replacesSharedAdminToken(cfg, tokenFromEnv) {
			logger.Warn("the admin token comes from this replica's data directory and replaces the one in the shared database, so the admin tokens of the replicas started before stop working; give every management replica the same REKEY_ADMIN_TOKEN",
				"file", filepath.Join(cfg.DataDir, adminTokenFile))
		}
		principal := &rekey.Principal{ID: adminPrincipalID, Name: "admin", Type: "Application"}
		if err := store.Update(ctx, func(tx rekey.Tx) error { return tx.PutPrincipal(principal, rekey.TokenHash(token)) }); err != nil {
			return err
		}
		ln := managementLn
		scheme, caFile := "https", ""
		if !cfg.InsecureHTTP {
			conf, ca, err := serverTLS(cfg.DataDir, cfg.TLSCert, cfg.TLSKey, cfg.Listen)
			if err != nil {
				ln.Close()
				return err
			}
			ln, caFile = tls.NewListener(ln, conf), ca
		} else {
			scheme = "http"
			logger.Warn("serving plain HTTP (--insecure-http): put a TLS-terminating proxy in front, and set --public-url to its URL")
		}
		runner := ops.New(store, logger)
		rid, err := replicaID(cfg.DataDir)
		if err != nil {
			return err
		}
		runner.Owner = "runner:" + rid
		runner.OperationRetention, runner.UsageRetention, runner.AuditRetention = cfg.OperationRetention, cfg.UsageRetention, cfg.AuditRetention
		runner.Lease = cfg.OperationLease
		runner.PruneEvery = pruneEvery(cfg.OperationRetention, cfg.UsageRetention, cfg.AuditRetention)
		runner.Start(context.WithoutCancel(ctx))
		reg.MustRegister(runner) // its queue depth and age
		stops = append(stops, runner.Stop)
		ids, idBanner, err := startIdentity(ctx, cfg, store, keyring, logger, lim)
		if err != nil {
			return err
		}
		auth := server.TokenAuth{Store: store}
		stream, closeStream, err := openAuditLog(cfg.AuditLog, stdout)
		if err != nil {
			return fmt.Errorf("--audit-log: %w", err)
		}
		stops = append(stops, func(context.Context) error { return closeStream() })
		// The APIs write through the recorder's store, so that a change and
		// its audit record commit together.
		recorder := audit.New(store, logger, stream)
		audited := recorder.Store(store)
		armAPI := arm.New(arm.Config{
			Store: audited, Keyring: keyring, Logger: logger, Wake: runner.Wake,
			Auth:           identity.Authenticator{Verifier: ids.Verifier(identity.ARMAudiences), Opaque: auth},
			OperationDelay: cfg.OperationDelay, APIVersions: cfg.apiVersions(), TokenLifetime: cfg.AMLTokenLifetime,
			GatewayURL: gatewayURL, PublicURL: cfg.PublicURL, MaxBody: cfg.MaxBody, Tenant: ids.Tenant(),
			Subscriptions: cfg.Subscriptions,
			Throttle:      lim,
			Authz:         authorizer,
		})
		qnaAPI := qna.New(qna.Config{
			Store: audited, Keyring: keyring, Logger: logger,
			InstalledVersion: cfg.QnAInstalled, LastStableVersion: cfg.QnALastStable, Language: cfg.QnALanguage, Throttle: lim,
		})
		tokenService := ids.Handler()
		serve(&http.Server{
			Handler: server.New(server.Options{Logger: logger, Ready: store.Ready,
				API: recorder.Middleware(faults.Middleware(fault.DialectARM, armAPI)), QnA: recorder.Middleware(faults.Middleware(fault.DialectQnA, qnaAPI)), IsQnA: qna.IsPath,
				Identity: tokenService, IsIdentity: func(r *http.Request) bool { return identity.Serves(tokenService, r) },
				Admin: recorder.Middleware(admin.New(audited, auth, logger, flushUsage(gw), ids,
					&seed.Applier{Store: audited, Keyring: keyring, Logger: logger, Wake: runner.Wake}, lim, faultRoutes(faults.Set)...)),
				Metrics: metricsHandler, Pprof: pprofHandler(cfg.Pprof, auth, logger, lim), BodyTimeout: cfg.BodyTimeout, Registerer: reg.Registerer()}),
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}, ln)
		fmt.Fprintf(&banner, "rekey %s: management API on %s://%s\n", version(), scheme, ln.Addr())
		if caFile != "" {
			fmt.Fprintf(&banner, "  trust this CA:  %s\n", caFile)
		}
		if tokenFromEnv {
			fmt.Fprintf(&banner, "  admin token:    from REKEY_ADMIN_TOKEN\n")
		} else {
			fmt.Fprintf(&banner, "  admin token in: %s\n", filepath.Join(cfg.DataDir, adminTokenFile))
		}
		idBanner(&banner, scheme+"://"+ln.Addr().String())
		info.ManagementURL, info.CAFile, info.Tenant = clientURL(scheme, ln.Addr()), caFile, ids.Tenant()
	}
	fmt.Fprintf(&banner, "  data directory: %s\n", cfg.DataDir)
	if cfg.Database != "" {
		fmt.Fprintf(&banner, "  database:       %s\n", postgres.Redact(cfg.Database))
	}
	if cfg.InMemory {
		fmt.Fprintf(&banner, "  state:          in memory; nothing persists across restarts%s\n", tempNote(cfg))
	}
	if cfg.management() {
		// Only the management role tells clients where it is: a gateway
		// process sharing the data directory must not replace the file.
		remove, err := writeServerInfo(cfg.DataDir, info)
		if err != nil {
			return fmt.Errorf("%s: %w", serverFile, err)
		}
		defer remove()
		fmt.Fprintf(&banner, "  server file:    %s\n", filepath.Join(cfg.DataDir, serverFile))
	}
	stdout.Write(banner.Bytes())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	return nil
}

// tuneGC trades memory for CPU where the operator has not chosen: the
// gateway's live heap is small and its garbage per request is not, so at
// Go's default (GOGC=100) it collects very often. GC percent 400 raises
// proxied throughput by about a tenth (bench/gateway.sh); the 1 GiB soft
// limit keeps a server with a large key table from growing to five times
// its heap. GOGC and GOMEMLIMIT in the environment win.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

// flushUsage is the usage API's flush: the in-process gateway's, if any.
func flushUsage(gw *gateway.Gateway) func(context.Context) error {
	if gw == nil {
		return nil
	}
	return gw.FlushUsage
}

// faultRoutes mounts the fault injection API in the admin API.
func faultRoutes(set *fault.Set) []admin.Mount {
	h := set.Handler(admin.Prefix)
	return []admin.Mount{{Pattern: admin.Prefix + "faults", Handler: h}, {Pattern: admin.Prefix + "faults/", Handler: h}}
}

// failLimit maps the flag's 0 (off) to the gateway's -1.
func failLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// listen listens on addr, accepting at most max connections at a time
// (0: no limit). Connections beyond the ceiling are not refused: they wait
// in the kernel's accept queue until one closes, as a short burst should;
// a long one overflows that queue and clients see connection timeouts.
func listen(addr string, max int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil || max == 0 {
		return ln, err
	}
	return netutil.LimitListener(ln, max), nil
}

// withMetrics serves /metrics (m) in front of h.
// pprofHandler is /debug/pprof/ under --pprof, behind the admin token
// and its throttle as the admin API has them; nil (the paths answer 404)
// without it.
func pprofHandler(on bool, auth admin.Authenticator, logger *slog.Logger, lim *throttle.Limiter) http.Handler {
	if !on {
		return nil
	}
	return admin.RequireToken(auth, logger, lim, server.Pprof())
}

func withMetrics(m http.Handler, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			m.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// checkCertFiles loads the certificates the operator gave, so a typo is
// reported before the data directory is touched.
func (c *serveConfig) checkCertFiles() error {
	for _, p := range [][3]string{{"--tls-cert", c.TLSCert, c.TLSKey}, {"--gateway-tls-cert", c.GatewayTLSCert, c.GatewayTLSKey}} {
		if p[1] == "" {
			continue
		}
		if _, err := tls.LoadX509KeyPair(p[1], p[2]); err != nil {
			return fmt.Errorf("%s %s: %v", p[0], p[1], err)
		}
	}
	return nil
}

// serverTLS loads the given certificate, or makes sure the local CA in
// dataDir has issued one that covers listen's host.
func serverTLS(dataDir, certFile, keyFile, listen string) (*tls.Config, string, error) {
	caFile := ""
	if certFile == "" {
		host, _, _ := net.SplitHostPort(listen)
		files, _, err := localca.Ensure(dataDir, host)
		if err != nil {
			return nil, "", err
		}
		certFile, keyFile, caFile = files.ServerCert, files.ServerKey, files.CA
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, "", fmt.Errorf("certificate %s: %w", certFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, caFile, nil
}

// newLogger logs to w; a line logged with a request's context carries
// its request_id (reqinfo.LogHandler).
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(reqinfo.LogHandler(slog.NewJSONHandler(w, nil)))
	}
	return slog.New(reqinfo.LogHandler(slog.NewTextHandler(w, nil)))
}

// pruneEvery is how often the runner prunes: a quarter of the shorter
// retention, between a second and an hour, so nothing outlives its
// retention by much and a long retention costs one small query an hour.
func pruneEvery(retentions ...time.Duration) time.Duration {
	every := time.Hour
	for _, r := range retentions {
		if r > 0 {
			every = min(every, r/4)
		}
	}
	return max(every, time.Second)
}

// openAuditLog opens --audit-log for appending (created private: the log
// names principals and addresses), or returns stdout for "-", or nothing.
func openAuditLog(path string, stdout io.Writer) (io.Writer, func() error, error) {
	switch path {
	case "":
		return nil, func() error { return nil }, nil
	case "-":
		return stdout, func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

// adminPrincipalID is the principal id of the admin credential, which is
// Owner at "/" (authz.Authorizer.Admin).
const adminPrincipalID = "admin"

// replacesSharedAdminToken reports whether a management replica on a
// shared database takes its admin token from its own data directory: the
// database keeps one admin credential, so each such replica's start
// silently locks the others' tokens out.
func replacesSharedAdminToken(cfg *serveConfig, tokenFromEnv bool) bool {
	return cfg.Database != "" && cfg.management() && !tokenFromEnv
}
