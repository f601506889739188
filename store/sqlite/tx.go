package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
)

// txn implements rekey.Tx over one database/sql transaction.
type txn struct {
	ctx     context.Context
	tx      *sql.Tx
	changed bool // the change feed grew; watchers run after commit
}

func (t *txn) exec(q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.ctx, q, args...)
}

// getDoc loads one JSON document into v, mapping no rows to NotFound.
func (t *txn) getDoc(v any, notFound *rekey.Error, q string, args ...any) error {
	var doc string
	err := t.tx.QueryRowContext(t.ctx, q, args...).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound
	}
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(doc), v)
}

// listDocs loads every JSON document a query returns.
func listDocs[T any](t *txn, q string, args ...any) ([]*T, error) {
	rows, err := t.tx.QueryContext(t.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		v := new(T)
		if err := json.Unmarshal([]byte(doc), v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// marshal encodes a document for the doc column.
func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func (t *txn) exists(q string, args ...any) (bool, error) {
	var n int
	err := t.tx.QueryRowContext(t.ctx, q, args...).Scan(&n)
	return n > 0, err
}

func (t *txn) Workspace(id rekey.WorkspaceID) (*rekey.Workspace, error) {
	w := new(rekey.Workspace)
	return w, t.getDoc(w, workspaceNotFound(id), `SELECT doc FROM workspaces WHERE key = ?`, id.Key())
}

func workspaceNotFound(id rekey.WorkspaceID) *rekey.Error {
	return rekey.Errorf(rekey.NotFound, "The Resource '%s/%s' under resource group '%s' was not found.", rekey.TypeWorkspace, id.Name, id.ResourceGroup)
}

func (t *txn) PutWorkspace(w *rekey.Workspace) (bool, error) {
	doc, err := marshal(w)
	if err != nil {
		return false, err
	}
	existed, err := t.exists(`SELECT count(*) FROM workspaces WHERE key = ?`, w.ID.Key())
	if err != nil {
		return false, err
	}
	_, err = t.exec(`INSERT INTO workspaces (key, subscription, resource_group, name_lower, doc) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET doc = excluded.doc`,
		w.ID.Key(), strings.ToLower(w.ID.Subscription), strings.ToLower(w.ID.ResourceGroup), strings.ToLower(w.ID.Name), doc)
	return !existed, err
}

func (t *txn) DeleteWorkspace(id rekey.WorkspaceID) error {
	eps, err := t.Endpoints(id)
	if err != nil {
		return err
	}
	for _, e := range eps {
		if err := errors.Join(t.record(rekey.ChangedKeys, e.ID.Key()), t.record(rekey.ChangedEndpoint, e.ID.Key())); err != nil {
			return err
		}
	}
	if _, err := t.exec(`DELETE FROM keys WHERE resource IN (SELECT key FROM endpoints WHERE workspace_key = ?)`, id.Key()); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM key_usage WHERE owner IN (SELECT key FROM endpoints WHERE workspace_key = ?)`, id.Key()); err != nil {
		return err
	}
	res, err := t.exec(`DELETE FROM workspaces WHERE key = ?`, id.Key())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return workspaceNotFound(id)
	}
	return nil
}

func (t *txn) Workspaces(subscription, rg string) ([]*rekey.Workspace, error) {
	if rg == "" {
		return listDocs[rekey.Workspace](t, `SELECT doc FROM workspaces WHERE subscription = ? ORDER BY resource_group, name_lower`, strings.ToLower(subscription))
	}
	return listDocs[rekey.Workspace](t, `SELECT doc FROM workspaces WHERE subscription = ? AND resource_group = ? ORDER BY name_lower`,
		strings.ToLower(subscription), strings.ToLower(rg))
}

func endpointNotFound(id rekey.EndpointID) *rekey.Error {
	return rekey.Errorf(rekey.NotFound, "The Resource '%s/%s/onlineEndpoints/%s' under resource group '%s' was not found.",
		rekey.TypeWorkspace, id.Workspace.Name, id.Name, id.Workspace.ResourceGroup)
}

func (t *txn) Endpoint(id rekey.EndpointID) (*rekey.Endpoint, error) {
	e := new(rekey.Endpoint)
	return e, t.getDoc(e, endpointNotFound(id), `SELECT doc FROM endpoints WHERE key = ?`, id.Key())
}

func (t *txn) PutEndpoint(e *rekey.Endpoint) (bool, error) {
	ws, err := t.exists(`SELECT count(*) FROM workspaces WHERE key = ?`, e.ID.Workspace.Key())
	if err != nil {
		return false, err
	}
	if !ws {
		return false, rekey.Errorf(rekey.ParentNotFound, "Failed to perform 'write' on resource(s) of type 'workspaces/onlineEndpoints', because the parent resource '%s' could not be found.", e.ID.Workspace)
	}
	var owner string
	err = t.tx.QueryRowContext(t.ctx, `SELECT key FROM endpoints WHERE name_lower = ?`, strings.ToLower(e.ID.Name)).Scan(&owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return false, err
	case owner != e.ID.Key():
		return false, rekey.Errorf(rekey.Conflict, "An online endpoint named '%s' already exists on this server in another workspace. Endpoint names are unique per region; choose another name.", e.ID.Name)
	}
	doc, err := marshal(e)
	if err != nil {
		return false, err
	}
	_, err = t.exec(`INSERT INTO endpoints (key, workspace_key, name_lower, seq, doc)
		VALUES (?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM endpoints), ?)
		ON CONFLICT (key) DO UPDATE SET doc = excluded.doc`,
		e.ID.Key(), e.ID.Workspace.Key(), strings.ToLower(e.ID.Name), doc)
	if err != nil {
		return false, err
	}
	return owner == "", t.record(rekey.ChangedEndpoint, e.ID.Key())
}

func (t *txn) DeleteEndpoint(id rekey.EndpointID) error {
	if _, err := t.exec(`DELETE FROM keys WHERE resource = ?`, id.Key()); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM key_usage WHERE owner = ?`, id.Key()); err != nil {
		return err
	}
	res, err := t.exec(`DELETE FROM endpoints WHERE key = ?`, id.Key())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return endpointNotFound(id)
	}
	if err := t.record(rekey.ChangedKeys, id.Key()); err != nil {
		return err
	}
	return t.record(rekey.ChangedEndpoint, id.Key())
}

