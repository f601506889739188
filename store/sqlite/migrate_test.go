package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// TestMigrationDropsUnboundedPreviousKeys: a database from before
// migration 0004 kept every replaced key without a recorded window; once
// migrated, none of them is valid (the safe reading), and current keys
// are untouched.
func TestMigrationDropsUnboundedPreviousKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rekey.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Turn the file back into a 0003 database holding a replaced key.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP INDEX keys_previous_valid_until`,
		`ALTER TABLE keys DROP COLUMN previous_valid_until`,
		`DELETE FROM schema_migrations WHERE version = 4`,
		`INSERT INTO keys (resource, slot, ciphertext, digest, previous_digest, previous_ciphertext, version, updated_at)
			VALUES ('/owner', 'primary', x'02', x'02', x'01', x'01', 2, 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(t.Context(), func(tx rekey.Tx) error {
		keys, err := tx.Keys("/owner")
		if err != nil {
			return err
		}
		if len(keys) != 1 || string(keys[0].Ciphertext) != "\x02" || keys[0].PreviousCiphertext != nil ||
			keys[0].Previous != (rekey.Digest{}) || keys[0].PreviousValid(time.Unix(0, 0)) {
			t.Errorf("after migration: %+v; want the current key kept and no previous key", keys)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPutKeyDropsExpiredPreviousKeys: a key change drops every replaced
// key whose recorded window has ended, of any owner, so none stays at
// rest (the contract allows it; this store does it).
func TestPutKeyDropsExpiredPreviousKeys(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(owner string, d byte, at, until int64) {
		t.Helper()
		err := s.Update(t.Context(), func(tx rekey.Tx) error {
			k := rekey.StoredKey{Resource: owner, Slot: rekey.Primary, Ciphertext: []byte{d}, Digest: rekey.Digest{d}, UpdatedAt: time.Unix(at, 0)}
			if until > 0 {
				k.PreviousValidUntil = time.Unix(until, 0)
			}
			_, err := tx.PutKey(k)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("/a", 1, 1, 0)
	put("/a", 2, 2, 100) // key 1 valid until 100
	put("/b", 3, 100, 0) // a change at 100 ends it
	err = s.View(t.Context(), func(tx rekey.Tx) error {
		keys, err := tx.Keys("/a")
		if err != nil {
			return err
		}
		if len(keys) != 1 || keys[0].PreviousCiphertext != nil || keys[0].Previous != (rekey.Digest{}) || !keys[0].PreviousValidUntil.IsZero() {
			t.Errorf("Keys(/a) = %+v; want its expired previous key dropped", keys)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
