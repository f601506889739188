package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/arm"
	"github.com/rekey-dev/rekey/api/qna"
	"github.com/rekey-dev/rekey/localca"
	"github.com/rekey-dev/rekey/ops"
	"github.com/rekey-dev/rekey/server"
	"github.com/rekey-dev/rekey/store/sqlite"
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

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	master, err := masterKey(cfg.DataDir, getenv, logger)
	if err != nil {
		return err
	}
	keyring, err := rekey.NewKeyring(master)
	if err != nil {
		return err
	}
	store, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, databaseFile))
	if err != nil {
		return err
	}
	defer store.Close()
	token, tokenFromEnv, err := adminToken(cfg.DataDir, getenv)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	admin := &rekey.Principal{ID: "admin", Name: "admin", Type: "Application"}
	if err := store.Update(ctx, func(tx rekey.Tx) error { return tx.PutPrincipal(admin, rekey.TokenHash(token)) }); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	scheme, caFile := "https", ""
	if !cfg.InsecureHTTP {
		tlsConf, ca, err := serverTLS(cfg, ln.Addr())
		if err != nil {
			ln.Close()
			return err
		}
		ln, caFile = tls.NewListener(ln, tlsConf), ca
	} else {
		scheme = "http"
		logger.Warn("serving plain HTTP (--insecure-http): put a TLS-terminating proxy in front, and set --public-url to its URL")
	}

	runner := ops.New(store, logger)
	runner.Start(context.WithoutCancel(ctx))
	api := arm.New(arm.Config{
		Store: store, Keyring: keyring, Auth: server.TokenAuth{Store: store}, Logger: logger, Wake: runner.Wake,
		OperationDelay: cfg.OperationDelay, LooseAPIVersion: cfg.LooseAPIVersion,
		GatewayURL: cfg.GatewayURL, PublicURL: cfg.PublicURL, MaxBody: cfg.MaxBody,
	})
	qnaAPI := qna.New(qna.Config{
		Store: store, Keyring: keyring, Logger: logger,
		InstalledVersion: cfg.QnAInstalled, LastStableVersion: cfg.QnALastStable, Language: cfg.QnALanguage,
	})
	srv := &http.Server{
		Handler: server.New(server.Options{Logger: logger, Ready: store.Ready, API: api, QnA: qnaAPI, IsQnA: qna.IsPath,
			BodyTimeout: cfg.BodyTimeout}),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	fmt.Fprintf(stdout, "rekey %s: management API on %s://%s\n", version(), scheme, ln.Addr())
	fmt.Fprintf(stdout, "  data directory: %s\n", cfg.DataDir)
	if caFile != "" {
		fmt.Fprintf(stdout, "  trust this CA:  %s\n", caFile)
	}
	if tokenFromEnv {
		fmt.Fprintf(stdout, "  admin token:    from REKEY_ADMIN_TOKEN\n")
	} else {
		fmt.Fprintf(stdout, "  admin token in: %s\n", filepath.Join(cfg.DataDir, adminTokenFile))
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		runner.Stop(context.Background())
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, e)
	}
	return errors.Join(err, runner.Stop(shutdownCtx))
}

// serverTLS loads the configured certificate, or makes sure the local CA
// has issued one for the listen address.
func serverTLS(cfg *serveConfig, addr net.Addr) (*tls.Config, string, error) {
	certFile, keyFile, caFile := cfg.TLSCert, cfg.TLSKey, ""
	if certFile == "" {
		host, _, _ := net.SplitHostPort(cfg.Listen)
		files, _, err := localca.Ensure(cfg.DataDir, host)
		if err != nil {
			return nil, "", err
		}
		certFile, keyFile, caFile = files.ServerCert, files.ServerKey, files.CA
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, "", fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, caFile, nil
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}
