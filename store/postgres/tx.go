package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rekey-dev/rekey"
)

// txn implements rekey.Tx over one pgx transaction.
type txn struct {
	ctx      context.Context
	tx       pgx.Tx
	writeKey int64  // the advisory lock lock takes
	write    bool   // an Update's transaction, not a View's
	locked   bool   // lock was taken
	changed  bool   // the change feed grew; watchers run after commit
	channel  string // the NOTIFY channel appendFeed notifies (notify.go)
	// pending is what record recorded, appended to the feed at commit.
	pending []rekey.Change
}

// lock takes the store's write lock (a transaction-level advisory lock,
// held until commit or rollback) unless this transaction holds it.
//
// Every method that appends to the change feed, or that checks and then
// writes (a name's uniqueness, whether a resource existed, the next
// creation-order number), takes it before its first statement. So those
// transactions run one at a time, across every replica, as on SQLite:
// each statement after the lock sees every such transaction committed
// before (read committed takes a snapshot per statement), and the feed's
// sequence numbers are allocated in commit order, so a reader following
// the feed by number never passes one that commits later. Writes that
// neither append nor check (operations, usage counts, settings) do not
// take it, so that they commit concurrently, in PostgreSQL's group
// commits.
func (t *txn) lock() error {
	if t.locked {
		return nil
	}
	if _, err := t.tx.Exec(t.ctx, `SELECT pg_advisory_xact_lock($1)`, t.writeKey); err != nil {
		return err
	}
	t.locked = true
	return nil
}

// lockForCheck takes the write lock in an Update before a read whose
// result the caller checks and then acts on in the same transaction, as
// the role handlers do: is the principal there, does an assignment use
// this role, is this assignment new. Under the lock no other such write
// can commit between the check and the write, as on SQLite. A View does
// not lock: it reads one snapshot.
func (t *txn) lockForCheck() error {
	if !t.write {
		return nil
	}
	return t.lock()
}

func (t *txn) exec(q string, args ...any) (pgconn.CommandTag, error) {
	return t.tx.Exec(t.ctx, q, args...)
}

// getDoc loads one JSON document into v, mapping no rows to NotFound.
func (t *txn) getDoc(v any, notFound *rekey.Error, q string, args ...any) error {
	var doc string
	err := t.tx.QueryRow(t.ctx, q, args...).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound
	}
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(doc), v)
}

// listDocs loads every JSON document a query returns.
func listDocs[T any](t *txn, q string, args ...any) ([]*T, error) {
	rows, err := t.tx.Query(t.ctx, q, args...)
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
	err := t.tx.QueryRow(t.ctx, q, args...).Scan(&n)
	return n > 0, err
}

func (t *txn) Workspace(id rekey.WorkspaceID) (*rekey.Workspace, error) {
	w := new(rekey.Workspace)
	return w, t.getDoc(w, workspaceNotFound(id), `SELECT doc FROM workspaces WHERE key = $1`, id.Key())
}

func workspaceNotFound(id rekey.WorkspaceID) *rekey.Error {
	return rekey.Errorf(rekey.NotFound, "The Resource '%s/%s' under resource group '%s' was not found.", rekey.TypeWorkspace, id.Name, id.ResourceGroup)
}

func (t *txn) PutWorkspace(w *rekey.Workspace) (bool, error) {
	if err := t.lock(); err != nil {
		return false, err
	}
	doc, err := marshal(w)
	if err != nil {
		return false, err
	}
	existed, err := t.exists(`SELECT count(*) FROM workspaces WHERE key = $1`, w.ID.Key())
	if err != nil {
		return false, err
	}
	_, err = t.exec(`INSERT INTO workspaces (key, subscription, resource_group, name_lower, doc) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (key) DO UPDATE SET doc = excluded.doc`,
		w.ID.Key(), strings.ToLower(w.ID.Subscription), strings.ToLower(w.ID.ResourceGroup), strings.ToLower(w.ID.Name), doc)
	return !existed, err
}

