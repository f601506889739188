package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rekey-dev/rekey"
)

// Store wraps s so that the time of every transaction is observed in
// rekey_store_transaction_duration_seconds, by kind (view or update) and
// outcome (ok or error).
//
// db, when not nil, follows the database's reachability from the same
// outcomes. The wrapper is a rekey.Notifier when s is one (and otherwise
// returns a channel that never receives).
func Store(s rekey.Store, r *Registry, db *Database) rekey.Store {
	h := register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rekey_store_transaction_duration_seconds",
		Help:    "Time of store transactions, from begin to commit or rollback, by kind (view, update) and outcome (ok, error).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"kind", "outcome"}))
	return &timedStore{Store: s, h: h, db: db}
}

type timedStore struct {
	rekey.Store
	h  *prometheus.HistogramVec
	db *Database
}

// Notify passes the store's notifications through.
func (s *timedStore) Notify(ctx context.Context) <-chan struct{} {
	if n, ok := s.Store.(rekey.Notifier); ok {
		return n.Notify(ctx)
	}
	return nil
}

// Ready passes through, and records the outcome in the database state.
func (s *timedStore) Ready(ctx context.Context) error {
	if s.db == nil {
		return s.Store.Ready(ctx)
	}
	return s.db.Check(ctx, s.Store.Ready)
}

func (s *timedStore) View(ctx context.Context, fn func(rekey.Tx) error) error {
	start := time.Now()
	err := s.Store.View(ctx, fn)
	s.observe("view", start, err)
	return err
}

func (s *timedStore) Update(ctx context.Context, fn func(rekey.Tx) error) error {
	start := time.Now()
	err := s.Store.Update(ctx, fn)
	s.observe("update", start, err)
	return err
}

func (s *timedStore) observe(kind string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	s.h.WithLabelValues(kind, outcome).Observe(time.Since(start).Seconds())
	s.db.Observe(err)
}
