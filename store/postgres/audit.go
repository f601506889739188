package postgres

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekey-dev/rekey"
)

// AppendAudit inserts r. It takes the write lock, so that seq order is
// commit order as on SQLite: a reader paging back with Before never
// passes a record that commits later with a smaller seq. A change appends
// its record last, just before the feed, so the locked stretch grows by
// this insert; the lock is taken in the insert's round trip. The identity
// sequence never hands a seq out twice, even after the newest rows are
// pruned (SQLite's AUTOINCREMENT).
func (t *txn) AppendAudit(r *rekey.AuditRecord) error {
	b := &pgx.Batch{}
	if !t.locked {
		b.Queue(`SELECT pg_advisory_xact_lock($1)`, t.writeKey)
	}
	b.Queue(`INSERT INTO audit (time, principal_id, app_id, principal_name, action, action_lc,
		resource_id, resource_lc, key_slot, status, error_code, request_id, correlation_id, client_address, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING seq`,
		r.Time.UnixNano(), r.PrincipalID, r.AppID, r.PrincipalName, r.Action, strings.ToLower(r.Action),
		r.ResourceID, strings.ToLower(r.ResourceID), r.KeySlot, r.Status, r.ErrorCode, r.RequestID,
		r.CorrelationID, r.ClientAddress, r.UserAgent)
	br := t.tx.SendBatch(t.ctx, b)
	if !t.locked {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
		t.locked = true
	}
	err := br.QueryRow().Scan(&r.Seq)
	return errors.Join(err, br.Close())
}

// likeEscape escapes LIKE's wildcards in s, with \ as the escape.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// AuditRecords builds the query SQLite's does. The columns use the "C"
// collation, under which lower() folds ASCII only, as SQLite's does, and
// LIKE compares bytes; both sides of every comparison are lower-cased.
func (t *txn) AuditRecords(f rekey.AuditFilter) ([]rekey.AuditRecord, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !f.Since.IsZero() {
		where = append(where, `time >= `+arg(f.Since.UnixNano()))
	}
	if !f.Until.IsZero() {
		where = append(where, `time < `+arg(f.Until.UnixNano()))
	}
	if f.Resource != "" {
		r := strings.ToLower(strings.TrimSuffix(f.Resource, "/"))
		where = append(where, `(resource_lc = `+arg(r)+` OR resource_lc LIKE `+arg(likeEscape(r)+"/%")+` ESCAPE '\')`)
	}
	if f.Principal != "" {
		p := arg(strings.ToLower(f.Principal))
		where = append(where, `(lower(principal_id) = `+p+` OR lower(app_id) = `+p+` OR lower(principal_name) = `+p+`)`)
	}
	if a := strings.ToLower(f.Action); strings.HasPrefix(a, "*") || strings.HasSuffix(a, "*") {
		inner, lead := strings.CutPrefix(a, "*")
		inner, trail := strings.CutSuffix(inner, "*")
		p := likeEscape(inner)
		if lead {
			p = "%" + p
		}
		if trail {
			p += "%"
		}
		where = append(where, `action_lc LIKE `+arg(p)+` ESCAPE '\'`)
	} else if a != "" {
		where = append(where, `action_lc = `+arg(a))
	}
	if f.Before > 0 {
		where = append(where, `seq < `+arg(f.Before))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = rekey.DefaultAuditPage
	}
	limit = min(limit, rekey.MaxAuditPage)
	q := `SELECT seq, time, principal_id, app_id, principal_name, action, resource_id, key_slot, status,
		error_code, request_id, correlation_id, client_address, user_agent FROM audit`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY seq DESC LIMIT ` + arg(limit)
	rows, err := t.tx.Query(t.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rekey.AuditRecord
	for rows.Next() {
		var r rekey.AuditRecord
		var ns int64
		if err := rows.Scan(&r.Seq, &ns, &r.PrincipalID, &r.AppID, &r.PrincipalName, &r.Action, &r.ResourceID,
			&r.KeySlot, &r.Status, &r.ErrorCode, &r.RequestID, &r.CorrelationID, &r.ClientAddress, &r.UserAgent); err != nil {
			return nil, err
		}
		r.Time = time.Unix(0, ns).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// PruneAudit deletes the oldest records first, through audit_time. It
// takes no lock: pruning appends nothing and checks nothing.
func (t *txn) PruneAudit(before time.Time, limit int) (int, error) {
	res, err := t.exec(`DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE time < $1 ORDER BY time LIMIT $2)`,
		before.UnixNano(), limit)
	if err != nil {
		return 0, err
	}
	return int(res.RowsAffected()), nil
}
