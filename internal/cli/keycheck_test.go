package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/store/postgres"
	"github.com/rekey-dev/rekey/store/postgres/pgtest"
	"github.com/rekey-dev/rekey/store/sqlite"
)

func newMasterKey() string {
	b := make([]byte, rekey.MasterKeySize)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// TestWrongMasterKeyRefusesToStart: a server started on an installation
// with another master key than the one its keys were sealed with stops
// at once with a message that says so, and changes nothing: restarted
// with the right key, the keys are those from before. On SQLite (the
// data directory) and, with REKEY_TEST_DATABASE_URL, on PostgreSQL, where
// the second replica has a data directory of its own.
func TestWrongMasterKeyRefusesToStart(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testWrongMasterKey(t, nil) })
	t.Run("postgres", func(t *testing.T) { testWrongMasterKey(t, []string{"--database", pgtest.URL(t)}) })
}

func testWrongMasterKey(t *testing.T, db []string) {
	keyA, keyB := newMasterKey(), newMasterKey()
	dataA := t.TempDir()
	s := startServerEnv(t, envOf("REKEY_MASTER_KEY", keyA), dataA, db...)
	c := newSDK(t, s)
	c.mustWorkspace(t, "ws-mk")
	c.mustEndpoint(t, "ws-mk", "ep-mk", ml.EndpointAuthModeKey)
	p0, s0 := c.keys(t, "ws-mk", "ep-mk")
	s.stop()

	dataB := dataA
	if db != nil {
		dataB = t.TempDir() // another replica
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--data", dataB}, db...)
	var out, errb syncBuffer
	err := run(ctx, args, envOf("REKEY_MASTER_KEY", keyB), nil, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "master key cannot open the keys") {
		t.Fatalf("serve with another master key = %v, want an error saying the master key cannot open the keys", err)
	}
	if strings.Contains(out.String(), "management API on") {
		t.Errorf("serve with another master key started serving")
	}

	s = startServerEnv(t, envOf("REKEY_MASTER_KEY", keyA), dataA, db...)
	if p1, s1 := newSDK(t, s).keys(t, "ws-mk", "ep-mk"); p1 != p0 || s1 != s0 {
		t.Errorf("keys changed after a refused start with another master key")
	}
}

// TestCheckMasterKeyOnOlderInstallation: a database written before the
// key check value existed holds keys but no check value. A wrong master
// key is refused (checked against a stored key) and nothing is written;
// the right one is accepted and the check value written then.
func TestCheckMasterKeyOnOlderInstallation(t *testing.T) {
	stores := map[string]func(t *testing.T) rekey.Store{
		"sqlite": func(t *testing.T) rekey.Store {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "rekey.db"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"postgres": func(t *testing.T) rekey.Store {
			s, err := postgres.Open(t.Context(), pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			ringOf := func(k string) *rekey.Keyring {
				b, _ := base64.StdEncoding.DecodeString(k)
				r, err := rekey.NewKeyring(b)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			a, b := ringOf(newMasterKey()), ringOf(newMasterKey())
			err := s.Update(t.Context(), func(tx rekey.Tx) error {
				_, err := tx.PutKey(a.StoredKey("/owner", rekey.Primary, rekey.NewKey()))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			checkValue := func() error {
				return s.View(t.Context(), func(tx rekey.Tx) error { _, err := tx.Setting(rekey.SettingKeyCheck); return err })
			}
			if err := rekey.CheckMasterKey(t.Context(), s, b); err != rekey.ErrWrongMasterKey {
				t.Errorf("CheckMasterKey(wrong key) = %v, want ErrWrongMasterKey", err)
			}
			if err := checkValue(); rekey.ErrorCode(err) != rekey.NotFound {
				t.Errorf("after a refused key the check value is there (%v); nothing may be written", err)
			}
			if err := rekey.CheckMasterKey(t.Context(), s, a); err != nil {
				t.Errorf("CheckMasterKey(right key) = %v", err)
			}
			if err := checkValue(); err != nil {
				t.Errorf("check value after the first accepted start: %v", err)
			}
			if err := rekey.CheckMasterKey(t.Context(), s, b); err != rekey.ErrWrongMasterKey {
				t.Errorf("CheckMasterKey(wrong key) with a check value = %v, want ErrWrongMasterKey", err)
			}
		})
	}
}
