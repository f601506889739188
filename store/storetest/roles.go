package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
)

// rolesChanges counts the ChangedRoles entries of the change feed.
func rolesChanges(t *testing.T, s rekey.Store) int {
	t.Helper()
	n := 0
	s.View(context.Background(), func(tx rekey.Tx) error {
		changes, _, err := tx.Changes(0, 10000)
		if err != nil {
			t.Fatalf("Changes: %v", err)
		}
		for _, c := range changes {
			if c.Kind == rekey.ChangedRoles {
				n++
			}
		}
		return nil
	})
	return n
}

func testRoleDefinitions(t *testing.T, s rekey.Store) {
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &rekey.RoleDefinition{ID: "1a2b3c4d-0000-4000-8000-000000000001", RoleName: "Key Rotator", Description: "rotates",
		Permissions:      []rekey.Permission{{Actions: []string{"Microsoft.MachineLearningServices/workspaces/onlineEndpoints/regenerateKeys/action"}}},
		AssignableScopes: []string{"/subscriptions/s1"}, Created: at, Updated: at}
	mustUpdate(t, s, func(tx rekey.Tx) error {
		created, err := tx.PutRoleDefinition(d)
		if !created {
			t.Errorf("PutRoleDefinition created = false on first put")
		}
		return err
	})
	d2 := *d
	d2.ID = strings.ToUpper(d.ID)
	d2.Description = "rotates keys"
	mustUpdate(t, s, func(tx rekey.Tx) error {
		created, err := tx.PutRoleDefinition(&d2)
		if created {
			t.Errorf("PutRoleDefinition(same id, upper case) created = true")
		}
		return err
	})
	other := &rekey.RoleDefinition{ID: "1a2b3c4d-0000-4000-8000-000000000002", RoleName: "KEY ROTATOR"}
	err := s.Update(ctx, func(tx rekey.Tx) error { _, err := tx.PutRoleDefinition(other); return err })
	wantCode(t, "PutRoleDefinition(same name, other id)", err, rekey.Conflict)

	s.View(ctx, func(tx rekey.Tx) error {
		list, err := tx.RoleDefinitions()
		if err != nil || len(list) != 1 || list[0].Description != "rotates keys" || len(list[0].Permissions) != 1 ||
			list[0].Permissions[0].Actions[0] != d.Permissions[0].Actions[0] || !list[0].Created.Equal(at) {
			t.Errorf("RoleDefinitions() = %+v, %v; want the updated Key Rotator", list, err)
		}
		return nil
	})
	if n := rolesChanges(t, s); n != 2 {
		t.Errorf("change feed has %d roles entries after two puts, want 2", n)
	}
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteRoleDefinition(d.ID) })
	err = s.Update(ctx, func(tx rekey.Tx) error { return tx.DeleteRoleDefinition(d.ID) })
	wantCode(t, "DeleteRoleDefinition(deleted)", err, rekey.NotFound)
	if n := rolesChanges(t, s); n != 3 {
		t.Errorf("change feed has %d roles entries after a delete, want 3", n)
	}
	// The name is free again.
	mustUpdate(t, s, func(tx rekey.Tx) error { _, err := tx.PutRoleDefinition(other); return err })
}

