package postgres

import (
	"errors"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/store/postgres/pgtest"
)

// raise makes PostgreSQL abort the transaction with SQLSTATE code, as a
// real serialization failure or deadlock does.
func raise(tx rekey.Tx, code string) error {
	t := tx.(*txn)
	_, err := t.exec(`DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '` + code + `'; END $$`)
	return err
}

// TestUpdateRetriesSerializationFailures: a transaction PostgreSQL aborts
// with 40001 or 40P01 runs again and commits once; other errors and
// endless failures come back to the caller, with nothing written.
func TestUpdateRetriesSerializationFailures(t *testing.T) {
	s, err := Open(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var woken int
	s.Watch(func() { woken++ })
	put := func(tx rekey.Tx, d byte) error {
		_, err := tx.PutKey(rekey.StoredKey{Resource: "/owner", Slot: rekey.Primary, Ciphertext: []byte{d}, Digest: rekey.Digest{d}, UpdatedAt: time.Now()})
		return err
	}
	for _, code := range []string{"40001", "40P01"} {
		attempts := 0
		err := s.Update(t.Context(), func(tx rekey.Tx) error {
			attempts++
			if err := put(tx, byte(attempts)); err != nil {
				return err
			}
			if attempts < 3 {
				return raise(tx, code)
			}
			return nil
		})
		if err != nil || attempts != 3 {
			t.Errorf("%s twice then success: Update = %v after %d attempts, want nil after 3", code, err, attempts)
		}
	}
	if woken != 2 {
		t.Errorf("watchers woken %d times for 2 committed updates", woken)
	}

	attempts := 0
	err = s.Update(t.Context(), func(tx rekey.Tx) error {
		attempts++
		if err := put(tx, 100); err != nil {
			return err
		}
		return raise(tx, "40001")
	})
	if !Retryable(err) || attempts != maxAttempts {
		t.Errorf("endless 40001: Update = %v after %d attempts, want the error after %d", err, attempts, maxAttempts)
	}
	attempts = 0
	err = s.Update(t.Context(), func(tx rekey.Tx) error {
		attempts++
		return raise(tx, "23505")
	})
	if err == nil || Retryable(err) || attempts != 1 {
		t.Errorf("23505: Update = %v after %d attempts, want the error after 1", err, attempts)
	}
	fnErr := errors.New("fn failed")
	attempts = 0
	if err := s.Update(t.Context(), func(tx rekey.Tx) error { attempts++; return fnErr }); err != fnErr || attempts != 1 {
		t.Errorf("fn error: Update = %v after %d attempts, want fn's error as is after 1", err, attempts)
	}
	err = s.View(t.Context(), func(tx rekey.Tx) error {
		keys, err := tx.Keys("/owner")
		if err != nil {
			return err
		}
		if len(keys) != 1 || keys[0].Version != 2 || keys[0].Digest != (rekey.Digest{3}) {
			t.Errorf("after two committed updates: %d slots, version %d; want version 2 holding the third attempt's key", len(keys), keys[0].Version)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
