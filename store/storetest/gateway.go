package storetest

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
)

func testDeployments(t *testing.T, s rekey.Store) {
	ws := wsID("rg", "ws")
	mustWorkspace(t, s, ws)
	e := mustEndpoint(t, s, rekey.EndpointID{Workspace: ws, Name: "ep"})
	blue := &rekey.Deployment{ID: rekey.DeploymentID{Endpoint: e.ID, Name: "blue"}, ComputeType: "Managed", Properties: map[string]string{rekey.UpstreamProperty: "http://127.0.0.1:1"}}
	green := &rekey.Deployment{ID: rekey.DeploymentID{Endpoint: e.ID, Name: "green"}, ComputeType: "Managed"}
	for _, d := range []*rekey.Deployment{blue, green} {
		mustUpdate(t, s, func(tx rekey.Tx) error { _, err := tx.PutDeployment(d); return err })
	}
	err := s.View(t.Context(), func(tx rekey.Tx) error {
		list, err := tx.Deployments(e.ID)
		if err != nil || len(list) != 2 || list[0].ID.Name != "blue" || list[0].Upstream() != "http://127.0.0.1:1" {
			t.Errorf("Deployments() = %v, %v; want blue (with its upstream), green", list, err)
		}
		got, err := tx.EndpointByName("EP")
		if err != nil || got.UID != e.UID {
			t.Errorf("EndpointByName(EP) = %v, %v; want the endpoint", got, err)
		}
		all, err := tx.AllEndpoints()
		if err != nil || len(all) != 1 {
			t.Errorf("AllEndpoints() = %d, %v; want 1", len(all), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteDeployment(green.ID) })
	err = s.Update(t.Context(), func(tx rekey.Tx) error { return tx.DeleteDeployment(green.ID) })
	wantCode(t, "DeleteDeployment(deleted)", err, rekey.NotFound)
	orphan := &rekey.Deployment{ID: rekey.DeploymentID{Endpoint: rekey.EndpointID{Workspace: ws, Name: "nope"}, Name: "x"}}
	err = s.Update(t.Context(), func(tx rekey.Tx) error { _, err := tx.PutDeployment(orphan); return err })
	wantCode(t, "PutDeployment(no endpoint)", err, rekey.ParentNotFound)
	// Deleting the endpoint takes its deployments.
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteEndpoint(e.ID) })
	mustEndpoint(t, s, e.ID)
	s.View(t.Context(), func(tx rekey.Tx) error {
		if list, _ := tx.Deployments(e.ID); len(list) != 0 {
			t.Errorf("deployments survived their endpoint's deletion")
		}
		return nil
	})
}

