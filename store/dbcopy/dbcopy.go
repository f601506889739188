// Package dbcopy moves a whole rekey installation from one store to
// another ("rekey db copy"): SQLite to PostgreSQL and back. Both stores
// hold the same tables with the same columns, so rows are copied as they
// are, table by table: keys stay sealed (the master key is not needed and
// not used), versions, previous keys, the change feed's and the audit
// log's sequence numbers, role definitions and assignments, and every
// setting, the key check value included, come across unchanged.
//
// The copy reads the source in one read-only transaction and writes the
// destination in one transaction, so a failure leaves the destination as
// it was; then it counts every table on both sides.
package dbcopy

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Table is a table both stores have, with the columns copied.
type Table struct {
	Name    string
	Columns []string
}

// Tables lists every table of an installation, parents before children.
var Tables = []Table{
	{"workspaces", []string{"key", "subscription", "resource_group", "name_lower", "doc"}},
	{"endpoints", []string{"key", "workspace_key", "name_lower", "seq", "doc"}},
	{"deployments", []string{"key", "endpoint_key", "seq", "doc"}},
	{"accounts", []string{"key", "subscription", "resource_group", "name_lower", "doc"}},
	{"keys", []string{"resource", "slot", "ciphertext", "digest", "version", "updated_at", "previous_digest", "previous_ciphertext", "previous_valid_until"}},
	{"key_usage", []string{"owner", "slot", "requests", "grace_requests", "last_used"}},
	{"operations", []string{"id", "status", "not_before", "created_at", "ended_at", "doc"}},
	{"changes", []string{"seq", "kind", "key"}},
	{"principals", []string{"id", "token_hash", "doc"}},
	{"service_principals", []string{"app_id", "object_id", "seq", "doc"}},
	{"signing_keys", []string{"kid", "seq", "doc"}},
	{"settings", []string{"name", "value"}},
	{"role_definitions", []string{"id", "role_name", "seq", "doc"}},
	{"role_assignments", []string{"id", "principal_id", "role_id", "seq", "doc"}},
	{"audit", []string{"seq", "time", "principal_id", "app_id", "principal_name", "action", "action_lc",
		"resource_id", "resource_lc", "key_slot", "status", "error_code", "request_id", "correlation_id",
		"client_address", "user_agent"}},
}

// Known returns the Table named name, and false for any other name. Stores
// build SQL only from the tables and columns it returns.
func Known(name string) (Table, bool) {
	for _, t := range Tables {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// Reader reads tables inside one transaction. Row values are string,
// int64, []byte or nil.
type Reader interface {
	Rows(t Table, fn func(row []any) error) error
	Count(t Table) (int64, error)
}

// Writer writes tables inside one transaction.
type Writer interface {
	Reader
	// Clear deletes every row of t.
	Clear(t Table) error
	// Insert adds one row, values in t.Columns' order.
	Insert(t Table, row []any) error
}

// Store is a store that can be copied from and to.
type Store interface {
	// Snapshot runs fn in one read-only transaction.
	Snapshot(ctx context.Context, fn func(Reader) error) error
	// Load runs fn in one write transaction and commits it when fn
	// returns nil, bringing the store's own counters (the change feed's
	// sequence) past what was loaded.
	Load(ctx context.Context, fn func(Writer) error) error
}

// ErrNotEmpty reports a destination that already holds data.
var ErrNotEmpty = errors.New("the destination is not empty")

// Count is one table's row count on both sides.
type Count struct {
	Table    string
	From, To int64
}

// Copy copies every table from src to dst. A destination holding any row
// is refused with ErrNotEmpty unless force is set; then it is emptied in
// the same transaction that loads it. Copy then counts every table on
// both sides and fails when a count differs. log, when not nil, gets one
// line per table.
func Copy(ctx context.Context, src, dst Store, force bool, log io.Writer) ([]Count, error) {
	if log == nil {
		log = io.Discard
	}
	counts := make([]Count, len(Tables))
	err := src.Snapshot(ctx, func(r Reader) error {
		return dst.Load(ctx, func(w Writer) error {
			if !force {
				for _, t := range Tables {
					n, err := w.Count(t)
					if err != nil {
						return err
					}
					if n > 0 {
						return fmt.Errorf("%w: its table %s holds %d rows; copy into an empty database, or pass --force to replace everything in it", ErrNotEmpty, t.Name, n)
					}
				}
			}
			for i := len(Tables) - 1; i >= 0; i-- {
				if err := w.Clear(Tables[i]); err != nil {
					return fmt.Errorf("emptying %s: %w", Tables[i].Name, err)
				}
			}
			for i, t := range Tables {
				n, err := r.Count(t)
				if err != nil {
					return err
				}
				counts[i] = Count{Table: t.Name, From: n}
				if err := r.Rows(t, func(row []any) error { return w.Insert(t, row) }); err != nil {
					return fmt.Errorf("copying %s: %w", t.Name, err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	// Counted on the destination after the commit: it must hold what the
	// source held in the snapshot copied.
	err = dst.Snapshot(ctx, func(r Reader) error {
		var bad []error
		for i, t := range Tables {
			to, err := r.Count(t)
			if err != nil {
				return err
			}
			counts[i].To = to
			fmt.Fprintf(log, "%-20s %8d rows in the source, %8d in the destination\n", t.Name, counts[i].From, to)
			if to != counts[i].From {
				bad = append(bad, fmt.Errorf("table %s: %d rows in the source, %d in the destination", t.Name, counts[i].From, to))
			}
		}
		return errors.Join(bad...)
	})
	return counts, err
}
