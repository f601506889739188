package sqlite

import (
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
)

// AppendAudit inserts r; AUTOINCREMENT keeps seq growing even after the
// newest rows are pruned, so a continuation never sees a reused seq.
func (t *txn) AppendAudit(r *rekey.AuditRecord) error {
	res, err := t.exec(`INSERT INTO audit (time, principal_id, app_id, principal_name, action, action_lc,
		resource_id, resource_lc, key_slot, status, error_code, request_id, correlation_id, client_address, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Time.UnixNano(), r.PrincipalID, r.AppID, r.PrincipalName, r.Action, strings.ToLower(r.Action),
		r.ResourceID, strings.ToLower(r.ResourceID), r.KeySlot, r.Status, r.ErrorCode, r.RequestID,
		r.CorrelationID, r.ClientAddress, r.UserAgent)
	if err != nil {
		return err
	}
	r.Seq, err = res.LastInsertId()
	return err
}

// likeEscape escapes LIKE's wildcards in s, with \ as the escape.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (t *txn) AuditRecords(f rekey.AuditFilter) ([]rekey.AuditRecord, error) {
	var (
		where []string
		args  []any
	)
	if !f.Since.IsZero() {
		where, args = append(where, `time >= ?`), append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where, args = append(where, `time < ?`), append(args, f.Until.UnixNano())
	}
	if f.Resource != "" {
		r := strings.ToLower(strings.TrimSuffix(f.Resource, "/"))
		where = append(where, `(resource_lc = ? OR resource_lc LIKE ? ESCAPE '\')`)
		args = append(args, r, likeEscape(r)+"/%")
	}
	if f.Principal != "" {
		where = append(where, `(lower(principal_id) = ? OR lower(app_id) = ? OR lower(principal_name) = ?)`)
		p := strings.ToLower(f.Principal)
		args = append(args, p, p, p)
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
		where, args = append(where, `action_lc LIKE ? ESCAPE '\'`), append(args, p)
	} else if a != "" {
		where, args = append(where, `action_lc = ?`), append(args, a)
	}
	if f.Before > 0 {
		where, args = append(where, `seq < ?`), append(args, f.Before)
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
	q += ` ORDER BY seq DESC LIMIT ?`
	rows, err := t.tx.QueryContext(t.ctx, q, append(args, limit)...)
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

func (t *txn) PruneAudit(before time.Time, limit int) (int, error) {
	res, err := t.exec(`DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE time < ? ORDER BY time LIMIT ?)`,
		before.UnixNano(), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
