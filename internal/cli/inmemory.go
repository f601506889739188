package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/store/postgres"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// With --in-memory the state (resources, keys, operations, usage) lives in
// an in-memory SQLite database and dies with the process. The data
// directory still holds what clients need to reach the server: the CA,
// the admin token, the master key (which also seals the token service's
// signing keys) and server.json. Without --data it is a new temporary
// directory, printed in the banner and removed on stop, so that two
// in-memory servers never share one; with --data it is that directory,
// and no database is written there.

// prepareDataDir creates the data directory (a temporary one for
// --in-memory without --data, which it sets in cfg) and returns what
// removes it on stop: nothing unless it was temporary.
func prepareDataDir(cfg *serveConfig) (remove func(), err error) {
	if cfg.InMemory && !cfg.dataGiven {
		dir, err := os.MkdirTemp("", "rekey-")
		if err != nil {
			return nil, fmt.Errorf("temporary data directory: %w", err)
		}
		cfg.DataDir = dir
		return func() { os.RemoveAll(dir) }, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return func() {}, nil
}

// openStore opens the store cfg chooses: PostgreSQL (--database), in
// memory, or the database file in the data directory.
func openStore(ctx context.Context, cfg *serveConfig) (rekey.Store, error) {
	switch {
	case cfg.Database != "":
		return postgres.Open(ctx, cfg.Database)
	case cfg.InMemory:
		return sqlite.OpenMemory(ctx)
	}
	return sqlite.Open(ctx, filepath.Join(cfg.DataDir, databaseFile))
}

// openStoreWaiting is openStore, waiting for a database that does not
// answer yet (a replica that starts before PostgreSQL, or while it
// restarts): it retries with back-off, saying what it waits for, until
// ctx ends. Other errors (a bad URL, a refused password, a failed
// migration) stop the start at once.
func openStoreWaiting(ctx context.Context, cfg *serveConfig, logger *slog.Logger) (rekey.Store, error) {
	backoff := 250 * time.Millisecond
	for {
		s, err := openStore(ctx, cfg)
		if err == nil {
			if ps, ok := s.(*postgres.Store); ok {
				ps.Logger = logger
			}
			return s, nil
		}
		if rekey.ErrorCode(err) != rekey.Unavailable || cfg.Database == "" {
			return nil, err
		}
		logger.Warn("waiting for the database: it does not answer yet; retrying", "database", postgres.Redact(cfg.Database), "retry_in", backoff.String(), "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("stopped while waiting for the database %s: %w", postgres.Redact(cfg.Database), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// tempNote is the banner's word on the data directory's fate.
func tempNote(cfg *serveConfig) string {
	if cfg.dataGiven {
		return ""
	}
	return " (the data directory is temporary, removed on stop)"
}
