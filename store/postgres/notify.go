package postgres

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rekey-dev/rekey"
)

// Propagation across replicas. Every Update that appended to the change
// feed sends, in its own transaction, NOTIFY with the new sequence number
// on the schema's channel; PostgreSQL delivers it at commit, to every
// replica's listener. A notification is only a wake-up: those sent while
// a listener is disconnected are lost, so a listener that (re)connects
// wakes its receivers too, and they read the feed from where they
// stopped. Receivers also poll (gateway.Config.SyncInterval) in case a
// connection dies without a word.

// notifyChannel names the schema's channel.
func notifyChannel(schema string) string {
	return "rekey_feed_" + strconv.FormatUint(uint64(lockKey("rekey/feed/"+schema)), 16)
}

// Notify implements rekey.Notifier. The first call starts the listener:
// one dedicated connection, outside the pool, that LISTENs and reconnects
// with back-off.
func (s *Store) Notify(ctx context.Context) <-chan struct{} {
	c := make(chan struct{}, 1)
	s.mu.Lock()
	if s.subs == nil {
		s.subs = map[chan struct{}]bool{}
	}
	s.subs[c] = true
	if !s.listening {
		s.listening = true
		lctx, stop := context.WithCancel(context.Background())
		s.stopListen = stop
		s.listenDone = make(chan struct{})
		go s.listen(lctx)
	}
	s.mu.Unlock()
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		delete(s.subs, c)
		s.mu.Unlock()
	})
	return c
}

// wake sends to every receiver, coalescing with a wake-up not yet taken.
func (s *Store) wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// listen holds the LISTEN connection until ctx ends.
func (s *Store) listen(ctx context.Context) {
	defer close(s.listenDone)
	backoff := 50 * time.Millisecond
	down := false
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, func() {
			backoff = 50 * time.Millisecond
			if down {
				s.logger().Info("postgres: change listener reconnected; reading the feed")
				down = false
			}
			s.wake() // notifications sent meanwhile are lost: read the feed
		})
		if ctx.Err() != nil {
			return
		}
		if !down {
			s.logger().Warn("postgres: change listener lost its connection; reconnecting (replicas poll the feed meanwhile)", "err", err)
			down = true
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listenOnce connects, LISTENs, calls connected, and wakes the receivers
// on every notification until the connection fails.
func (s *Store) listenOnce(ctx context.Context, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		s.wake()
	}
}

func (s *Store) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// errUnavailable is what callers get when the database cannot be reached:
// the dialects answer 503 with Retry-After, and the probes report it.
func unavailable(err error) error {
	if err == nil || !isConnectionError(err) {
		return err
	}
	return &rekey.Error{Code: rekey.Unavailable, Message: "The database is unreachable; retry shortly.", Err: err}
}

// isConnectionError reports whether err says the database could not be
// reached or the connection was lost (rather than that a statement
// failed).
func isConnectionError(err error) bool {
	var re *rekey.Error
	if errors.As(err, &re) || errors.Is(err, context.Canceled) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-03: terminated by an
		// administrator, crash shutdown, cannot connect now; 53300: too
		// many connections.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code == "53300"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) || strings.Contains(err.Error(), "conn closed")
}
