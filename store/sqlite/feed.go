package sqlite

import (
	"database/sql"
	"errors"
	"time"

	"github.com/rekey-dev/rekey"
)

// feedRetention is how many change-feed rows are kept. A gateway further
// behind reloads everything.
const feedRetention = 100_000

// record appends to the change feed and marks the transaction as one that
// wakes the watchers after commit.
func (t *txn) record(kind rekey.ChangeKind, key string) error {
	var seq int64
	if err := t.tx.QueryRowContext(t.ctx, `INSERT INTO changes (kind, key) VALUES (?, ?) RETURNING seq`, string(kind), key).Scan(&seq); err != nil {
		return err
	}
	t.changed = true
	if seq%1024 == 0 {
		_, err := t.exec(`DELETE FROM changes WHERE seq <= ?`, seq-feedRetention)
		return err
	}
	return nil
}

func (t *txn) Changes(after int64, limit int) ([]rekey.Change, int64, error) {
	var oldest sql.NullInt64
	if err := t.tx.QueryRowContext(t.ctx, `SELECT min(seq) FROM changes`).Scan(&oldest); err != nil {
		return nil, 0, err
	}
	rows, err := t.tx.QueryContext(t.ctx, `SELECT seq, kind, key FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
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
	var seq sql.NullInt64
	err := t.tx.QueryRowContext(t.ctx, `SELECT max(seq) FROM changes`).Scan(&seq)
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
		SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM keys WHERE resource = ?)
		ON CONFLICT (owner, slot) DO UPDATE SET requests = requests + excluded.requests,
			grace_requests = grace_requests + excluded.grace_requests, last_used = max(last_used, excluded.last_used)`,
		u.Owner, string(u.Slot), u.Requests, u.GraceRequests, last, u.Owner)
	return err
}

func (t *txn) PruneKeyUsage(before time.Time, limit int) (int, error) {
	res, err := t.exec(`DELETE FROM key_usage WHERE rowid IN (SELECT rowid FROM key_usage WHERE last_used < ? ORDER BY last_used LIMIT ?)`,
		before.UnixNano(), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *txn) KeyUsage(owner string) ([]rekey.KeyUsage, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT slot, requests, grace_requests, last_used FROM key_usage WHERE owner = ? ORDER BY slot`, owner)
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
	return d, t.getDoc(d, deploymentNotFound(id), `SELECT doc FROM deployments WHERE key = ?`, id.Key())
}

func (t *txn) PutDeployment(d *rekey.Deployment) (bool, error) {
	var owner string
	err := t.tx.QueryRowContext(t.ctx, `SELECT key FROM endpoints WHERE key = ?`, d.ID.Endpoint.Key()).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return false, rekey.Errorf(rekey.ParentNotFound, "Failed to perform 'write' on resource(s) of type 'onlineEndpoints/deployments', because the parent resource '%s' could not be found.", d.ID.Endpoint)
	}
	if err != nil {
		return false, err
	}
	existed, err := t.exists(`SELECT count(*) FROM deployments WHERE key = ?`, d.ID.Key())
	if err != nil {
		return false, err
	}
	doc, err := marshal(d)
	if err != nil {
		return false, err
	}
	_, err = t.exec(`INSERT INTO deployments (key, endpoint_key, seq, doc) VALUES (?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM deployments), ?)
		ON CONFLICT (key) DO UPDATE SET doc = excluded.doc`, d.ID.Key(), d.ID.Endpoint.Key(), doc)
	if err != nil {
		return false, err
	}
	return !existed, t.record(rekey.ChangedEndpoint, d.ID.Endpoint.Key())
}

func (t *txn) DeleteDeployment(id rekey.DeploymentID) error {
	res, err := t.exec(`DELETE FROM deployments WHERE key = ?`, id.Key())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return deploymentNotFound(id)
	}
	return t.record(rekey.ChangedEndpoint, id.Endpoint.Key())
}

func (t *txn) Deployments(ep rekey.EndpointID) ([]*rekey.Deployment, error) {
	return listDocs[rekey.Deployment](t, `SELECT doc FROM deployments WHERE endpoint_key = ? ORDER BY seq`, ep.Key())
}

func (t *txn) EndpointByName(name string) (*rekey.Endpoint, error) {
	e := new(rekey.Endpoint)
	return e, t.getDoc(e, rekey.Errorf(rekey.NotFound, "No online endpoint is named '%s'.", name), `SELECT doc FROM endpoints WHERE name_lower = lower(?)`, name)
}

func (t *txn) AllEndpoints() ([]*rekey.Endpoint, error) {
	return listDocs[rekey.Endpoint](t, `SELECT doc FROM endpoints ORDER BY seq`)
}

func (t *txn) AllAccounts() ([]*rekey.Account, error) {
	return listDocs[rekey.Account](t, `SELECT doc FROM accounts ORDER BY key`)
}

func (t *txn) ScanKeys(fn func(rekey.StoredKey) error) error {
	rows, err := t.tx.QueryContext(t.ctx, keyColumns)
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
// signing keys, settings) stay. The feed's history goes too: it names
// resources that no longer exist, and the one ChangedAll entry appended
// after it tells every gateway to reload, whether it was caught up or not.
func (t *txn) Reset() error {
	for _, table := range []string{"deployments", "endpoints", "workspaces", "accounts", "keys", "key_usage", "operations", "changes"} {
		if _, err := t.exec(`DELETE FROM ` + table); err != nil {
			return err
		}
	}
	return t.record(rekey.ChangedAll, "")
}