func (t *txn) DeleteWorkspace(id rekey.WorkspaceID) error {
	if err := t.lock(); err != nil {
		return err
	}
	eps, err := t.Endpoints(id)
	if err != nil {
		return err
	}
	for _, e := range eps {
		if err := errors.Join(t.record(rekey.ChangedKeys, e.ID.Key()), t.record(rekey.ChangedEndpoint, e.ID.Key())); err != nil {
			return err
		}
	}
	if _, err := t.exec(`DELETE FROM keys WHERE resource IN (SELECT key FROM endpoints WHERE workspace_key = $1)`, id.Key()); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM key_usage WHERE owner IN (SELECT key FROM endpoints WHERE workspace_key = $1)`, id.Key()); err != nil {
		return err
	}
	res, err := t.exec(`DELETE FROM workspaces WHERE key = $1`, id.Key())
	if err != nil {
		return err
	}
	if res.RowsAffected() == 0 {
		return workspaceNotFound(id)
	}
	return nil
}

func (t *txn) Workspaces(subscription, rg string) ([]*rekey.Workspace, error) {
	if rg == "" {
		return listDocs[rekey.Workspace](t, `SELECT doc FROM workspaces WHERE subscription = $1 ORDER BY resource_group, name_lower`, strings.ToLower(subscription))
	}
	return listDocs[rekey.Workspace](t, `SELECT doc FROM workspaces WHERE subscription = $1 AND resource_group = $2 ORDER BY name_lower`,
		strings.ToLower(subscription), strings.ToLower(rg))
}

func endpointNotFound(id rekey.EndpointID) *rekey.Error {
	return rekey.Errorf(rekey.NotFound, "The Resource '%s/%s/onlineEndpoints/%s' under resource group '%s' was not found.",
		rekey.TypeWorkspace, id.Workspace.Name, id.Name, id.Workspace.ResourceGroup)
}

func (t *txn) Endpoint(id rekey.EndpointID) (*rekey.Endpoint, error) {
	e := new(rekey.Endpoint)
	return e, t.getDoc(e, endpointNotFound(id), `SELECT doc FROM endpoints WHERE key = $1`, id.Key())
}

func (t *txn) PutEndpoint(e *rekey.Endpoint) (bool, error) {
	if err := t.lock(); err != nil {
		return false, err
	}
	ws, err := t.exists(`SELECT count(*) FROM workspaces WHERE key = $1`, e.ID.Workspace.Key())
	if err != nil {
		return false, err
	}
	if !ws {
		return false, rekey.Errorf(rekey.ParentNotFound, "Failed to perform 'write' on resource(s) of type 'workspaces/onlineEndpoints', because the parent resource '%s' could not be found.", e.ID.Workspace)
	}
	var owner string
	err = t.tx.QueryRow(t.ctx, `SELECT key FROM endpoints WHERE name_lower = $1`, strings.ToLower(e.ID.Name)).Scan(&owner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
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
		VALUES ($1, $2, $3, (SELECT coalesce(max(seq), 0) + 1 FROM endpoints), $4)
		ON CONFLICT (key) DO UPDATE SET doc = excluded.doc`,
		e.ID.Key(), e.ID.Workspace.Key(), strings.ToLower(e.ID.Name), doc)
	if err != nil {
		return false, err
	}
	return owner == "", t.record(rekey.ChangedEndpoint, e.ID.Key())
}

func (t *txn) DeleteEndpoint(id rekey.EndpointID) error {
	if err := t.lock(); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM keys WHERE resource = $1`, id.Key()); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM key_usage WHERE owner = $1`, id.Key()); err != nil {
		return err
	}
	res, err := t.exec(`DELETE FROM endpoints WHERE key = $1`, id.Key())
	if err != nil {
		return err
	}
	if res.RowsAffected() == 0 {
		return endpointNotFound(id)
	}
	if err := t.record(rekey.ChangedKeys, id.Key()); err != nil {
		return err
	}
	return t.record(rekey.ChangedEndpoint, id.Key())
}

func (t *txn) Endpoints(ws rekey.WorkspaceID) ([]*rekey.Endpoint, error) {
	return listDocs[rekey.Endpoint](t, `SELECT doc FROM endpoints WHERE workspace_key = $1 ORDER BY seq`, ws.Key())
}

func (t *txn) Keys(resource string) ([]rekey.StoredKey, error) {
	return t.keys(keyColumns+` WHERE resource = $1 ORDER BY slot`, resource)
}

func (t *txn) KeysByDigest(d rekey.Digest) ([]rekey.StoredKey, error) {
	return t.keys(keyColumns+` WHERE digest = $1 ORDER BY resource, slot`, d[:])
}

