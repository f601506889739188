package sqlite

import (
	"database/sql"
	"errors"
	"strings"

	"github.com/rekey-dev/rekey"
)

func (t *txn) ServicePrincipal(appID string) (*rekey.ServicePrincipal, error) {
	sp := new(rekey.ServicePrincipal)
	return sp, t.getDoc(sp, spNotFound(appID), `SELECT doc FROM service_principals WHERE app_id = ?`, strings.ToLower(appID))
}

func spNotFound(appID string) *rekey.Error {
	return rekey.Errorf(rekey.NotFound, "No service principal has the appId '%s'.", rekey.Clip(appID, 64))
}

func (t *txn) PutServicePrincipal(sp *rekey.ServicePrincipal) (bool, error) {
	appID := strings.ToLower(sp.AppID)
	taken, err := t.exists(`SELECT count(*) FROM service_principals WHERE object_id = ? AND app_id <> ?`, strings.ToLower(sp.ObjectID), appID)
	if err != nil {
		return false, err
	}
	if taken {
		return false, rekey.Errorf(rekey.Conflict, "Another service principal has the objectId '%s'.", sp.ObjectID)
	}
	existed, err := t.exists(`SELECT count(*) FROM service_principals WHERE app_id = ?`, appID)
	if err != nil {
		return false, err
	}
	doc, err := marshal(sp)
	if err != nil {
		return false, err
	}
	_, err = t.exec(`INSERT INTO service_principals (app_id, object_id, seq, doc)
		VALUES (?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM service_principals), ?)
		ON CONFLICT (app_id) DO UPDATE SET object_id = excluded.object_id, doc = excluded.doc`,
		appID, strings.ToLower(sp.ObjectID), doc)
	return !existed, err
}

func (t *txn) DeleteServicePrincipal(appID string) error {
	var objectID string
	err := t.tx.QueryRowContext(t.ctx, `DELETE FROM service_principals WHERE app_id = ? RETURNING object_id`, strings.ToLower(appID)).Scan(&objectID)
	if errors.Is(err, sql.ErrNoRows) {
		return spNotFound(appID)
	}
	if err != nil {
		return err
	}
	return t.deleteAssignmentsOf(objectID)
}

func (t *txn) ServicePrincipals() ([]*rekey.ServicePrincipal, error) {
	return listDocs[rekey.ServicePrincipal](t, `SELECT doc FROM service_principals ORDER BY seq`)
}

func (t *txn) SigningKeys() ([]*rekey.SigningKey, error) {
	return listDocs[rekey.SigningKey](t, `SELECT doc FROM signing_keys ORDER BY seq`)
}

func (t *txn) PutSigningKey(k *rekey.SigningKey) error {
	doc, err := marshal(k)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO signing_keys (kid, seq, doc)
		VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM signing_keys), ?)
		ON CONFLICT (kid) DO UPDATE SET doc = excluded.doc`, k.KID, doc)
	return err
}

func (t *txn) DeleteSigningKey(kid string) error {
	res, err := t.exec(`DELETE FROM signing_keys WHERE kid = ?`, kid)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return rekey.Errorf(rekey.NotFound, "No signing key has the kid '%s'.", rekey.Clip(kid, 64))
	}
	return nil
}

func (t *txn) Setting(name string) (string, error) {
	var v string
	err := t.tx.QueryRowContext(t.ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", rekey.Errorf(rekey.NotFound, "The setting '%s' is not set.", name)
	}
	return v, err
}

func (t *txn) PutSetting(name, value string) error {
	_, err := t.exec(`INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}
