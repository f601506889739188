// Package sqlite implements rekey.Store on an embedded SQLite database
// (modernc.org/sqlite, pure Go), in WAL mode with one writer connection
// and a small pool of read-only connections; or, for tests, in memory
// (OpenMemory).
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/rekey-dev/rekey"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a rekey.Store backed by one SQLite file.
type Store struct {
	write *sql.DB   // one connection: SQLite has one writer, and queueing here beats SQLITE_BUSY
	read  *sql.DB   // query_only connections for View
	keep  *sql.Conn // OpenMemory: holds the database alive; nil for a file

	mu       sync.Mutex
	watchers []func() // guarded by mu
}

// Watch registers fn to run after every committed Update that appended to
// the change feed.
func (s *Store) Watch(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = append(s.watchers, fn)
}

// Notify returns a channel woken after every committed Update of this
// process that appended to the change feed. Another process sharing the
// file is not heard: its readers poll.
func (s *Store) Notify(ctx context.Context) <-chan struct{} {
	c := make(chan struct{}, 1)
	var stopped atomic.Bool
	s.Watch(func() {
		if stopped.Load() {
			return
		}
		select {
		case c <- struct{}{}:
		default:
		}
	})
	context.AfterFunc(ctx, func() { stopped.Store(true) })
	return c
}

var (
	_ rekey.Store    = (*Store)(nil)
	_ rekey.Notifier = (*Store)(nil)
)

// createPrivate creates the database file, empty, readable and writable
// by its owner only, unless it exists. SQLite would create it 0644 less
// the umask; it gives the -wal and -shm files the database file's mode,
// so they are private too.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// Open opens (creating if needed) the database at path and applies every
// pending migration. Commits are durable against a process crash: WAL
// with synchronous=FULL syncs the log on every commit.
func Open(ctx context.Context, path string) (_ *Store, err error) {
	defer rekey.Wrap(&err, "sqlite.Open(%s)", path)
	// The file is created 0600 before SQLite opens it: SQLite would use
	// 0644, and its -wal and -shm files copy the database's mode.
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	return open(ctx, "file:"+path, "journal_mode(WAL)", "synchronous(FULL)")
}

// OpenMemory opens a new, empty database that lives in this process's
// memory only, for tests and "rekey serve --in-memory": nothing survives
// Close. It uses SQLite's memdb VFS under a random name, so that the
// writer and the readers (separate connections, as for a file) share one
// database, and every call gets a database of its own. Journaling stays
// in memory (WAL needs a file); readers wait for the writer through the
// same busy timeout.
func OpenMemory(ctx context.Context) (_ *Store, err error) {
	defer rekey.Wrap(&err, "sqlite.OpenMemory")
	name := make([]byte, 12)
	rand.Read(name)
	s, err := open(ctx, "file:/rekey-"+hex.EncodeToString(name)+"?vfs=memdb")
	if err != nil {
		return nil, err
	}
	// memdb drops a database when its last connection closes; the pools
	// may recycle theirs, so one connection is held until Close.
	if s.keep, err = s.read.Conn(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// open opens the write and read pools on base (a "file:" URI, possibly
// with a query) with the common pragmas plus extra, and migrates.
func open(ctx context.Context, base string, extra ...string) (_ *Store, err error) {
	dsn := func(more ...string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		for _, e := range append(extra, more...) {
			q.Add("_pragma", e)
		}
		q.Set("_txlock", "immediate")
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		return base + sep + q.Encode()
	}
	s := &Store{}
	if s.write, err = sql.Open("sqlite", dsn()); err != nil {
		return nil, err
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetConnMaxIdleTime(0)
	if err := s.migrate(ctx); err != nil {
		s.write.Close()
		return nil, err
	}
	if s.read, err = sql.Open("sqlite", dsn("query_only(1)")); err != nil {
		s.write.Close()
		return nil, err
	}
	s.read.SetMaxOpenConns(4)
	return s, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	var err error
	if s.keep != nil {
		err = s.keep.Close()
	}
	return errors.Join(err, s.read.Close(), s.write.Close())
}

// Ready pings both pools.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return err
	}
	return s.read.PingContext(ctx)
}

// migrate applies the embedded migrations not yet recorded, each in its
// own transaction together with its record.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
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
		if err := s.write.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, n).Scan(&done); err != nil {
			return err
		}
		if done > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := s.write.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, n, time.Now().UnixNano()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(rekey.Tx) error) error {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(&txn{ctx: ctx, tx: tx})
}

// Update runs fn in a write transaction and commits when it returns nil.
func (s *Store) Update(ctx context.Context, fn func(rekey.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	t := &txn{ctx: ctx, tx: tx}
	if err := fn(t); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if t.changed {
		s.mu.Lock()
		watchers := s.watchers
		s.mu.Unlock()
		for _, w := range watchers {
			w()
		}
	}
	return nil
}
