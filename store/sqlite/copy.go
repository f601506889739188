package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/rekey-dev/rekey/store/dbcopy"
)

var _ dbcopy.Store = (*Store)(nil)

// copyTx implements dbcopy.Writer (and Reader) on one transaction. SQL
// is built only from dbcopy's own table and column names.
type copyTx struct {
	ctx context.Context
	tx  *sql.Tx
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
	rows, err := c.tx.QueryContext(c.ctx, `SELECT `+strings.Join(t.Columns, ", ")+` FROM `+t.Name+` ORDER BY 1`)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]any, len(t.Columns))
	ptrs := make([]any, len(t.Columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
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
	err = c.tx.QueryRowContext(c.ctx, `SELECT count(*) FROM `+t.Name).Scan(&n)
	return n, err
}

func (c copyTx) Clear(t dbcopy.Table) error {
	t, err := known(t)
	if err != nil {
		return err
	}
	_, err = c.tx.ExecContext(c.ctx, `DELETE FROM `+t.Name)
	return err
}

func (c copyTx) Insert(t dbcopy.Table, row []any) error {
	t, err := known(t)
	if err != nil {
		return err
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(t.Columns)), ", ")
	_, err = c.tx.ExecContext(c.ctx, `INSERT INTO `+t.Name+` (`+strings.Join(t.Columns, ", ")+`) VALUES (`+marks+`)`, row...)
	return err
}

// Snapshot runs fn in one read-only transaction.
func (s *Store) Snapshot(ctx context.Context, fn func(dbcopy.Reader) error) error {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(copyTx{ctx, tx})
}

// Load runs fn in one write transaction. The AUTOINCREMENT counters of
// the change feed and the audit log follow the largest seq inserted by
// themselves.
func (s *Store) Load(ctx context.Context, fn func(dbcopy.Writer) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(copyTx{ctx, tx}); err != nil {
		return err
	}
	return tx.Commit()
}
