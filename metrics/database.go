package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rekey-dev/rekey"
)

// Database follows whether the store's database answers, from the outcome
// of every transaction (Store records them): a transaction failing with
// code Unavailable marks it unreachable from that moment; any transaction
// that succeeds marks it up. It is exported as rekey_database_up and
// rekey_database_unreachable_since_seconds, and read by the probes.
type Database struct {
	now func() time.Time

	mu    sync.Mutex
	since time.Time // zero while up; guarded by mu
	err   string    // the last failure; guarded by mu
}

// NewDatabase returns a tracker that starts up, registered in r when r is
// not nil.
func NewDatabase(r *Registry) *Database {
	d := &Database{now: time.Now}
	if r != nil {
		r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rekey_database_up",
			Help: "1 while the database answers, 0 from the first transaction that could not reach it until one succeeds.",
		}, func() float64 {
			if _, down := d.Down(); down {
				return 0
			}
			return 1
		}), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rekey_database_unreachable_since_seconds",
			Help: "Unix time since which the database is unreachable; 0 while it answers.",
		}, func() float64 {
			if since, down := d.Down(); down {
				return float64(since.UnixNano()) / 1e9
			}
			return 0
		}))
	}
	return d
}

// Observe records a transaction's outcome. Errors other than Unavailable
// (a conflict, a missing row, a cancelled request) say nothing about the
// database's reachability.
func (d *Database) Observe(err error) {
	if d == nil {
		return
	}
	switch {
	case err == nil:
		d.mu.Lock()
		d.since, d.err = time.Time{}, ""
		d.mu.Unlock()
	case rekey.ErrorCode(err) == rekey.Unavailable:
		d.mu.Lock()
		if d.since.IsZero() {
			d.since = d.now().UTC()
		}
		d.err = err.Error()
		d.mu.Unlock()
	}
}

// Down reports since when the database is unreachable, and whether it is.
func (d *Database) Down() (since time.Time, down bool) {
	if d == nil {
		return time.Time{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.since, !d.since.IsZero()
}

// Check runs ready (a store's Ready) and records its outcome: probes call
// it, so the state recovers even when nothing else touches the store.
func (d *Database) Check(ctx context.Context, ready func(context.Context) error) error {
	err := ready(ctx)
	if errors.Is(ctx.Err(), context.Canceled) {
		return err // the caller went away: says nothing about the database
	}
	if err != nil && rekey.ErrorCode(err) != rekey.Unavailable {
		err = &rekey.Error{Code: rekey.Unavailable, Message: "The database does not answer.", Err: err}
	}
	d.Observe(err)
	return err
}
