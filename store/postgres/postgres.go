// Package postgres implements rekey.Store on PostgreSQL through pgx's
// connection pool, for installations that run several replicas on one
// database. Its schema mirrors store/sqlite's column for column.
//
// Writers that append to the change feed, or that check and then write (a
// name's uniqueness), hold a transaction-level advisory lock (one per
// schema) until they commit, whichever replica they come from: the feed's
// sequence order is its commit order, so a reader following it by number
// never passes an entry that commits later; a check-then-insert cannot
// race; and the last committed rotation of a slot is the one in force.
// The feed entries are appended at the end of the transaction, so the
// locked stretch is short (see txn.lock and txn.appendFeed). Updates that
// fail with a serialization failure or a deadlock (SQLSTATE 40001, 40P01)
// are retried with a bounded back-off.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rekey-dev/rekey"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a rekey.Store backed by a PostgreSQL database (one schema of it:
// the connection's search_path).
type Store struct {
	pool *pgxpool.Pool
	// writeLock and migrateLock are advisory lock keys derived from the
	// schema, so that stores in different schemas of one database (tests)
	// do not wait for each other.
	writeLock, migrateLock int64

	// channel is the schema's NOTIFY channel (notify.go).
	channel string
	// Logger receives the change listener's reconnections; default
	// slog.Default(). Set it before the first Notify.
	Logger *slog.Logger

	mu         sync.Mutex
	watchers   []func()               // guarded by mu
	subs       map[chan struct{}]bool // Notify's receivers; guarded by mu
	listening  bool                   // the listener runs; guarded by mu
	stopListen context.CancelFunc     // set with listening
	listenDone chan struct{}          // closed when the listener ends
}

var (
	_ rekey.Store    = (*Store)(nil)
	_ rekey.Notifier = (*Store)(nil)
)

// Watch registers fn to run after every committed Update that appended to
// the change feed.
func (s *Store) Watch(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = append(s.watchers, fn)
}

// IsURL reports whether a --database value names a PostgreSQL database.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns the connection string with its password, if any, replaced
// by "xxxxx", for logs and error messages. A string that does not parse
// is reduced to its scheme.
func Redact(connString string) string {
	u, err := url.Parse(connString)
	if err != nil || u.Scheme == "" {
		return "postgres://(unparsable connection string)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// HasPassword reports whether the connection string holds a password
// (in its user information or a password parameter). One that does not
// parse is taken to hold one.
func HasPassword(connString string) bool {
	u, err := url.Parse(connString)
	if err != nil {
		return true
	}
	_, ok := u.User.Password()
	return ok || u.Query().Has("password")
}

// Open connects to the database at connString (a postgres:// URL; pgx's
// parameters such as pool_max_conns and search_path apply) and applies
// every pending migration under an advisory lock, so that replicas
// starting together migrate once. Errors name the URL without its
// password.
func Open(ctx context.Context, connString string) (_ *Store, err error) {
	defer rekey.Wrap(&err, "postgres.Open(%s)", Redact(connString))
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		// pgx's parse errors may quote the string; say only what failed.
		return nil, errors.New("the connection string does not parse as a PostgreSQL URL")
	}
	if !strings.Contains(connString, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Store{pool: pool}
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		return nil, unavailable(err) // the caller may wait for the database and try again
	}
	s.writeLock = lockKey("rekey/write/" + schema)
	s.channel = notifyChannel(schema)
	s.migrateLock = lockKey("rekey/migrate/" + schema)
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// lockKey maps a name to an advisory lock key.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// Close stops the change listener and closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	stop, done := s.stopListen, s.listenDone
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	s.pool.Close()
	return nil
}

// Ready pings the database.
func (s *Store) Ready(ctx context.Context) error {
	return unavailable(s.pool.Ping(ctx))
}

// migrate applies the embedded migrations not yet recorded, each in its
// own transaction together with its record, holding a session advisory
// lock so that concurrent Opens apply each migration once.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, s.migrateLock); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, s.migrateLock)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version bigint PRIMARY KEY, applied_at bigint NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		n, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", name)
		}
		var done int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, n).Scan(&done); err != nil {
			return err
		}
		if done > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, n, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// View runs fn in a read-only transaction on one snapshot.
// A lost database answers Unavailable.
func (s *Store) View(ctx context.Context, fn func(rekey.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return unavailable(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return unavailable(fn(&txn{ctx: ctx, tx: tx}))
}

// maxAttempts bounds how often Update runs fn when PostgreSQL aborts the
// transaction as a serialization failure or deadlock.
const maxAttempts = 8

// Update runs fn in a write transaction and commits when it returns nil.
// fn may run more than once: a transaction that PostgreSQL aborted for a
// serialization failure or a deadlock is rolled back and run again, after
// a short randomised back-off, up to maxAttempts times. Nothing else is
// retried: a failed COMMIT may or may not have committed.
func (s *Store) Update(ctx context.Context, fn func(rekey.Tx) error) error {
	backoff := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		changed, err := s.update(ctx, fn)
		if err == nil {
			if changed {
				s.mu.Lock()
				watchers := s.watchers
				s.mu.Unlock()
				for _, w := range watchers {
					w()
				}
				s.wake() // this process's receivers need not wait for the NOTIFY
			}
			return nil
		}
		if !Retryable(err) || attempt == maxAttempts {
			return unavailable(err)
		}
		t := time.NewTimer(backoff/2 + rand.N(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

// update is one attempt of Update.
func (s *Store) update(ctx context.Context, fn func(rekey.Tx) error) (changed bool, err error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	t := &txn{ctx: ctx, tx: tx, writeKey: s.writeLock, write: true, channel: s.channel}
	if err := fn(t); err != nil {
		return false, err
	}
	if err := t.appendFeed(); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, err
	}
	return t.changed, nil
}

// Retryable reports whether err is a PostgreSQL serialization failure or
// deadlock, after which the whole transaction may run again.
func Retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}