func testRoleAssignments(t *testing.T, s rekey.Store) {
	ctx := context.Background()
	a := &rekey.RoleAssignment{ID: "2a2b3c4d-0000-4000-8000-000000000001", Scope: "/subscriptions/s1/resourceGroups/rg",
		RoleDefinitionID: "acdd72a7-3385-48ef-bd42-f606fba81ae7", PrincipalID: "3a2b3c4d-0000-4000-8000-000000000001", PrincipalType: "ServicePrincipal"}
	b := &rekey.RoleAssignment{ID: "2a2b3c4d-0000-4000-8000-000000000002", Scope: "/",
		RoleDefinitionID: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", PrincipalID: "3a2b3c4d-0000-4000-8000-000000000002", PrincipalType: "ServicePrincipal"}
	for _, x := range []*rekey.RoleAssignment{a, b} {
		mustUpdate(t, s, func(tx rekey.Tx) error { return tx.PutRoleAssignment(x) })
	}
	dup := *b
	dup.ID = strings.ToUpper(a.ID)
	err := s.Update(ctx, func(tx rekey.Tx) error { return tx.PutRoleAssignment(&dup) })
	wantCode(t, "PutRoleAssignment(existing id)", err, rekey.Conflict)
	s.View(ctx, func(tx rekey.Tx) error {
		list, err := tx.RoleAssignments()
		if err != nil || len(list) != 2 || list[0].Scope != a.Scope || list[0].PrincipalID != a.PrincipalID || list[1].ID != b.ID {
			t.Errorf("RoleAssignments() = %+v, %v; want a then b", list, err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteRoleAssignment(strings.ToUpper(a.ID)) })
	err = s.Update(ctx, func(tx rekey.Tx) error { return tx.DeleteRoleAssignment(a.ID) })
	wantCode(t, "DeleteRoleAssignment(deleted)", err, rekey.NotFound)
	if n := rolesChanges(t, s); n != 3 {
		t.Errorf("change feed has %d roles entries after two puts and a delete, want 3", n)
	}
	// Reset keeps the server's identity, roles included.
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.Reset() })
	s.View(ctx, func(tx rekey.Tx) error {
		if list, err := tx.RoleAssignments(); err != nil || len(list) != 1 || list[0].ID != b.ID {
			t.Errorf("RoleAssignments() after Reset = %d, %v; want b still", len(list), err)
		}
		return nil
	})
}

func testDeletePrincipalAssignments(t *testing.T, s rekey.Store) {
	ctx := context.Background()
	sp := &rekey.ServicePrincipal{AppID: "4a2b3c4d-0000-4000-8000-000000000001", ObjectID: "4a2b3c4d-0000-4000-8000-0000000000AA", DisplayName: "ci"}
	mine := &rekey.RoleAssignment{ID: "5a2b3c4d-0000-4000-8000-000000000001", Scope: "/", RoleDefinitionID: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
		PrincipalID: strings.ToLower(sp.ObjectID), PrincipalType: "ServicePrincipal"}
	theirs := &rekey.RoleAssignment{ID: "5a2b3c4d-0000-4000-8000-000000000002", Scope: "/", RoleDefinitionID: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
		PrincipalID: "4a2b3c4d-0000-4000-8000-0000000000bb", PrincipalType: "ServicePrincipal"}
	mustUpdate(t, s, func(tx rekey.Tx) error {
		if _, err := tx.PutServicePrincipal(sp); err != nil {
			return err
		}
		if err := tx.PutRoleAssignment(mine); err != nil {
			return err
		}
		return tx.PutRoleAssignment(theirs)
	})
	before := rolesChanges(t, s)
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.DeleteServicePrincipal(sp.AppID) })
	s.View(ctx, func(tx rekey.Tx) error {
		list, err := tx.RoleAssignments()
		if err != nil || len(list) != 1 || list[0].ID != theirs.ID {
			t.Errorf("RoleAssignments() after deleting the principal = %+v, %v; want only the other principal's", list, err)
		}
		return nil
	})
	if after := rolesChanges(t, s); after != before+1 {
		t.Errorf("deleting a principal with assignments appended %d roles entries, want 1", after-before)
	}
	// A failed transaction keeps both.
	mustUpdate(t, s, func(tx rekey.Tx) error {
		if _, err := tx.PutServicePrincipal(sp); err != nil {
			return err
		}
		return tx.PutRoleAssignment(mine)
	})
	err := s.Update(ctx, func(tx rekey.Tx) error {
		if err := tx.DeleteServicePrincipal(sp.AppID); err != nil {
			return err
		}
		return rekey.Errorf(rekey.Internal, "roll back")
	})
	wantCode(t, "rolled back delete", err, rekey.Internal)
	s.View(ctx, func(tx rekey.Tx) error {
		list, _ := tx.RoleAssignments()
		if len(list) != 2 {
			t.Errorf("after a rolled-back principal delete: %d assignments, want 2", len(list))
		}
		return nil
	})
}