// testChangeFeed: every write the gateway routes on appears in the feed,
// in order, and wakes the watchers before Update returns.
func testChangeFeed(t *testing.T, s rekey.Store) {
	var woken atomic.Int64
	s.Watch(func() { woken.Add(1) })
	var start int64
	s.View(t.Context(), func(tx rekey.Tx) (err error) { start, err = tx.LatestChange(); return err })
	ws := wsID("rg", "ws")
	mustWorkspace(t, s, ws) // workspaces are not routed on: no change
	if woken.Load() != 0 {
		t.Errorf("a workspace write woke the watchers")
	}
	e := mustEndpoint(t, s, rekey.EndpointID{Workspace: ws, Name: "ep"})
	if woken.Load() != 1 {
		t.Errorf("watchers woken %d times after an endpoint write, want 1 (synchronously)", woken.Load())
	}
	mustUpdate(t, s, func(tx rekey.Tx) error {
		_, err := tx.PutKey(rekey.StoredKey{Resource: e.ID.Key(), Slot: rekey.Primary, Ciphertext: []byte{1}, Digest: rekey.Digest{1}, UpdatedAt: time.Now()})
		return err
	})
	acc := rekey.AccountID{Subscription: sub, ResourceGroup: "rg", Name: "acc"}
	mustUpdate(t, s, func(tx rekey.Tx) error {
		_, err := tx.PutAccount(&rekey.Account{ID: acc, Kind: rekey.KindQnAMaker})
		return err
	})
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteWorkspace(ws) })
	err := s.View(t.Context(), func(tx rekey.Tx) error {
		changes, _, err := tx.Changes(start, 100)
		if err != nil {
			return err
		}
		var got []string
		for i, c := range changes {
			if i > 0 && c.Seq <= changes[i-1].Seq {
				t.Errorf("Changes() not in seq order")
			}
			got = append(got, string(c.Kind)+" "+c.Key)
		}
		for _, want := range []string{"endpoint " + e.ID.Key(), "keys " + e.ID.Key(), "account " + acc.Key()} {
			if !slices.Contains(got, want) {
				t.Errorf("Changes() = %v, lacks %q", got, want)
			}
		}
		if got[len(got)-1] != "endpoint "+e.ID.Key() && got[len(got)-2] != "endpoint "+e.ID.Key() {
			t.Errorf("deleting the workspace did not record its endpoint: %v", got)
		}
		latest, err := tx.LatestChange()
		if err != nil || latest != changes[len(changes)-1].Seq {
			t.Errorf("LatestChange() = %d, %v; want %d", latest, err, changes[len(changes)-1].Seq)
		}
		rest, _, _ := tx.Changes(latest, 100)
		if len(rest) != 0 {
			t.Errorf("Changes(latest) = %v, want none", rest)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testKeyHistory: PutKey keeps the replaced key, with the validity
// window the caller fixed at rotation, only when that window ends after
// the change; otherwise it drops the replaced key at once. ScanKeys and
// KeysByDigest see the same.
func testKeyHistory(t *testing.T, s rekey.Store) {
	owner := "/subscriptions/x/owner"
	put := func(d byte, until time.Time) {
		t.Helper()
		mustUpdate(t, s, func(tx rekey.Tx) error {
			_, err := tx.PutKey(rekey.StoredKey{Resource: owner, Slot: rekey.Primary, Ciphertext: []byte{d}, Digest: rekey.Digest{d},
				UpdatedAt: time.Unix(int64(d), 0), PreviousValidUntil: until})
			return err
		})
	}
	one := func(what string) rekey.StoredKey {
		t.Helper()
		var keys, scanned, byDigest []rekey.StoredKey
		err := s.View(t.Context(), func(tx rekey.Tx) (err error) {
			if keys, err = tx.Keys(owner); err != nil {
				return err
			}
			if len(keys) == 1 {
				if byDigest, err = tx.KeysByDigest(keys[0].Digest); err != nil {
					return err
				}
			}
			return tx.ScanKeys(func(k rekey.StoredKey) error {
				if k.Resource == owner {
					scanned = append(scanned, k)
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || len(scanned) != 1 || len(byDigest) != 1 {
			t.Fatalf("%s: Keys, ScanKeys, KeysByDigest = %d, %d, %d keys; want 1 each", what, len(keys), len(scanned), len(byDigest))
		}
		for _, other := range [][]rekey.StoredKey{scanned, byDigest} {
			o := other[0]
			if o.Digest != keys[0].Digest || o.Previous != keys[0].Previous || string(o.PreviousCiphertext) != string(keys[0].PreviousCiphertext) ||
				!o.PreviousValidUntil.Equal(keys[0].PreviousValidUntil) || !o.UpdatedAt.Equal(keys[0].UpdatedAt) {
				t.Errorf("%s: ScanKeys or KeysByDigest = %+v, Keys = %+v; want the same key", what, o, keys[0])
			}
		}
		return keys[0]
	}
	put(1, time.Time{})
	if k := one("first key"); k.Previous != (rekey.Digest{}) || k.PreviousCiphertext != nil || !k.PreviousValidUntil.IsZero() {
		t.Errorf("first key: %+v, want no previous key", k)
	}
	until := time.Unix(2, 0).Add(time.Hour)
	put(2, until) // rotated with a grace period
	if k := one("rotation with grace"); k.Digest != (rekey.Digest{2}) || k.Previous != (rekey.Digest{1}) || string(k.PreviousCiphertext) != "\x01" ||
		!k.PreviousValidUntil.Equal(until) || !k.UpdatedAt.Equal(time.Unix(2, 0)) {
		t.Errorf("rotation with grace: %+v; want digest 2 with previous 1 valid until %v", k, until)
	}
	put(3, time.Time{}) // rotated without grace: the replaced key goes at once
	if k := one("rotation without grace"); k.Digest != (rekey.Digest{3}) || k.Previous != (rekey.Digest{}) || k.PreviousCiphertext != nil || !k.PreviousValidUntil.IsZero() {
		t.Errorf("rotation without grace: %+v; want digest 3 and no previous key", k)
	}
	put(4, time.Unix(4, 0)) // a window that ends with the change is no window
	if k := one("rotation with an empty window"); k.PreviousCiphertext != nil || !k.PreviousValidUntil.IsZero() {
		t.Errorf("rotation with PreviousValidUntil = UpdatedAt: %+v; want no previous key", k)
	}
	put(5, time.Unix(100, 0))
	// Another owner's change after that window has ended may drop the
	// expired key; one before it must not.
	other := func(at int64) {
		t.Helper()
		mustUpdate(t, s, func(tx rekey.Tx) error {
			_, err := tx.PutKey(rekey.StoredKey{Resource: "/subscriptions/x/other", Slot: rekey.Primary, Ciphertext: []byte{9}, Digest: rekey.Digest{9}, UpdatedAt: time.Unix(at, 0)})
			return err
		})
	}
	other(99)
	if k := one("another owner's change within the window"); string(k.PreviousCiphertext) != "\x04" || !k.PreviousValidUntil.Equal(time.Unix(100, 0)) {
		t.Errorf("after another owner's change within the window: %+v; want previous key 4 kept until 100", k)
	}
	other(100)
	if k := one("another owner's change after the window"); k.PreviousCiphertext != nil && !k.PreviousValidUntil.Equal(time.Unix(100, 0)) {
		t.Errorf("after the window: %+v; want the previous key dropped, or kept with its window", k)
	}
}

func testKeyUsage(t *testing.T, s rekey.Store) {
	owner := "/subscriptions/x/used"
	t1, t2 := time.Unix(100, 0).UTC(), time.Unix(200, 0).UTC()
	mustKeys(t, s, owner)
	mustUpdate(t, s, func(tx rekey.Tx) error {
		return tx.AddKeyUsage(rekey.KeyUsage{Owner: owner, Slot: rekey.Primary, Requests: 3, GraceRequests: 1, LastUsed: t2})
	})
	mustUpdate(t, s, func(tx rekey.Tx) error {
		return tx.AddKeyUsage(rekey.KeyUsage{Owner: owner, Slot: rekey.Primary, Requests: 2, LastUsed: t1})
	})
	s.View(t.Context(), func(tx rekey.Tx) error {
		u, err := tx.KeyUsage(owner)
		if err != nil || len(u) != 1 || u[0].Requests != 5 || u[0].GraceRequests != 1 || !u[0].LastUsed.Equal(t2) {
			t.Errorf("KeyUsage() = %+v, %v; want 5 requests, 1 in grace, last used at the later time", u, err)
		}
		if none, _ := tx.KeyUsage("/other"); len(none) != 0 {
			t.Errorf("KeyUsage(unused) = %v, want none", none)
		}
		return nil
	})
}
