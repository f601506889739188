package ops

import (
	"context"
	"time"

	"github.com/rekey-dev/rekey"
)

// pruneBatch bounds the rows one pruning transaction deletes, so the
// single SQLite writer is never held for long.
const pruneBatch = 500

// Pruned counts the rows one Prune deleted, by kind.
type Pruned struct {
	Operations, Usage, Audit int
}

// Prune deletes finished operations older than OperationRetention,
// key-usage rows unused for UsageRetention and audit records older than
// AuditRetention (a zero retention keeps everything of that kind), and
// returns how many rows of each it deleted.
func (r *Runner) Prune(ctx context.Context) (n Pruned, err error) {
	now := r.Now()
	kinds := []struct {
		retention time.Duration
		count     *int
		batch     func(tx rekey.Tx, before time.Time) (int, error)
	}{
		{r.OperationRetention, &n.Operations, func(tx rekey.Tx, before time.Time) (int, error) { return tx.PruneOperations(before, pruneBatch) }},
		{r.UsageRetention, &n.Usage, func(tx rekey.Tx, before time.Time) (int, error) { return tx.PruneKeyUsage(before, pruneBatch) }},
		{r.AuditRetention, &n.Audit, func(tx rekey.Tx, before time.Time) (int, error) { return tx.PruneAudit(before, pruneBatch) }},
	}
	for _, k := range kinds {
		if k.retention <= 0 {
			continue
		}
		before := now.Add(-k.retention)
		if *k.count, err = prune(ctx, r, func(tx rekey.Tx) (int, error) { return k.batch(tx, before) }); err != nil {
			return n, err
		}
	}
	return n, nil
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
		n, err := r.Prune(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.logger.Error("pruning", "err", err)
		case n.Operations+n.Usage+n.Audit > 0:
			r.logger.Info("pruned", "operations", n.Operations, "key_usage_rows", n.Usage, "audit_records", n.Audit)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
