// Package storetest is the behavioural specification of rekey.Store. Every
// store implementation runs Run against a fresh store of its own.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
)

// Run exercises the whole Store contract. open must return a new, empty,
// migrated store; Run closes it.
func Run(t *testing.T, open func(t *testing.T) rekey.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s rekey.Store)
	}{
		{"Workspaces", testWorkspaces},
		{"WorkspaceCaseInsensitive", testWorkspaceCase},
		{"Endpoints", testEndpoints},
		{"EndpointNeedsWorkspace", testEndpointParent},
		{"EndpointNameUniquePerServer", testEndpointUnique},
		{"DeleteWorkspaceCascades", testDeleteWorkspaceCascades},
		{"Keys", testKeys},
		{"UpdateRollsBack", testRollback},
		{"Operations", testOperations},
		{"Principals", testPrincipals},
		{"Accounts", testAccounts},
		{"Deployments", testDeployments},
		{"ChangeFeed", testChangeFeed},
		{"KeyHistory", testKeyHistory},
		{"KeyUsage", testKeyUsage},
		{"PruneOperations", testPruneOperations},
		{"PruneKeyUsage", testPruneKeyUsage},
		{"KeyUsageGoesWithOwner", testUsageGoesWithOwner},
		{"Subscriptions", testSubscriptions},
		{"ServicePrincipals", testServicePrincipals},
		{"SigningKeys", testSigningKeys},
		{"Settings", testSettings},
		{"RoleDefinitions", testRoleDefinitions},
		{"RoleAssignments", testRoleAssignments},
		{"DeletePrincipalRemovesAssignments", testDeletePrincipalAssignments},
		{"Reset", testReset},
		{"Audit", testAudit},
		{"AuditRollsBack", testAuditRollsBack},
		{"PruneAudit", testPruneAudit},
		{"ClaimOperations", testClaimOperations},
		{"ClaimOperationsConcurrently", testClaimConcurrent},
		{"Notify", testNotify},
		{"Ready", func(t *testing.T, s rekey.Store) {
			if err := s.Ready(t.Context()); err != nil {
				t.Fatalf("Ready() = %v, want nil", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

const sub = "00000000-0000-0000-0000-000000000001"

func wsID(rg, name string) rekey.WorkspaceID {
	return rekey.WorkspaceID{Subscription: sub, ResourceGroup: rg, Name: name}
}

func mustUpdate(t *testing.T, s rekey.Store, fn func(rekey.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func mustWorkspace(t *testing.T, s rekey.Store, id rekey.WorkspaceID) {
	t.Helper()
	mustUpdate(t, s, func(tx rekey.Tx) error {
		_, err := tx.PutWorkspace(&rekey.Workspace{ID: id, Location: "westeurope", UID: rekey.NewGUID()})
		return err
	})
}

func mustEndpoint(t *testing.T, s rekey.Store, id rekey.EndpointID) *rekey.Endpoint {
	t.Helper()
	e := &rekey.Endpoint{ID: id, UID: rekey.NewGUID(), Location: "westeurope", AuthMode: rekey.AuthKey,
		Tags: map[string]string{"team": "a"}, ProvisioningState: rekey.Succeeded}
	mustUpdate(t, s, func(tx rekey.Tx) error { _, err := tx.PutEndpoint(e); return err })
	return e
}

func wantCode(t *testing.T, what string, err error, want rekey.Code) {
	t.Helper()
	if got := rekey.ErrorCode(err); got != want {
		t.Fatalf("%s: error code = %q (%v), want %q", what, got, err, want)
	}
}

func testWorkspaces(t *testing.T, s rekey.Store) {
	ctx := t.Context()
	id := wsID("rg1", "ws1")
	w := &rekey.Workspace{ID: id, UID: rekey.NewGUID(), Location: "eastus", Tags: map[string]string{"a": "b"},
		FriendlyName: "WS", SystemData: rekey.SystemData{CreatedBy: "admin", CreatedAt: time.Unix(100, 0).UTC()}}
	var created bool
	mustUpdate(t, s, func(tx rekey.Tx) (err error) { created, err = tx.PutWorkspace(w); return err })
	if !created {
		t.Errorf("PutWorkspace(new) created = false, want true")
	}
	mustUpdate(t, s, func(tx rekey.Tx) (err error) { created, err = tx.PutWorkspace(w); return err })
	if created {
		t.Errorf("PutWorkspace(existing) created = true, want false")
	}
	mustWorkspace(t, s, wsID("rg1", "ws2"))
	mustWorkspace(t, s, wsID("rg2", "ws3"))
	err := s.View(ctx, func(tx rekey.Tx) error {
		got, err := tx.Workspace(id)
		if err != nil {
			return err
		}
		if got.FriendlyName != "WS" || got.Tags["a"] != "b" || got.UID != w.UID || !got.SystemData.CreatedAt.Equal(w.SystemData.CreatedAt) {
			t.Errorf("Workspace() = %+v, want %+v", got, w)
		}
		rg1, err := tx.Workspaces(sub, "RG1")
		if err != nil {
			return err
		}
		all, err := tx.Workspaces(sub, "")
		if err != nil {
			return err
		}
		if len(rg1) != 2 || len(all) != 3 {
			t.Errorf("Workspaces(rg1, all) = %d, %d items, want 2, 3", len(rg1), len(all))
		}
		other, err := tx.Workspaces("00000000-0000-0000-0000-000000000002", "")
		if err != nil || len(other) != 0 {
			t.Errorf("Workspaces(other subscription) = %d items, want 0", len(other))
		}
		_, err = tx.Workspace(wsID("rg1", "nope"))
		wantCode(t, "Workspace(missing)", err, rekey.NotFound)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx rekey.Tx) error { return tx.DeleteWorkspace(wsID("rg1", "nope")) })
	wantCode(t, "DeleteWorkspace(missing)", err, rekey.NotFound)
}

func testWorkspaceCase(t *testing.T, s rekey.Store) {
	mustWorkspace(t, s, wsID("MyGroup", "MyWorkspace"))
	err := s.View(t.Context(), func(tx rekey.Tx) error {
		got, err := tx.Workspace(wsID("mygroup", "MYWORKSPACE"))
		if err != nil {
			return err
		}
		if got.ID.Name != "MyWorkspace" || got.ID.ResourceGroup != "MyGroup" {
			t.Errorf("Workspace() id = %+v, want the spelling it was created with", got.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testEndpoints(t *testing.T, s rekey.Store) {
	ws := wsID("rg", "ws")
	mustWorkspace(t, s, ws)
	e1 := mustEndpoint(t, s, rekey.EndpointID{Workspace: ws, Name: "b-endpoint"})
	mustEndpoint(t, s, rekey.EndpointID{Workspace: ws, Name: "a-endpoint"})
	e1.Tags = map[string]string{"team": "b"}
	var created bool
	mustUpdate(t, s, func(tx rekey.Tx) (err error) { created, err = tx.PutEndpoint(e1); return err })
	if created {
		t.Errorf("PutEndpoint(existing) created = true")
	}
	err := s.View(t.Context(), func(tx rekey.Tx) error {
		list, err := tx.Endpoints(ws)
		if err != nil {
			return err
		}
		if len(list) != 2 || list[0].ID.Name != "b-endpoint" || list[1].ID.Name != "a-endpoint" {
			t.Errorf("Endpoints() = %v, want b-endpoint, a-endpoint (creation order)", names(list))
		}
		got, err := tx.Endpoint(rekey.EndpointID{Workspace: ws, Name: "B-ENDPOINT"})
		if err != nil {
			return err
		}
		if got.Tags["team"] != "b" || got.UID != e1.UID {
			t.Errorf("Endpoint() = %+v, want updated tags and same UID", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	id := e1.ID
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteEndpoint(id) })
	err = s.View(t.Context(), func(tx rekey.Tx) error { _, err := tx.Endpoint(id); return err })
	wantCode(t, "Endpoint(deleted)", err, rekey.NotFound)
	err = s.Update(t.Context(), func(tx rekey.Tx) error { return tx.DeleteEndpoint(id) })
	wantCode(t, "DeleteEndpoint(deleted)", err, rekey.NotFound)
}

func names(list []*rekey.Endpoint) []string {
	var out []string
	for _, e := range list {
		out = append(out, e.ID.Name)
	}
	return out
}

func testEndpointParent(t *testing.T, s rekey.Store) {
	e := &rekey.Endpoint{ID: rekey.EndpointID{Workspace: wsID("rg", "missing"), Name: "ep"}, AuthMode: rekey.AuthKey}
	err := s.Update(t.Context(), func(tx rekey.Tx) error { _, err := tx.PutEndpoint(e); return err })
	wantCode(t, "PutEndpoint(no workspace)", err, rekey.ParentNotFound)
}

func testEndpointUnique(t *testing.T, s rekey.Store) {
	a, b := wsID("rg", "wsa"), wsID("rg2", "wsb")
	mustWorkspace(t, s, a)
	mustWorkspace(t, s, b)
	mustEndpoint(t, s, rekey.EndpointID{Workspace: a, Name: "shared"})
	e := &rekey.Endpoint{ID: rekey.EndpointID{Workspace: b, Name: "SHARED"}, AuthMode: rekey.AuthKey}
	err := s.Update(t.Context(), func(tx rekey.Tx) error { _, err := tx.PutEndpoint(e); return err })
	wantCode(t, "PutEndpoint(name taken elsewhere)", err, rekey.Conflict)
}

func testDeleteWorkspaceCascades(t *testing.T, s rekey.Store) {
	ws := wsID("rg", "ws")
	mustWorkspace(t, s, ws)
	e := mustEndpoint(t, s, rekey.EndpointID{Workspace: ws, Name: "ep"})
	mustUpdate(t, s, func(tx rekey.Tx) error {
		_, err := tx.PutKey(rekey.StoredKey{Resource: e.ID.Key(), Slot: rekey.Primary, Ciphertext: []byte{1}, UpdatedAt: time.Now()})
		return err
	})
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteWorkspace(ws) })
	err := s.View(t.Context(), func(tx rekey.Tx) error {
		_, err := tx.Endpoint(e.ID)
		wantCode(t, "Endpoint(after workspace delete)", err, rekey.NotFound)
		keys, err := tx.Keys(e.ID.Key())
		if len(keys) != 0 {
			t.Errorf("Keys(after workspace delete) = %d keys, want 0", len(keys))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The name is free again.
	mustWorkspace(t, s, wsID("rg", "other"))
	mustEndpoint(t, s, rekey.EndpointID{Workspace: wsID("rg", "other"), Name: "ep"})
}

func testKeys(t *testing.T, s rekey.Store) {
	res := "/subscriptions/x/resourcegroups/rg/providers/p/t/n"
	put := func(slot rekey.Slot, ct byte) int64 {
		var v int64
		mustUpdate(t, s, func(tx rekey.Tx) (err error) {
			v, err = tx.PutKey(rekey.StoredKey{Resource: res, Slot: slot, Ciphertext: []byte{ct}, Digest: rekey.Digest{ct}, UpdatedAt: time.Unix(0, int64(ct))})
			return err
		})
		return v
	}
	if v := put(rekey.Secondary, 2); v != 1 {
		t.Errorf("PutKey(new) version = %d, want 1", v)
	}
	put(rekey.Primary, 1)
	if v := put(rekey.Primary, 3); v != 2 {
		t.Errorf("PutKey(replace) version = %d, want 2", v)
	}
	err := s.View(t.Context(), func(tx rekey.Tx) error {
		keys, err := tx.Keys(res)
		if err != nil {
			return err
		}
		if len(keys) != 2 || keys[0].Slot != rekey.Primary || keys[1].Slot != rekey.Secondary {
			t.Fatalf("Keys() = %+v, want primary then secondary", keys)
		}
		if !bytes.Equal(keys[0].Ciphertext, []byte{3}) || keys[0].Digest != (rekey.Digest{3}) || keys[0].Version != 2 {
			t.Errorf("Keys()[0] = %+v, want ciphertext 3, digest 3, version 2", keys[0])
		}
		if !keys[0].UpdatedAt.Equal(time.Unix(0, 3)) {
			t.Errorf("Keys()[0].UpdatedAt = %v, want %v", keys[0].UpdatedAt, time.Unix(0, 3))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testRollback(t *testing.T, s rekey.Store) {
	ws := wsID("rg", "ws")
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx rekey.Tx) error {
		if _, err := tx.PutWorkspace(&rekey.Workspace{ID: ws}); err != nil {
			return err
		}
		if err := tx.PutOperation(&rekey.Operation{ID: "op1", Status: rekey.OpInProgress}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update() = %v, want the callback's error", err)
	}
	err = s.View(t.Context(), func(tx rekey.Tx) error {
		_, err := tx.Workspace(ws)
		wantCode(t, "Workspace(rolled back)", err, rekey.NotFound)
		_, err = tx.Operation("op1")
		wantCode(t, "Operation(rolled back)", err, rekey.NotFound)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testOperations(t *testing.T, s rekey.Store) {
	base := time.Unix(1000, 0).UTC()
	ops := []*rekey.Operation{
		{ID: "late", Kind: rekey.OpCreateEndpoint, Status: rekey.OpInProgress, CreatedAt: base, NotBefore: base.Add(time.Minute)},
		{ID: "due", Kind: rekey.OpRegenerateKeys, Status: rekey.OpInProgress, CreatedAt: base, NotBefore: base, Resource: "/x", Location: "eastus"},
		{ID: "done", Kind: rekey.OpDeleteEndpoint, Status: rekey.OpSucceeded, CreatedAt: base, NotBefore: base, EndedAt: base},
	}
	mustUpdate(t, s, func(tx rekey.Tx) error {
		for _, op := range ops {
			if err := tx.PutOperation(op); err != nil {
				return err
			}
		}
		return nil
	})
	check := func(now time.Time, want ...string) {
		t.Helper()
		err := s.View(t.Context(), func(tx rekey.Tx) error {
			due, err := tx.DueOperations(now, 10)
			if err != nil {
				return err
			}
			var got []string
			for _, op := range due {
				got = append(got, op.ID)
			}
			if len(got) != len(want) || (len(got) > 0 && got[0] != want[0]) {
				t.Errorf("DueOperations(%v) = %v, want %v", now, got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check(base, "due")
	check(base.Add(time.Hour), "due", "late")
	err := s.View(t.Context(), func(tx rekey.Tx) error {
		next, ok, err := tx.NextOperation()
		if err != nil || !ok || !next.Equal(base) {
			t.Errorf("NextOperation() = %v, %v, %v; want %v, true, nil", next, ok, err, base)
		}
		op, err := tx.Operation("due")
		if err != nil {
			return err
		}
		if op.Kind != rekey.OpRegenerateKeys || op.Resource != "/x" || op.Location != "eastus" {
			t.Errorf("Operation() = %+v, want the stored fields back", op)
		}
		_, err = tx.Operation("nope")
		wantCode(t, "Operation(missing)", err, rekey.NotFound)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Finishing an operation takes it off the queue and keeps its error.
	mustUpdate(t, s, func(tx rekey.Tx) error {
		ops[1].Status, ops[1].EndedAt = rekey.OpFailed, base
		ops[1].Error = &rekey.OperationError{Code: rekey.NotFound, Message: "gone"}
		return tx.PutOperation(ops[1])
	})
	check(base)
	err = s.View(t.Context(), func(tx rekey.Tx) error {
		op, err := tx.Operation("due")
		if err == nil && (op.Status != rekey.OpFailed || op.Error == nil || op.Error.Code != rekey.NotFound) {
			t.Errorf("Operation(failed) = %+v, want Failed with its error", op)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, func(tx rekey.Tx) error {
		ops[0].Status = rekey.OpSucceeded
		return tx.PutOperation(ops[0])
	})
	err = s.View(t.Context(), func(tx rekey.Tx) error {
		if _, ok, err := tx.NextOperation(); ok || err != nil {
			t.Errorf("NextOperation(none pending) = _, %v, %v; want false, nil", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testPrincipals(t *testing.T, s rekey.Store) {
	p := &rekey.Principal{ID: "admin", Name: "admin", Type: "Application"}
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.PutPrincipal(p, rekey.TokenHash("one")) })
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.PutPrincipal(p, rekey.TokenHash("two")) })
	err := s.View(context.Background(), func(tx rekey.Tx) error {
		got, err := tx.PrincipalByToken(rekey.TokenHash("two"))
		if err != nil || got.Name != "admin" {
			t.Errorf("PrincipalByToken(current) = %+v, %v; want admin", got, err)
		}
		_, err = tx.PrincipalByToken(rekey.TokenHash("one"))
		wantCode(t, "PrincipalByToken(replaced)", err, rekey.NotFound)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testAccounts(t *testing.T, s rekey.Store) {
	id := rekey.AccountID{Subscription: sub, ResourceGroup: "RG", Name: "QnA-1"}
	a := &rekey.Account{ID: id, UID: "u1", Location: "westus", Kind: rekey.KindQnAMaker, SKU: &rekey.SKU{Name: "S0"},
		QnARuntimeEndpoint: "http://127.0.0.1:9000", APIProperties: map[string]any{"statisticsEnabled": true}}
	var created bool
	mustUpdate(t, s, func(tx rekey.Tx) (err error) { created, err = tx.PutAccount(a); return err })
	if !created {
		t.Errorf("PutAccount(new) created = false")
	}
	a.ActiveLearning = true
	mustUpdate(t, s, func(tx rekey.Tx) (err error) { created, err = tx.PutAccount(a); return err })
	if created {
		t.Errorf("PutAccount(existing) created = true")
	}
	other := &rekey.Account{ID: rekey.AccountID{Subscription: sub, ResourceGroup: "rg2", Name: "face"}, Kind: "Face"}
	mustUpdate(t, s, func(tx rekey.Tx) (err error) { _, err = tx.PutAccount(other); return err })
	k1 := rekey.StoredKey{Resource: id.SubscriptionKeys(), Slot: rekey.Primary, Ciphertext: []byte{1}, Digest: rekey.Digest{9, 1}, UpdatedAt: time.Now()}
	e1 := rekey.StoredKey{Resource: id.EndpointKeys(), Slot: rekey.Primary, Ciphertext: []byte{2}, Digest: rekey.Digest{9, 2}, UpdatedAt: time.Now()}
	mustUpdate(t, s, func(tx rekey.Tx) error {
		for _, k := range []rekey.StoredKey{k1, e1} {
			if _, err := tx.PutKey(k); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.View(t.Context(), func(tx rekey.Tx) error {
		got, err := tx.Account(rekey.AccountID{Subscription: sub, ResourceGroup: "rg", Name: "qna-1"})
		if err != nil {
			return err
		}
		if !got.ActiveLearning || got.QnARuntimeEndpoint != a.QnARuntimeEndpoint || got.SKU.Name != "S0" || got.APIProperties["statisticsEnabled"] != true || got.ID.Name != "QnA-1" {
			t.Errorf("Account() = %+v, want what was put", got)
		}
		rg, _ := tx.Accounts(sub, "rg")
		all, _ := tx.Accounts(sub, "")
		if len(rg) != 1 || len(all) != 2 {
			t.Errorf("Accounts(rg, all) = %d, %d; want 1, 2", len(rg), len(all))
		}
		byDigest, err := tx.KeysByDigest(rekey.Digest{9, 2})
		if err != nil || len(byDigest) != 1 || byDigest[0].Resource != id.EndpointKeys() || byDigest[0].Slot != rekey.Primary {
			t.Errorf("KeysByDigest(endpoint key) = %+v, %v; want the endpoint key set's primary", byDigest, err)
		}
		if none, _ := tx.KeysByDigest(rekey.Digest{1}); len(none) != 0 {
			t.Errorf("KeysByDigest(unknown) = %d keys, want 0", len(none))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteAccount(id) })
	err = s.View(t.Context(), func(tx rekey.Tx) error {
		_, err := tx.Account(id)
		wantCode(t, "Account(deleted)", err, rekey.NotFound)
		for _, owner := range []string{id.SubscriptionKeys(), id.EndpointKeys()} {
			if keys, _ := tx.Keys(owner); len(keys) != 0 {
				t.Errorf("keys of %s survived the account's deletion", owner)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(t.Context(), func(tx rekey.Tx) error { return tx.DeleteAccount(id) })
	wantCode(t, "DeleteAccount(deleted)", err, rekey.NotFound)
}

// testSubscriptions: every subscription holding a workspace or an account
// is listed once, lower-cased and sorted; an empty store lists none.
func testSubscriptions(t *testing.T, s rekey.Store) {
	list := func() []string {
		t.Helper()
		var subs []string
		if err := s.View(t.Context(), func(tx rekey.Tx) (err error) { subs, err = tx.Subscriptions(); return err }); err != nil {
			t.Fatal(err)
		}
		return subs
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("Subscriptions() on an empty store = %v, want none", got)
	}
	const subA, subB = "AAAAAAAA-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002"
	mustUpdate(t, s, func(tx rekey.Tx) error {
		for _, ws := range []rekey.WorkspaceID{{Subscription: subB, ResourceGroup: "rg", Name: "ws1"}, {Subscription: subB, ResourceGroup: "rg2", Name: "ws2"}} {
			if _, err := tx.PutWorkspace(&rekey.Workspace{ID: ws, Location: "eastus"}); err != nil {
				return err
			}
		}
		_, err := tx.PutAccount(&rekey.Account{ID: rekey.AccountID{Subscription: subA, ResourceGroup: "rg", Name: "acc"}, Kind: "Face"})
		return err
	})
	got, want := list(), []string{strings.ToLower(subA), subB}
	if !slices.Equal(got, want) {
		t.Errorf("Subscriptions() = %v, want %v", got, want)
	}
}
