package cli

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/admin"
	"github.com/rekey-dev/rekey/api/arm"
	"github.com/rekey-dev/rekey/api/qna"
	"github.com/rekey-dev/rekey/fault"
	"github.com/rekey-dev/rekey/gateway"
	"github.com/rekey-dev/rekey/identity"
	"github.com/rekey-dev/rekey/localca"
	"github.com/rekey-dev/rekey/metrics"
	"github.com/rekey-dev/rekey/ops"
	"github.com/rekey-dev/rekey/server"
)

const serveHelp = `Usage: rekey serve [flags]

Runs the management API: Azure Resource Manager's dialect for
Microsoft.MachineLearningServices workspaces and online endpoints and
Microsoft.CognitiveServices accounts, and the QnA Maker authoring API
(/qnamaker/v4.0, v5.0-preview.1, v5.0-preview.2), on HTTPS with a local
CA created in the data directory on first start.

Examples:
  rekey serve
  rekey serve --data /var/lib/rekey --listen 0.0.0.0:7443
  rekey serve --operation-delay 10s       # realistic polling for your client code
  rekey serve --in-memory                 # for tests: nothing persists
  REKEY_ADMIN_TOKEN=... rekey serve --insecure-http --listen 127.0.0.1:8080
`

// runServe runs the server until ctx is done, then shuts it down in
// reverse order of start: listener, operation runner, store.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg, validate := bindServe(fs, getenv)
	if err := parseFlags(fs, args, stderr, serveHelp); err != nil {
		return helpOK(err)
	}
	if err := validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	logger := newLogger(cfg.LogFormat, stderr)
	tuneGC(getenv)

	removeDir, err := prepareDataDir(cfg)
	if err != nil {
		return err
	}
	defer removeDir() // last: after the listeners and loops have stopped
	master, err := masterKey(cfg.DataDir, getenv, logger)
	if err != nil {
		return err
	}
	keyring, err := rekey.NewKeyring(master)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	reg := &metrics.Registry{}
	// Faults live in memory, per process (see package fault).
	faults := &fault.Injector{Set: fault.NewSet(), Logger: logger, Counted: reg.Counter("rekey_faults_injected_total",
		"Faults injected on purpose (rekey fault add), by kind and operation.", "kind", "operation")}
	var (
		servers []*http.Server
		stops   []func(context.Context) error // in start order; run in reverse
		gw      *gateway.Gateway
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
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i](shutdownCtx)
		}
	}()

	gatewayURL := cfg.GatewayURL
	if cfg.gateway() {
		gw, err = gateway.New(ctx, gateway.Config{
			Source: store, Keyring: keyring, Logger: logger, Metrics: reg,
			PropagationDelay: cfg.PropagationDelay, FailLimit: failLimit(cfg.AuthFailLimit), FailWindow: cfg.AuthFailWindow,
			MaxRequestBody: cfg.GatewayMaxRequestBody, MaxResponseBody: cfg.GatewayMaxResponseBody,
			ConnectTimeout: cfg.UpstreamConnectTimeout, ResponseHeaderTimeout: cfg.UpstreamResponseTimeout,
			SyncInterval: cfg.SyncInterval, UsageFlush: cfg.UsageFlush, AccessLog: cfg.GatewayAccessLog,
		})
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		store.Watch(gw.Sync) // this process's key changes apply before their Update returns
		gw.Start(context.WithoutCancel(ctx))
		stops = append(stops, gw.Stop)
		ln, err := net.Listen("tcp", cfg.GatewayListen)
		if err != nil {
			return fmt.Errorf("--gateway-listen: %w", err)
		}
		scheme := "http"
		if cfg.GatewayTLS || cfg.GatewayTLSCert != "" {
			conf, _, err := serverTLS(cfg.DataDir, cfg.GatewayTLSCert, cfg.GatewayTLSKey, cfg.GatewayListen)
			if err != nil {
				ln.Close()
				return fmt.Errorf("gateway TLS: %w", err)
			}
			ln, scheme = tls.NewListener(ln, conf), "https"
		}
		if gatewayURL == "" {
			gatewayURL = scheme + "://" + ln.Addr().String()
		}
		var h http.Handler = faults.Middleware(fault.DialectGateway, gw)
		if !cfg.management() {
			h = withMetrics(reg, gw) // no management listener to serve them
		}
		serve(&http.Server{Handler: h, ReadHeaderTimeout: cfg.ReadHeaderTimeout, IdleTimeout: cfg.IdleTimeout,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}, ln)
		fmt.Fprintf(stdout, "rekey %s: data-plane gateway on %s://%s\n", version(), scheme, ln.Addr())
	}
	if gatewayURL == "" {
		gatewayURL = "http://127.0.0.1:7080"
	}

	if cfg.management() {
		token, tokenFromEnv, err := adminToken(cfg.DataDir, getenv)
		if err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		principal := &rekey.Principal{ID: "admin", Name: "admin", Type: "Application"}
		if err := store.Update(ctx, func(tx rekey.Tx) error { return tx.PutPrincipal(principal, rekey.TokenHash(token)) }); err != nil {
			return err
		}
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
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
		runner.OperationRetention, runner.UsageRetention = cfg.OperationRetention, cfg.UsageRetention
		runner.PruneEvery = pruneEvery(cfg.OperationRetention, cfg.UsageRetention)
		runner.Start(context.WithoutCancel(ctx))
		stops = append(stops, runner.Stop)
		ids, idBanner, err := startIdentity(ctx, cfg, store, keyring, logger)
		if err != nil {
			ln.Close()
			return err
		}
		auth := server.TokenAuth{Store: store}
		armAPI := arm.New(arm.Config{
			Store: store, Keyring: keyring, Logger: logger, Wake: runner.Wake,
			Auth:           identity.Authenticator{Verifier: ids.Verifier(identity.ARMAudiences), Opaque: auth},
			OperationDelay: cfg.OperationDelay, APIVersions: cfg.apiVersions(), TokenLifetime: cfg.AMLTokenLifetime,
			GatewayURL: gatewayURL, PublicURL: cfg.PublicURL, MaxBody: cfg.MaxBody, Tenant: ids.Tenant(),
		})
		qnaAPI := qna.New(qna.Config{
			Store: store, Keyring: keyring, Logger: logger,
			InstalledVersion: cfg.QnAInstalled, LastStableVersion: cfg.QnALastStable, Language: cfg.QnALanguage,
		})
		tokenService := ids.Handler()
		serve(&http.Server{
			Handler: server.New(server.Options{Logger: logger, Ready: store.Ready,
				API: faults.Middleware(fault.DialectARM, armAPI), QnA: faults.Middleware(fault.DialectQnA, qnaAPI), IsQnA: qna.IsPath,
				Identity: tokenService, IsIdentity: func(r *http.Request) bool { return identity.Serves(tokenService, r) },
				Admin: admin.New(store, auth, logger, flushUsage(gw), ids, faultRoutes(faults.Set)...), Metrics: reg.Handler(), BodyTimeout: cfg.BodyTimeout}),
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}, ln)
		fmt.Fprintf(stdout, "rekey %s: management API on %s://%s\n", version(), scheme, ln.Addr())
		if caFile != "" {
			fmt.Fprintf(stdout, "  trust this CA:  %s\n", caFile)
		}
		if tokenFromEnv {
			fmt.Fprintf(stdout, "  admin token:    from REKEY_ADMIN_TOKEN\n")
		} else {
			fmt.Fprintf(stdout, "  admin token in: %s\n", filepath.Join(cfg.DataDir, adminTokenFile))
		}
		idBanner(stdout, scheme+"://"+ln.Addr().String())
	}
	fmt.Fprintf(stdout, "  data directory: %s\n", cfg.DataDir)
	if cfg.InMemory {
		fmt.Fprintf(stdout, "  state:          in memory; nothing persists across restarts%s\n", tempNote(cfg))
	}

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

// withMetrics serves /metrics in front of h.
func withMetrics(reg *metrics.Registry, h http.Handler) http.Handler {
	m := reg.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			m.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
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

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
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