func (t *txn) Endpoints(ws rekey.WorkspaceID) ([]*rekey.Endpoint, error) {
	return listDocs[rekey.Endpoint](t, `SELECT doc FROM endpoints WHERE workspace_key = ? ORDER BY seq`, ws.Key())
}

func (t *txn) Keys(resource string) ([]rekey.StoredKey, error) {
	return t.keys(keyColumns+` WHERE resource = ? ORDER BY slot`, resource)
}

func (t *txn) KeysByDigest(d rekey.Digest) ([]rekey.StoredKey, error) {
	return t.keys(keyColumns+` WHERE digest = ? ORDER BY resource, slot`, d[:])
}

// keyColumns selects what scanKey reads.
const keyColumns = `SELECT resource, slot, ciphertext, digest, previous_digest, previous_ciphertext, previous_valid_until, version, updated_at FROM keys`

func (t *txn) keys(q string, args ...any) ([]rekey.StoredKey, error) {
	rows, err := t.tx.QueryContext(t.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rekey.StoredKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// scanKey reads one row of keyColumns.
func scanKey(rows *sql.Rows) (rekey.StoredKey, error) {
	var k rekey.StoredKey
	var digest, prev []byte
	var updated int64
	var until sql.NullInt64
	if err := rows.Scan(&k.Resource, &k.Slot, &k.Ciphertext, &digest, &prev, &k.PreviousCiphertext, &until, &k.Version, &updated); err != nil {
		return k, err
	}
	copy(k.Digest[:], digest)
	copy(k.Previous[:], prev)
	k.UpdatedAt = time.Unix(0, updated).UTC()
	if until.Valid && len(k.PreviousCiphertext) > 0 {
		k.PreviousValidUntil = time.Unix(0, until.Int64).UTC()
	}
	return k, nil
}

func (t *txn) PutKey(k rekey.StoredKey) (int64, error) {
	// The replaced key is kept only with a validity window fixed now;
	// without one its ciphertext is dropped in the same statement.
	var until any
	if k.PreviousValidUntil.After(k.UpdatedAt) {
		until = k.PreviousValidUntil.UnixNano()
	}
	var v int64
	err := t.tx.QueryRowContext(t.ctx, `INSERT INTO keys (resource, slot, ciphertext, digest, version, updated_at) VALUES (?1, ?2, ?3, ?4, 1, ?5)
		ON CONFLICT (resource, slot) DO UPDATE SET ciphertext = excluded.ciphertext, digest = excluded.digest,
			previous_digest = CASE WHEN ?6 IS NULL THEN NULL ELSE keys.digest END,
			previous_ciphertext = CASE WHEN ?6 IS NULL THEN NULL ELSE keys.ciphertext END,
			previous_valid_until = ?6,
			version = keys.version + 1, updated_at = excluded.updated_at
		RETURNING version`, k.Resource, string(k.Slot), k.Ciphertext, k.Digest[:], k.UpdatedAt.UnixNano(), until).Scan(&v)
	if err != nil {
		return 0, err
	}
	// Replaced keys whose window has ended are refused anyway; drop them,
	// so that no expired key stays at rest. No change is recorded: every
	// reader already treats them as gone.
	if _, err := t.exec(`UPDATE keys SET previous_digest = NULL, previous_ciphertext = NULL, previous_valid_until = NULL
		WHERE previous_valid_until IS NOT NULL AND previous_valid_until <= ?`, k.UpdatedAt.UnixNano()); err != nil {
		return 0, err
	}
	return v, t.record(rekey.ChangedKeys, k.Resource)
}

func (t *txn) Operation(id string) (*rekey.Operation, error) {
	op := new(rekey.Operation)
	return op, t.getDoc(op, rekey.Errorf(rekey.NotFound, "The operation '%s' was not found.", id), `SELECT doc FROM operations WHERE id = ?`, id)
}

func (t *txn) PutOperation(op *rekey.Operation) error {
	doc, err := marshal(op)
	if err != nil {
		return err
	}
	var ended int64
	switch {
	case !op.Status.Terminal():
	case !op.EndedAt.IsZero():
		ended = op.EndedAt.UnixNano()
	default:
		ended = op.CreatedAt.UnixNano()
	}
	var lease int64
	if !op.LeaseUntil.IsZero() {
		lease = op.LeaseUntil.UnixNano()
	}
	_, err = t.exec(`INSERT INTO operations (id, status, not_before, created_at, ended_at, lease_until, doc) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, not_before = excluded.not_before, ended_at = excluded.ended_at,
		lease_until = excluded.lease_until, doc = excluded.doc`,
		op.ID, string(op.Status), op.NotBefore.UnixNano(), op.CreatedAt.UnixNano(), ended, lease, doc)
	return err
}

// ClaimOperations leases due operations. SQLite has one writer, so the
// write transaction that reads them is the lock.
func (t *txn) ClaimOperations(owner string, now time.Time, lease time.Duration, limit int) ([]*rekey.Operation, error) {
	ops, err := listDocs[rekey.Operation](t, `SELECT doc FROM operations WHERE status = ? AND not_before <= ? AND lease_until <= ?
		ORDER BY not_before, created_at LIMIT ?`, string(rekey.OpInProgress), now.UnixNano(), now.UnixNano(), limit)
	if err != nil {
		return nil, err
	}
	for _, op := range ops {
		op.LeaseOwner, op.LeaseUntil = owner, now.Add(lease).UTC()
		if err := t.PutOperation(op); err != nil {
			return nil, err
		}
	}
	return ops, nil
}

// PruneOperations deletes finished operations through the partial index
// operations_ended, whose condition the query repeats word for word.
func (t *txn) PruneOperations(before time.Time, limit int) (int, error) {
	res, err := t.exec(`DELETE FROM operations WHERE id IN (
		SELECT id FROM operations WHERE status != 'InProgress' AND ended_at < ? ORDER BY ended_at LIMIT ?)`, before.UnixNano(), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *txn) DueOperations(now time.Time, limit int) ([]*rekey.Operation, error) {
	return listDocs[rekey.Operation](t, `SELECT doc FROM operations WHERE status = ? AND not_before <= ? ORDER BY not_before, created_at LIMIT ?`,
		string(rekey.OpInProgress), now.UnixNano(), limit)
}

func (t *txn) NextOperation() (time.Time, bool, error) {
	var next sql.NullInt64
	err := t.tx.QueryRowContext(t.ctx, `SELECT min(max(not_before, lease_until)) FROM operations WHERE status = ?`, string(rekey.OpInProgress)).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}, false, err
	}
	return time.Unix(0, next.Int64).UTC(), true, nil
}

func (t *txn) PrincipalByToken(h [32]byte) (*rekey.Principal, error) {
	p := new(rekey.Principal)
	return p, t.getDoc(p, rekey.Errorf(rekey.NotFound, "No principal has this token."), `SELECT doc FROM principals WHERE token_hash = ?`, h[:])
}

func (t *txn) PutPrincipal(p *rekey.Principal, h [32]byte) error {
	doc, err := marshal(p)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO principals (id, token_hash, doc) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, doc = excluded.doc`, p.ID, h[:], doc)
	return err
}
