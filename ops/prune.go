package ops

import (
	"context"
	"time"

	"github.com/rekey-dev/rekey"
)

// pruneBatch bounds the rows one pruning transaction deletes, so the
// single SQLite writer is never held for long.
const pruneBatch = 500

// Prune deletes finished operations older than OperationRetention and
// key-usage rows unused for UsageRetention (a zero retention keeps
// everything of that kind), and returns how many rows of each it deleted.
func (r *Runner) Prune(ctx context.Context) (ops, usage int, err error) {
	now := r.Now()
	if r.OperationRetention > 0 {
		if ops, err = prune(ctx, r, func(tx rekey.Tx) (int, error) {
			return tx.PruneOperations(now.Add(-r.OperationRetention), pruneBatch)
		}); err != nil {
			return ops, 0, err
		}
	}
	if r.UsageRetention > 0 {
		usage, err = prune(ctx, r, func(tx rekey.Tx) (int, error) {
			return tx.PruneKeyUsage(now.Add(-r.UsageRetention), pruneBatch)
		})
	}
	return ops, usage, err
}

// prune runs one batch per transaction until a batch comes back short.
func prune(ctx context.Context, r *Runner, batch func(rekey.Tx) (int, error)) (total int, err error) {
	for ctx.Err() == nil {
		var n int
		if err := r.store.Update(ctx, func(tx rekey.Tx) (err error) { n, err = batch(tx); return err }); err != nil {
			return total, err
		}
		total += n
		if n < pruneBatch {
			break
		}
	}
	return total, ctx.Err()
}

// pruneLoop prunes at start and then every PruneEvery until ctx ends.
func (r *Runner) pruneLoop(ctx context.Context) {
	t := time.NewTicker(r.PruneEvery)
	defer t.Stop()
	for {
		ops, usage, err := r.Prune(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.logger.Error("pruning", "err", err)
		case ops+usage > 0:
			r.logger.Info("pruned", "operations", ops, "key_usage_rows", usage)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
