package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
)

func testServicePrincipals(t *testing.T, s rekey.Store) {
	ctx := context.Background()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := &rekey.ServicePrincipal{AppID: "0a1b2c3d-0000-4000-8000-00000000000a", ObjectID: "0a1b2c3d-0000-4000-8000-0000000000aa",
		DisplayName: "ci", Created: created, SecretDigest: rekey.Digest{1, 2, 3}, SecretHint: "abc", SecretCreated: created}
	b := &rekey.ServicePrincipal{AppID: "0a1b2c3d-0000-4000-8000-00000000000b", ObjectID: "0a1b2c3d-0000-4000-8000-0000000000bb", DisplayName: "deploy", Created: created}
	for _, sp := range []*rekey.ServicePrincipal{a, b} {
		mustUpdate(t, s, func(tx rekey.Tx) error {
			created, err := tx.PutServicePrincipal(sp)
			if !created {
				t.Errorf("PutServicePrincipal(%s) created = false on first put", sp.DisplayName)
			}
			return err
		})
	}
	// A reset secret replaces the stored one; the row is not created again.
	a2 := *a
	a2.SecretDigest = rekey.Digest{9}
	mustUpdate(t, s, func(tx rekey.Tx) error {
		created, err := tx.PutServicePrincipal(&a2)
		if created {
			t.Errorf("PutServicePrincipal(replace) created = true")
		}
		return err
	})
	// Another appId with a's objectId is a conflict.
	dup := *b
	dup.AppID, dup.ObjectID = "0a1b2c3d-0000-4000-8000-00000000000c", a.ObjectID
	err := s.Update(ctx, func(tx rekey.Tx) error { _, err := tx.PutServicePrincipal(&dup); return err })
	wantCode(t, "PutServicePrincipal(duplicate objectId)", err, rekey.Conflict)

	s.View(ctx, func(tx rekey.Tx) error {
		got, err := tx.ServicePrincipal(strings.ToUpper(a.AppID))
		if err != nil || got.SecretDigest != a2.SecretDigest || got.DisplayName != "ci" || !got.Created.Equal(created) {
			t.Errorf("ServicePrincipal(upper-case appId) = %+v, %v; want the replaced ci", got, err)
		}
		list, err := tx.ServicePrincipals()
		if err != nil || len(list) != 2 || list[0].DisplayName != "ci" || list[1].DisplayName != "deploy" {
			t.Errorf("ServicePrincipals() = %d items, %v; want ci, deploy", len(list), err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteServicePrincipal(a.AppID) })
	err = s.Update(ctx, func(tx rekey.Tx) error { return tx.DeleteServicePrincipal(a.AppID) })
	wantCode(t, "DeleteServicePrincipal(deleted)", err, rekey.NotFound)
	err = s.View(ctx, func(tx rekey.Tx) error { _, err := tx.ServicePrincipal(a.AppID); return err })
	wantCode(t, "ServicePrincipal(deleted)", err, rekey.NotFound)
}

func testSigningKeys(t *testing.T, s rekey.Store) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	k1 := &rekey.SigningKey{KID: "k1", Created: now, Sealed: []byte{1, 2}}
	k2 := &rekey.SigningKey{KID: "k2", Created: now.Add(time.Minute), Sealed: []byte{3}}
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.PutSigningKey(k1) })
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.PutSigningKey(k2) })
	k1.Retired = now.Add(time.Minute)
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.PutSigningKey(k1) })
	s.View(ctx, func(tx rekey.Tx) error {
		got, err := tx.SigningKeys()
		if err != nil || len(got) != 2 || got[0].KID != "k1" || got[1].KID != "k2" || !got[0].Retired.Equal(k1.Retired) || !got[1].Retired.IsZero() || string(got[0].Sealed) != "\x01\x02" {
			t.Errorf("SigningKeys() = %+v, %v; want k1 (retired), k2, oldest first", got, err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteSigningKey("k1") })
	err := s.Update(ctx, func(tx rekey.Tx) error { return tx.DeleteSigningKey("k1") })
	wantCode(t, "DeleteSigningKey(deleted)", err, rekey.NotFound)
}

func testSettings(t *testing.T, s rekey.Store) {
	ctx := context.Background()
	err := s.View(ctx, func(tx rekey.Tx) error { _, err := tx.Setting(rekey.SettingTenantID); return err })
	wantCode(t, "Setting(never set)", err, rekey.NotFound)
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.PutSetting(rekey.SettingTenantID, "one") })
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.PutSetting(rekey.SettingTenantID, "two") })
	s.View(ctx, func(tx rekey.Tx) error {
		if got, err := tx.Setting(rekey.SettingTenantID); got != "two" || err != nil {
			t.Errorf("Setting() = %q, %v; want two", got, err)
		}
		return nil
	})
}
