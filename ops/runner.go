// Package ops runs rekey's long-running operations: durable rows that a
// request writes together with the change it starts, and that a Runner
// completes once they are due, in this process or after a restart.
package ops

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/rekey-dev/rekey"
)

// Runner completes due operations. Start it once; Stop waits for its
// goroutine. It is safe to call Wake from any goroutine.
//
// Several runners may share one store (replicas on one database): each
// claims the operations it runs with a lease (Tx.ClaimOperations), so an
// operation is run by one runner, and one whose runner died is claimed by
// another once the lease ends.
type Runner struct {
	store  rekey.Store
	logger *slog.Logger
	wake   chan struct{}

	// Now is the clock; tests replace it before Start.
	Now func() time.Time
	// Idle is the longest the runner sleeps when nothing is due, so it
	// notices operations written by another process.
	Idle time.Duration
	// OperationRetention is how long a finished operation stays readable
	// at its status URL before Prune deletes it; 0 keeps it forever.
	OperationRetention time.Duration
	// UsageRetention is how long a key slot's usage row is kept after its
	// last use; 0 keeps it forever.
	UsageRetention time.Duration
	// AuditRetention is how long an audit record is kept; 0 keeps it
	// forever.
	AuditRetention time.Duration
	// PruneEvery is how often the runner prunes (at Start, then on this
	// period); 0 never. Set these before Start.
	PruneEvery time.Duration
	// Owner names this runner in the leases it takes (default: a random
	// id per Runner); Lease is how long a claim holds (default 30s), far
	// longer than an operation's one transaction.
	Owner string
	Lease time.Duration

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New returns a Runner over store.
func New(store rekey.Store, logger *slog.Logger) *Runner {
	return &Runner{store: store, logger: logger, wake: make(chan struct{}, 1), Now: time.Now, Idle: time.Second,
		Owner: "runner:" + rekey.NewGUID(), Lease: 30 * time.Second}
}

// Start launches the runner's goroutine. Work runs on a context derived
// from ctx, never from a request.
func (r *Runner) Start(ctx context.Context) {
	ctx, r.stop = context.WithCancel(ctx)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.loop(ctx)
	}()
	if r.PruneEvery > 0 && (r.OperationRetention > 0 || r.UsageRetention > 0 || r.AuditRetention > 0) {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.pruneLoop(ctx)
		}()
	}
}

// Stop cancels the runner and waits for it, or for ctx.
func (r *Runner) Stop(ctx context.Context) error {
	if r.stop == nil {
		return nil
	}
	r.stop()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wake tells the runner that an operation may be due now.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

const batch = 64

func (r *Runner) loop(ctx context.Context) {
	var notified <-chan struct{} // another replica's operation may be due
	if n, ok := r.store.(rekey.Notifier); ok {
		notified = n.Notify(ctx)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		n, err := r.RunDue(ctx)
		wait := r.Idle
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.logger.Error("operation runner", "err", err)
		case n == batch:
			wait = 0
		default:
			if next, ok, err := r.next(ctx); err == nil && ok {
				wait = min(wait, max(next.Sub(r.Now()), 0))
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-notified:
		case <-timer.C:
		}
	}
}

func (r *Runner) next(ctx context.Context) (next time.Time, ok bool, err error) {
	err = r.store.View(ctx, func(tx rekey.Tx) error {
		next, ok, err = tx.NextOperation()
		return err
	})
	return next, ok, err
}

// RunDue claims the operations due now, completes them, and returns how
// many it claimed. An operation whose work fails with an application
// error is marked Failed with that error; any other error leaves it
// InProgress, claimed again after its lease.
func (r *Runner) RunDue(ctx context.Context) (int, error) {
	// A read first, so that an idle runner takes no write transaction
	// (on a shared database, the writers' lock) on every tick.
	var due []*rekey.Operation
	err := r.store.View(ctx, func(tx rekey.Tx) (err error) {
		due, err = tx.DueOperations(r.Now(), 1)
		return err
	})
	if err != nil || len(due) == 0 {
		return 0, err
	}
	err = r.store.Update(ctx, func(tx rekey.Tx) (err error) {
		due, err = tx.ClaimOperations(r.Owner, r.Now(), r.Lease, batch)
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, op := range due {
		if err := r.complete(ctx, op.ID); err != nil {
			return 0, err
		}
	}
	return len(due), nil
}

// complete does an operation's work and records its end in one
// transaction, so a crash leaves it either untouched or done.
func (r *Runner) complete(ctx context.Context, id string) error {
	var op *rekey.Operation
	err := r.store.Update(ctx, func(tx rekey.Tx) (err error) {
		if op, err = tx.Operation(id); rekey.ErrorCode(err) == rekey.NotFound {
			op = nil // gone since it was due (a reset): nothing to do
			return nil
		}
		if err != nil || op.Status.Terminal() {
			return err
		}
		if op.LeaseOwner != r.Owner || !r.Now().Before(op.LeaseUntil) {
			// Our lease ended and another runner may hold it now: the
			// operation is theirs.
			r.logger.Warn("operation lease lost before completion; another runner finishes it", "operation_id", id)
			op = nil
			return nil
		}
		if op.Kind == rekey.OpInjectedFailure {
			// The fault's hook: nothing to do but fail, with the error
			// the operation was written with.
			op.Status, op.EndedAt = rekey.OpFailed, r.Now().UTC()
			if op.Error == nil {
				op.Error = &rekey.OperationError{Code: rekey.Internal, Message: "The operation failed."}
			}
			return tx.PutOperation(op)
		}
		if err := work(tx, op); err != nil {
			return err
		}
		op.Status, op.EndedAt = rekey.OpSucceeded, r.Now().UTC()
		return tx.PutOperation(op)
	})
	var appErr *rekey.Error
	if err == nil || !errors.As(err, &appErr) || appErr.Code == rekey.Internal || appErr.Code == rekey.Unavailable {
		if err == nil && op != nil {
			r.logger.Info("operation finished", "operation_id", id, "kind", op.Kind, "status", op.Status)
		}
		return err
	}
	err = r.store.Update(ctx, func(tx rekey.Tx) (err error) {
		if op, err = tx.Operation(id); err != nil {
			return err
		}
		op.Status, op.EndedAt = rekey.OpFailed, r.Now().UTC()
		op.Error = &rekey.OperationError{Code: appErr.Code, Message: appErr.Message}
		return tx.PutOperation(op)
	})
	if err == nil {
		r.logger.Info("operation failed", "operation_id", id, "kind", op.Kind, "code", appErr.Code)
	}
	return err
}
