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

// testKeyHistory: PutKey keeps the replaced digest; ScanKeys sees it.
func testKeyHistory(t *testing.T, s rekey.Store) {
	owner := "/subscriptions/x/owner"
	for _, d := range []byte{1, 2} {
		mustUpdate(t, s, func(tx rekey.Tx) error {
			_, err := tx.PutKey(rekey.StoredKey{Resource: owner, Slot: rekey.Primary, Ciphertext: []byte{d}, Digest: rekey.Digest{d}, UpdatedAt: time.Unix(int64(d), 0)})
			return err
		})
	}
	var scanned []rekey.StoredKey
	err := s.View(t.Context(), func(tx rekey.Tx) error {
		keys, err := tx.Keys(owner)
		if err != nil || len(keys) != 1 || keys[0].Digest != (rekey.Digest{2}) || keys[0].Previous != (rekey.Digest{1}) || string(keys[0].PreviousCiphertext) != "\x01" {
			t.Errorf("Keys() = %+v, %v; want digest 2 with previous 1", keys, err)
		}
		return tx.ScanKeys(func(k rekey.StoredKey) error { scanned = append(scanned, k); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(scanned) != 1 || scanned[0].Previous != (rekey.Digest{1}) || string(scanned[0].Ciphertext) != "\x02" ||
		string(scanned[0].PreviousCiphertext) != "\x01" || !scanned[0].UpdatedAt.Equal(time.Unix(2, 0)) {
		t.Errorf("ScanKeys() = %+v, want one key with its previous digest and both ciphertexts", scanned)
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
