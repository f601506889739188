package sqlite

import (
	"errors"
	"strings"

	"github.com/rekey-dev/rekey"
)

func accountNotFound(id rekey.AccountID) *rekey.Error {
	return rekey.Errorf(rekey.NotFound, "The Resource '%s/%s' under resource group '%s' was not found.", rekey.TypeAccount, id.Name, id.ResourceGroup)
}

func (t *txn) Account(id rekey.AccountID) (*rekey.Account, error) {
	a := new(rekey.Account)
	return a, t.getDoc(a, accountNotFound(id), `SELECT doc FROM accounts WHERE key = ?`, id.Key())
}

func (t *txn) PutAccount(a *rekey.Account) (bool, error) {
	existed, err := t.exists(`SELECT count(*) FROM accounts WHERE key = ?`, a.ID.Key())
	if err != nil {
		return false, err
	}
	doc, err := marshal(a)
	if err != nil {
		return false, err
	}
	_, err = t.exec(`INSERT INTO accounts (key, subscription, resource_group, name_lower, doc) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET doc = excluded.doc`,
		a.ID.Key(), strings.ToLower(a.ID.Subscription), strings.ToLower(a.ID.ResourceGroup), strings.ToLower(a.ID.Name), doc)
	if err != nil {
		return false, err
	}
	return !existed, t.record(rekey.ChangedAccount, a.ID.Key())
}

func (t *txn) DeleteAccount(id rekey.AccountID) error {
	if _, err := t.exec(`DELETE FROM keys WHERE resource IN (?, ?)`, id.SubscriptionKeys(), id.EndpointKeys()); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM key_usage WHERE owner IN (?, ?)`, id.SubscriptionKeys(), id.EndpointKeys()); err != nil {
		return err
	}
	res, err := t.exec(`DELETE FROM accounts WHERE key = ?`, id.Key())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return accountNotFound(id)
	}
	return errors.Join(t.record(rekey.ChangedAccount, id.Key()), t.record(rekey.ChangedKeys, id.SubscriptionKeys()), t.record(rekey.ChangedKeys, id.EndpointKeys()))
}

func (t *txn) Accounts(subscription, rg string) ([]*rekey.Account, error) {
	if rg == "" {
		return listDocs[rekey.Account](t, `SELECT doc FROM accounts WHERE subscription = ? ORDER BY resource_group, name_lower`, strings.ToLower(subscription))
	}
	return listDocs[rekey.Account](t, `SELECT doc FROM accounts WHERE subscription = ? AND resource_group = ? ORDER BY name_lower`,
		strings.ToLower(subscription), strings.ToLower(rg))
}
