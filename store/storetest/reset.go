package storetest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
)

// testReset: Reset removes every resource, key, usage count and
// operation, and leaves one ChangedAll entry in the feed (waking the
// watchers), while the server's identity (principals, service principals,
// signing keys, settings) stays. The names are free again afterwards.
func testReset(t *testing.T, s rekey.Store) {
	ws := wsID("rg", "ws")
	mustWorkspace(t, s, ws)
	e := mustEndpoint(t, s, rekey.EndpointID{Workspace: ws, Name: "ep"})
	dep := rekey.DeploymentID{Endpoint: e.ID, Name: "blue"}
	acc := rekey.AccountID{Subscription: sub, ResourceGroup: "rg", Name: "acc"}
	sp := &rekey.ServicePrincipal{AppID: "0a1b2c3d-0000-4000-8000-00000000000a", ObjectID: "0a1b2c3d-0000-4000-8000-0000000000aa", DisplayName: "ci", Created: time.Unix(1, 0).UTC()}
	mustUpdate(t, s, func(tx rekey.Tx) error {
		if _, err := tx.PutDeployment(&rekey.Deployment{ID: dep}); err != nil {
			return err
		}
		if _, err := tx.PutAccount(&rekey.Account{ID: acc, Kind: rekey.KindQnAMaker}); err != nil {
			return err
		}
		if err := tx.PutOperation(&rekey.Operation{ID: "op", Kind: rekey.OpRegenerateKeys, Status: rekey.OpInProgress, CreatedAt: time.Unix(1, 0), NotBefore: time.Unix(1, 0)}); err != nil {
			return err
		}
		if err := tx.PutPrincipal(&rekey.Principal{ID: "admin", Name: "admin", Type: "Application"}, rekey.TokenHash("admin-token")); err != nil {
			return err
		}
		if _, err := tx.PutServicePrincipal(sp); err != nil {
			return err
		}
		if err := tx.PutSigningKey(&rekey.SigningKey{KID: "k1", Created: time.Unix(1, 0).UTC(), Sealed: []byte{1}}); err != nil {
			return err
		}
		return tx.PutSetting(rekey.SettingTenantID, "tenant")
	})
	mustKeys(t, s, e.ID.Key())
	mustKeys(t, s, acc.EndpointKeys())
	addUsage(t, s, e.ID.Key(), 3, time.Unix(2, 0))

	var before int64
	s.View(t.Context(), func(tx rekey.Tx) (err error) { before, err = tx.LatestChange(); return err })
	var woken atomic.Int64
	s.Watch(func() { woken.Add(1) })
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.Reset() })
	if got := woken.Load(); got != 1 {
		t.Errorf("watchers woken %d times by Reset, want 1", got)
	}

	err := s.View(t.Context(), func(tx rekey.Tx) error {
		_, err := tx.Workspace(ws)
		wantCode(t, "Workspace after Reset", err, rekey.NotFound)
		_, err = tx.Endpoint(e.ID)
		wantCode(t, "Endpoint after Reset", err, rekey.NotFound)
		_, err = tx.EndpointByName("ep")
		wantCode(t, "EndpointByName after Reset", err, rekey.NotFound)
		_, err = tx.Deployment(dep)
		wantCode(t, "Deployment after Reset", err, rekey.NotFound)
		_, err = tx.Account(acc)
		wantCode(t, "Account after Reset", err, rekey.NotFound)
		_, err = tx.Operation("op")
		wantCode(t, "Operation after Reset", err, rekey.NotFound)
		if eps, err := tx.AllEndpoints(); len(eps) != 0 || err != nil {
			t.Errorf("AllEndpoints() after Reset = %d, %v; want none", len(eps), err)
		}
		if accs, err := tx.AllAccounts(); len(accs) != 0 || err != nil {
			t.Errorf("AllAccounts() after Reset = %d, %v; want none", len(accs), err)
		}
		n := 0
		if err := tx.ScanKeys(func(rekey.StoredKey) error { n++; return nil }); n != 0 || err != nil {
			t.Errorf("ScanKeys() after Reset saw %d keys, %v; want none", n, err)
		}
		if found, err := tx.KeysByDigest(rekey.Digest{0, 9}); len(found) != 0 || err != nil {
			t.Errorf("KeysByDigest() after Reset = %d keys, %v; want none", len(found), err)
		}
		if u, err := tx.KeyUsage(e.ID.Key()); len(u) != 0 || err != nil {
			t.Errorf("KeyUsage() after Reset = %v, %v; want none", u, err)
		}
		if _, ok, err := tx.NextOperation(); ok || err != nil {
			t.Errorf("NextOperation() after Reset = %v, %v; want none", ok, err)
		}
		changes, oldest, err := tx.Changes(before, 100)
		if err != nil || len(changes) != 1 || changes[0].Kind != rekey.ChangedAll || changes[0].Seq <= before || oldest != changes[0].Seq {
			t.Errorf("Changes(before Reset) = %v, oldest %d, %v; want exactly one ChangedAll after %d", changes, oldest, err, before)
		}

		// Identity stays.
		if p, err := tx.PrincipalByToken(rekey.TokenHash("admin-token")); err != nil || p.Name != "admin" {
			t.Errorf("PrincipalByToken() after Reset = %v, %v; want admin", p, err)
		}
		if got, err := tx.ServicePrincipal(sp.AppID); err != nil || got.DisplayName != "ci" {
			t.Errorf("ServicePrincipal() after Reset = %v, %v; want ci", got, err)
		}
		if keys, err := tx.SigningKeys(); err != nil || len(keys) != 1 {
			t.Errorf("SigningKeys() after Reset = %d, %v; want 1", len(keys), err)
		}
		if v, err := tx.Setting(rekey.SettingTenantID); v != "tenant" || err != nil {
			t.Errorf("Setting(tenant) after Reset = %q, %v; want tenant", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The same names can be created again, and count from nothing.
	mustWorkspace(t, s, ws)
	mustEndpoint(t, s, e.ID)
	mustKeys(t, s, e.ID.Key())
	if got := usageOf(t, s, e.ID.Key()); got != 0 {
		t.Errorf("usage of a recreated endpoint = %d, want 0", got)
	}
}