// keyColumns selects what scanKey reads.
const keyColumns = `SELECT resource, slot, ciphertext, digest, previous_digest, previous_ciphertext, previous_valid_until, version, updated_at FROM keys`

func (t *txn) keys(q string, args ...any) ([]rekey.StoredKey, error) {
	rows, err := t.tx.Query(t.ctx, q, args...)
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
func scanKey(rows pgx.Rows) (rekey.StoredKey, error) {
	var k rekey.StoredKey
	var digest, prev []byte
	var updated int64
	var until pgtype.Int8
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

// PutKey takes the write lock only when it appends to the feed, after
// its upsert: the slot's row lock orders concurrent writers of one slot
// (the upsert reads the row as last committed), and the shorter the
// locked stretch, the more rotations per second.
func (t *txn) PutKey(k rekey.StoredKey) (int64, error) {
	// The replaced key is kept only with a validity window fixed now;
	// without one its ciphertext is dropped in the same statement.
	var until any
	if k.PreviousValidUntil.After(k.UpdatedAt) {
		until = k.PreviousValidUntil.UnixNano()
	}
	var v int64
	err := t.tx.QueryRow(t.ctx, `INSERT INTO keys (resource, slot, ciphertext, digest, version, updated_at) VALUES ($1, $2, $3, $4, 1, $5)
		ON CONFLICT (resource, slot) DO UPDATE SET ciphertext = excluded.ciphertext, digest = excluded.digest,
			previous_digest = CASE WHEN $6::bigint IS NULL THEN NULL ELSE keys.digest END,
			previous_ciphertext = CASE WHEN $6::bigint IS NULL THEN NULL ELSE keys.ciphertext END,
			previous_valid_until = $6::bigint,
			version = keys.version + 1, updated_at = excluded.updated_at
		RETURNING version`, k.Resource, string(k.Slot), k.Ciphertext, k.Digest[:], k.UpdatedAt.UnixNano(), until).Scan(&v)
	if err != nil {
		return 0, err
	}
	// Replaced keys whose window has ended are refused anyway; drop them,
	// so that no expired key stays at rest. No change is recorded: every
	// reader already treats them as gone.
	if _, err := t.exec(`UPDATE keys SET previous_digest = NULL, previous_ciphertext = NULL, previous_valid_until = NULL
		WHERE previous_valid_until IS NOT NULL AND previous_valid_until <= $1`, k.UpdatedAt.UnixNano()); err != nil {
		return 0, err
	}
	return v, t.record(rekey.ChangedKeys, k.Resource)
}

func (t *txn) Operation(id string) (*rekey.Operation, error) {
	op := new(rekey.Operation)
	return op, t.getDoc(op, rekey.Errorf(rekey.NotFound, "The operation '%s' was not found.", id), `SELECT doc FROM operations WHERE id = $1`, id)
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
	_, err = t.exec(`INSERT INTO operations (id, status, not_before, created_at, ended_at, lease_until, doc) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, not_before = excluded.not_before, ended_at = excluded.ended_at,
		lease_until = excluded.lease_until, doc = excluded.doc`,
		op.ID, string(op.Status), op.NotBefore.UnixNano(), op.CreatedAt.UnixNano(), ended, lease, doc)
	return err
}

// ClaimOperations leases due operations. FOR UPDATE SKIP LOCKED lets a
// claim that runs beside another (Update's write lock aside) take the rows
// the other has not locked, rather than wait for them or take them twice.
func (t *txn) ClaimOperations(owner string, now time.Time, lease time.Duration, limit int) ([]*rekey.Operation, error) {
	ops, err := listDocs[rekey.Operation](t, `SELECT doc FROM operations WHERE status = $1 AND not_before <= $2 AND lease_until <= $2
		ORDER BY not_before, created_at LIMIT $3 FOR UPDATE SKIP LOCKED`, string(rekey.OpInProgress), now.UnixNano(), limit)
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
		SELECT id FROM operations WHERE status != 'InProgress' AND ended_at < $1 ORDER BY ended_at LIMIT $2)`, before.UnixNano(), limit)
	if err != nil {
		return 0, err
	}
	return int(res.RowsAffected()), nil
}

func (t *txn) DueOperations(now time.Time, limit int) ([]*rekey.Operation, error) {
	return listDocs[rekey.Operation](t, `SELECT doc FROM operations WHERE status = $1 AND not_before <= $2 ORDER BY not_before, created_at LIMIT $3`,
		string(rekey.OpInProgress), now.UnixNano(), limit)
}

func (t *txn) NextOperation() (time.Time, bool, error) {
	var next pgtype.Int8
	err := t.tx.QueryRow(t.ctx, `SELECT min(greatest(not_before, lease_until)) FROM operations WHERE status = $1`, string(rekey.OpInProgress)).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}, false, err
	}
	return time.Unix(0, next.Int64).UTC(), true, nil
}

func (t *txn) PrincipalByToken(h [32]byte) (*rekey.Principal, error) {
	p := new(rekey.Principal)
	return p, t.getDoc(p, rekey.Errorf(rekey.NotFound, "No principal has this token."), `SELECT doc FROM principals WHERE token_hash = $1`, h[:])
}

func (t *txn) PutPrincipal(p *rekey.Principal, h [32]byte) error {
	doc, err := marshal(p)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO principals (id, token_hash, doc) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, doc = excluded.doc`, p.ID, h[:], doc)
	return err
}

