package rekey

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
)

// SettingKeyCheck holds a known value sealed under the master key: the key
// check value. Every replica of an installation must share one master key;
// one started with another would seal new keys no other replica can open
// and fail every request that needs a stored key. With the check value it
// refuses to start instead.
const SettingKeyCheck = "master-key-check"

// keyCheckPlain is what the key check value seals.
const keyCheckPlain = "rekey master key check v1"

// keyCheckOwner binds the check value's seal, so that no stored key's
// ciphertext can stand in for it.
const keyCheckOwner = "rekey/master-key-check"

// ErrWrongMasterKey reports a master key that cannot open the store's keys.
var ErrWrongMasterKey = errors.New("the master key cannot open the keys in this database: it is not the one they were sealed with. " +
	"Start with the master key the installation was created with (REKEY_MASTER_KEY, or master.key in its data directory); every replica must share it")

// CheckMasterKey verifies that k's master key is the one the store's keys
// were sealed with, by opening the key check value, and writes that value
// on first start. An installation from before the check value existed is
// checked against one stored key (or, without keys, taken as it is)
// before its value is written. Nothing is written when the check fails.
func CheckMasterKey(ctx context.Context, s Store, k *Keyring) error {
	var found bool
	err := s.View(ctx, func(tx Tx) error {
		v, err := tx.Setting(SettingKeyCheck)
		if ErrorCode(err) == NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return k.openKeyCheck(v)
	})
	if err != nil || found {
		return err
	}
	return s.Update(ctx, func(tx Tx) error {
		// Another replica may have written it since.
		if v, err := tx.Setting(SettingKeyCheck); err == nil {
			return k.openKeyCheck(v)
		} else if ErrorCode(err) != NotFound {
			return err
		}
		if err := k.opensStoredKey(tx); err != nil {
			return err
		}
		return tx.PutSetting(SettingKeyCheck, base64.StdEncoding.EncodeToString(k.Seal(keyCheckOwner, Primary, keyCheckPlain)))
	})
}

// openKeyCheck opens a stored key check value.
func (k *Keyring) openKeyCheck(v string) error {
	sealed, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return ErrWrongMasterKey
	}
	plain, err := k.Open(keyCheckOwner, Primary, sealed)
	if err != nil || subtle.ConstantTimeCompare([]byte(plain), []byte(keyCheckPlain)) != 1 {
		return ErrWrongMasterKey
	}
	return nil
}

// errStop ends ScanKeys after the first key.
var errStop = errors.New("stop")

// opensStoredKey opens the first stored key, if there is one.
func (k *Keyring) opensStoredKey(tx Tx) error {
	var opened error
	err := tx.ScanKeys(func(sk StoredKey) error {
		_, opened = k.Open(sk.Resource, sk.Slot, sk.Ciphertext)
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	if opened != nil {
		return ErrWrongMasterKey
	}
	return nil
}
