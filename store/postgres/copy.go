package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rekey-dev/rekey/store/dbcopy"
)

var _ dbcopy.Store = (*Store)(nil)

// copyTx implements dbcopy.Writer (and Reader) on one transaction. SQL
// is built only from dbcopy's own table and column names.
type copyTx struct {
	ctx context.Context
	tx  pgx.Tx
}

func known(t dbcopy.Table) (dbcopy.Table, error) {
	k, ok := dbcopy.Known(t.Name)
	if !ok {
		return k, fmt.Errorf("no table %q to copy", t.Name)
	}
	return k, nil
}

func (c copyTx) Rows(t dbcopy.Table, fn func([]any) error) error {
	t, err := known(t)
	if err != nil {
		return err
	}
	rows, err := c.tx.Query(c.ctx, `SELECT `+strings.Join(t.Columns, ", ")+` FROM `+t.Name+` ORDER BY 1`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (c copyTx) Count(t dbcopy.Table) (n int64, err error) {
	t, err = known(t)
	if err != nil {
		return 0, err
	}
	err = c.tx.QueryRow(c.ctx, `SELECT count(*) FROM `+t.Name).Scan(&n)
	return n, err
}

func (c copyTx) Clear(t dbcopy.Table) error {
	t, err := known(t)
	if err != nil {
		return err
	}
	_, err = c.tx.Exec(c.ctx, `DELETE FROM `+t.Name)
	return err
}

func (c copyTx) Insert(t dbcopy.Table, row []any) error {
	t, err := known(t)
	if err != nil {
		return err
	}
	marks := make([]string, len(t.Columns))
	for i := range marks {
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	_, err = c.tx.Exec(c.ctx, `INSERT INTO `+t.Name+` (`+strings.Join(t.Columns, ", ")+`) VALUES (`+strings.Join(marks, ", ")+`)`, row...)
	return err
}

// Snapshot runs fn in one read-only transaction.
func (s *Store) Snapshot(ctx context.Context, fn func(dbcopy.Reader) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return fn(copyTx{ctx, tx})
}

// Load runs fn in one write transaction, holding the write lock as
// Update does, and moves the change feed's and the audit log's sequences
// past the rows loaded.
func (s *Store) Load(ctx context.Context, fn func(dbcopy.Writer) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.writeLock); err != nil {
			return err
		}
		if err := fn(copyTx{ctx, tx}); err != nil {
			return err
		}
		for _, table := range []string{"changes", "audit"} {
			if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('`+table+`', 'seq'), (SELECT coalesce(max(seq), 0) + 1 FROM `+table+`), false)`); err != nil {
				return err
			}
		}
		return nil
	})
}