func accountNotFound(id rekey.AccountID) *rekey.Error {
	return rekey.Errorf(rekey.NotFound, "The Resource '%s/%s' under resource group '%s' was not found.", rekey.TypeAccount, id.Name, id.ResourceGroup)
}

func (t *txn) Account(id rekey.AccountID) (*rekey.Account, error) {
	a := new(rekey.Account)
	return a, t.getDoc(a, accountNotFound(id), `SELECT doc FROM accounts WHERE key = $1`, id.Key())
}

func (t *txn) PutAccount(a *rekey.Account) (bool, error) {
	if err := t.lock(); err != nil {
		return false, err
	}
	existed, err := t.exists(`SELECT count(*) FROM accounts WHERE key = $1`, a.ID.Key())
	if err != nil {
		return false, err
	}
	doc, err := marshal(a)
	if err != nil {
		return false, err
	}
	_, err = t.exec(`INSERT INTO accounts (key, subscription, resource_group, name_lower, doc) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (key) DO UPDATE SET doc = excluded.doc`,
		a.ID.Key(), strings.ToLower(a.ID.Subscription), strings.ToLower(a.ID.ResourceGroup), strings.ToLower(a.ID.Name), doc)
	if err != nil {
		return false, err
	}
	return !existed, t.record(rekey.ChangedAccount, a.ID.Key())
}

func (t *txn) DeleteAccount(id rekey.AccountID) error {
	if err := t.lock(); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM keys WHERE resource IN ($1, $2)`, id.SubscriptionKeys(), id.EndpointKeys()); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM key_usage WHERE owner IN ($1, $2)`, id.SubscriptionKeys(), id.EndpointKeys()); err != nil {
		return err
	}
	res, err := t.exec(`DELETE FROM accounts WHERE key = $1`, id.Key())
	if err != nil {
		return err
	}
	if res.RowsAffected() == 0 {
		return accountNotFound(id)
	}
	return errors.Join(t.record(rekey.ChangedAccount, id.Key()), t.record(rekey.ChangedKeys, id.SubscriptionKeys()), t.record(rekey.ChangedKeys, id.EndpointKeys()))
}

func (t *txn) Accounts(subscription, rg string) ([]*rekey.Account, error) {
	if rg == "" {
		return listDocs[rekey.Account](t, `SELECT doc FROM accounts WHERE subscription = $1 ORDER BY resource_group, name_lower`, strings.ToLower(subscription))
	}
	return listDocs[rekey.Account](t, `SELECT doc FROM accounts WHERE subscription = $1 AND resource_group = $2 ORDER BY name_lower`,
		strings.ToLower(subscription), strings.ToLower(rg))
}

// feedRetention is how many change-feed rows are kept. A gateway further
// behind reloads everything.
const feedRetention = 100_000

// record appends to the change feed and marks the transaction as one that
// wakes the watchers after commit.
func (t *txn) record(kind rekey.ChangeKind, key string) error {
	t.pending = append(t.pending, rekey.Change{Kind: kind, Key: key})
	t.changed = true
	return nil
}

// appendFeed appends the changes recorded in this transaction to the feed,
// as its last statements before COMMIT. It takes the write lock first, in
// the same round trip, so that the locked stretch, which ends with the
// commit, is as short as it can be: feed appends, and with them sequence
// numbers, are serialised in commit order, while everything before runs
// concurrently with other transactions.
func (t *txn) appendFeed() error {
	if len(t.pending) == 0 {
		return nil
	}
	kinds := make([]string, len(t.pending))
	keys := make([]string, len(t.pending))
	for i, c := range t.pending {
		kinds[i], keys[i] = string(c.Kind), c.Key
	}
	b := &pgx.Batch{}
	if !t.locked {
		b.Queue(`SELECT pg_advisory_xact_lock($1)`, t.writeKey)
	}
	b.Queue(`INSERT INTO changes (kind, key)
		SELECT k, v FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS c (k, v, n) ORDER BY n
		RETURNING seq`, kinds, keys)
	if t.channel != "" {
		// The wake-up for every replica's listener, delivered at commit,
		// carrying the new seq (the highest: this transaction holds the
		// lock). In the same round trip.
		b.Queue(`SELECT pg_notify($1, (SELECT max(seq) FROM changes)::text)`, t.channel)
	}
	br := t.tx.SendBatch(t.ctx, b)
	if !t.locked {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
		t.locked = true
	}
	var lo, hi int64
	rows, err := br.Query()
	if err == nil {
		for rows.Next() {
			var seq int64
			if err = rows.Scan(&seq); err != nil {
				break
			}
			if lo == 0 || seq < lo {
				lo = seq
			}
			hi = max(hi, seq)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err == nil && t.channel != "" {
			_, err = br.Exec()
		}
	}
	if err := errors.Join(err, br.Close()); err != nil {
		return err
	}
	if hi/1024 > (lo-1)/1024 { // passed a multiple of 1024: prune
		_, err := t.exec(`DELETE FROM changes WHERE seq <= $1`, hi-feedRetention)
		return err
	}
	return nil
}

func (t *txn) Changes(after int64, limit int) ([]rekey.Change, int64, error) {
	var oldest pgtype.Int8
	if err := t.tx.QueryRow(t.ctx, `SELECT min(seq) FROM changes`).Scan(&oldest); err != nil {
		return nil, 0, err
	}
	rows, err := t.tx.Query(t.ctx, `SELECT seq, kind, key FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []rekey.Change
	for rows.Next() {
		var c rekey.Change
		if err := rows.Scan(&c.Seq, &c.Kind, &c.Key); err != nil {
			return nil, 0, err
		}
		out = append(out, c)
	}
	return out, oldest.Int64, rows.Err()
}

func (t *txn) LatestChange() (int64, error) {
	var seq pgtype.Int8
	err := t.tx.QueryRow(t.ctx, `SELECT max(seq) FROM changes`).Scan(&seq)
	return seq.Int64, err
}

func (t *txn) AddKeyUsage(u rekey.KeyUsage) error {
	var last int64
	if !u.LastUsed.IsZero() {
		last = u.LastUsed.UnixNano()
	}
	// INSERT … SELECT … WHERE: counts for an owner without keys (deleted
	// while the gateway held them) are dropped.
	_, err := t.exec(`INSERT INTO key_usage (owner, slot, requests, grace_requests, last_used)
		SELECT $1::text, $2::text, $3::bigint, $4::bigint, $5::bigint WHERE EXISTS (SELECT 1 FROM keys WHERE resource = $6)
		ON CONFLICT (owner, slot) DO UPDATE SET requests = key_usage.requests + excluded.requests,
			grace_requests = key_usage.grace_requests + excluded.grace_requests, last_used = greatest(key_usage.last_used, excluded.last_used)`,
		u.Owner, string(u.Slot), u.Requests, u.GraceRequests, last, u.Owner)
	return err
}

func (t *txn) PruneKeyUsage(before time.Time, limit int) (int, error) {
	res, err := t.exec(`DELETE FROM key_usage WHERE (owner, slot) IN (SELECT owner, slot FROM key_usage WHERE last_used < $1 ORDER BY last_used LIMIT $2)`,
		before.UnixNano(), limit)
	if err != nil {
		return 0, err
	}
	return int(res.RowsAffected()), nil
}

func (t *txn) KeyUsage(owner string) ([]rekey.KeyUsage, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT slot, requests, grace_requests, last_used FROM key_usage WHERE owner = $1 ORDER BY slot`, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rekey.KeyUsage
	for rows.Next() {
		u := rekey.KeyUsage{Owner: owner}
		var last int64
		if err := rows.Scan(&u.Slot, &u.Requests, &u.GraceRequests, &last); err != nil {
			return nil, err
		}
		if last != 0 {
			u.LastUsed = time.Unix(0, last).UTC()
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func deploymentNotFound(id rekey.DeploymentID) *rekey.Error {
	return rekey.Errorf(rekey.NotFound, "The Resource '%s/%s/onlineEndpoints/%s/deployments/%s' under resource group '%s' was not found.",
		rekey.TypeWorkspace, id.Endpoint.Workspace.Name, id.Endpoint.Name, id.Name, id.Endpoint.Workspace.ResourceGroup)
}

func (t *txn) Deployment(id rekey.DeploymentID) (*rekey.Deployment, error) {
	d := new(rekey.Deployment)
	return d, t.getDoc(d, deploymentNotFound(id), `SELECT doc FROM deployments WHERE key = $1`, id.Key())
}

func (t *txn) PutDeployment(d *rekey.Deployment) (bool, error) {
	if err := t.lock(); err != nil {
		return false, err
	}
	var owner string
	err := t.tx.QueryRow(t.ctx, `SELECT key FROM endpoints WHERE key = $1`, d.ID.Endpoint.Key()).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, rekey.Errorf(rekey.ParentNotFound, "Failed to perform 'write' on resource(s) of type 'onlineEndpoints/deployments', because the parent resource '%s' could not be found.", d.ID.Endpoint)
	}
	if err != nil {
		return false, err
	}
	existed, err := t.exists(`SELECT count(*) FROM deployments WHERE key = $1`, d.ID.Key())
	if err != nil {
		return false, err
	}
	doc, err := marshal(d)
	if err != nil {
		return false, err
	}
	_, err = t.exec(`INSERT INTO deployments (key, endpoint_key, seq, doc) VALUES ($1, $2, (SELECT coalesce(max(seq), 0) + 1 FROM deployments), $3)
		ON CONFLICT (key) DO UPDATE SET doc = excluded.doc`, d.ID.Key(), d.ID.Endpoint.Key(), doc)
	if err != nil {
		return false, err
	}
	return !existed, t.record(rekey.ChangedEndpoint, d.ID.Endpoint.Key())
}

func (t *txn) DeleteDeployment(id rekey.DeploymentID) error {
	if err := t.lock(); err != nil {
		return err
	}
	res, err := t.exec(`DELETE FROM deployments WHERE key = $1`, id.Key())
	if err != nil {
		return err
	}
	if res.RowsAffected() == 0 {
		return deploymentNotFound(id)
	}
	return t.record(rekey.ChangedEndpoint, id.Endpoint.Key())
}

func (t *txn) Deployments(ep rekey.EndpointID) ([]*rekey.Deployment, error) {
	return listDocs[rekey.Deployment](t, `SELECT doc FROM deployments WHERE endpoint_key = $1 ORDER BY seq`, ep.Key())
}

func (t *txn) EndpointByName(name string) (*rekey.Endpoint, error) {
	e := new(rekey.Endpoint)
	return e, t.getDoc(e, rekey.Errorf(rekey.NotFound, "No online endpoint is named '%s'.", name), `SELECT doc FROM endpoints WHERE name_lower = lower($1)`, name)
}

func (t *txn) AllEndpoints() ([]*rekey.Endpoint, error) {
	return listDocs[rekey.Endpoint](t, `SELECT doc FROM endpoints ORDER BY seq`)
}

func (t *txn) AllAccounts() ([]*rekey.Account, error) {
	return listDocs[rekey.Account](t, `SELECT doc FROM accounts ORDER BY key`)
}

func (t *txn) Subscriptions() ([]string, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT subscription FROM workspaces UNION SELECT subscription FROM accounts ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var subs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		subs = append(subs, s)
	}
	return subs, rows.Err()
}

func (t *txn) ScanKeys(fn func(rekey.StoredKey) error) error {
	rows, err := t.tx.Query(t.ctx, keyColumns)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Reset empties every table of resources, keys, usage and operations in
// one transaction; the identity tables (principals, service principals,
// signing keys, settings), role definitions and assignments, and the audit
// log stay. The feed's history goes too: it names
// resources that no longer exist, and the one ChangedAll entry appended
// after it tells every gateway to reload, whether it was caught up or not.
func (t *txn) Reset() error {
	if err := t.lock(); err != nil {
		return err
	}
	for _, table := range []string{"deployments", "endpoints", "workspaces", "accounts", "keys", "key_usage", "operations", "changes"} {
		if _, err := t.exec(`DELETE FROM ` + table); err != nil {
			return err
		}
	}
	t.pending = nil // the entries recorded before are history too
	return t.record(rekey.ChangedAll, "")
}

func (t *txn) ServicePrincipal(appID string) (*rekey.ServicePrincipal, error) {
	sp := new(rekey.ServicePrincipal)
	return sp, t.getDoc(sp, spNotFound(appID), `SELECT doc FROM service_principals WHERE app_id = $1`, strings.ToLower(appID))
}

func spNotFound(appID string) *rekey.Error {
	return rekey.Errorf(rekey.NotFound, "No service principal has the appId '%s'.", rekey.Clip(appID, 64))
}

func (t *txn) PutServicePrincipal(sp *rekey.ServicePrincipal) (bool, error) {
	if err := t.lock(); err != nil {
		return false, err
	}
	appID := strings.ToLower(sp.AppID)
	taken, err := t.exists(`SELECT count(*) FROM service_principals WHERE object_id = $1 AND app_id <> $2`, strings.ToLower(sp.ObjectID), appID)
	if err != nil {
		return false, err
	}
	if taken {
		return false, rekey.Errorf(rekey.Conflict, "Another service principal has the objectId '%s'.", sp.ObjectID)
	}
	existed, err := t.exists(`SELECT count(*) FROM service_principals WHERE app_id = $1`, appID)
	if err != nil {
		return false, err
	}
	doc, err := marshal(sp)
	if err != nil {
		return false, err
	}
	_, err = t.exec(`INSERT INTO service_principals (app_id, object_id, seq, doc)
		VALUES ($1, $2, (SELECT coalesce(max(seq), 0) + 1 FROM service_principals), $3)
		ON CONFLICT (app_id) DO UPDATE SET object_id = excluded.object_id, doc = excluded.doc`,
		appID, strings.ToLower(sp.ObjectID), doc)
	return !existed, err
}

// DeleteServicePrincipal takes the write lock, so that no assignment to
// the principal commits between its delete and its assignments' delete.
func (t *txn) DeleteServicePrincipal(appID string) error {
	if err := t.lock(); err != nil {
		return err
	}
	var objectID string
	err := t.tx.QueryRow(t.ctx, `DELETE FROM service_principals WHERE app_id = $1 RETURNING object_id`, strings.ToLower(appID)).Scan(&objectID)
	if errors.Is(err, pgx.ErrNoRows) {
		return spNotFound(appID)
	}
	if err != nil {
		return err
	}
	return t.deleteAssignmentsOf(objectID)
}

func (t *txn) ServicePrincipals() ([]*rekey.ServicePrincipal, error) {
	if err := t.lockForCheck(); err != nil {
		return nil, err
	}
	return listDocs[rekey.ServicePrincipal](t, `SELECT doc FROM service_principals ORDER BY seq`)
}

func (t *txn) SigningKeys() ([]*rekey.SigningKey, error) {
	return listDocs[rekey.SigningKey](t, `SELECT doc FROM signing_keys ORDER BY seq`)
}

func (t *txn) PutSigningKey(k *rekey.SigningKey) error {
	if err := t.lock(); err != nil {
		return err
	}
	doc, err := marshal(k)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO signing_keys (kid, seq, doc)
		VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM signing_keys), $2)
		ON CONFLICT (kid) DO UPDATE SET doc = excluded.doc`, k.KID, doc)
	return err
}

func (t *txn) DeleteSigningKey(kid string) error {
	res, err := t.exec(`DELETE FROM signing_keys WHERE kid = $1`, kid)
	if err != nil {
		return err
	}
	if res.RowsAffected() == 0 {
		return rekey.Errorf(rekey.NotFound, "No signing key has the kid '%s'.", rekey.Clip(kid, 64))
	}
	return nil
}

func (t *txn) Setting(name string) (string, error) {
	var v string
	err := t.tx.QueryRow(t.ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", rekey.Errorf(rekey.NotFound, "The setting '%s' is not set.", name)
	}
	return v, err
}

func (t *txn) PutSetting(name, value string) error {
	_, err := t.exec(`INSERT INTO settings (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}
