package authz

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/store/sqlite"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"*", "Microsoft.MachineLearningServices/workspaces/read", true},
		{"*/read", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read", true},
		{"*/read", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys/action", false},
		{"Microsoft.MachineLearningServices/workspaces/*/action", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action", true},
		{"Microsoft.MachineLearningServices/workspaces/*/action", "Microsoft.MachineLearningServices/workspaces/action", false},
		{"Microsoft.MachineLearningServices/workspaces/*/write", "Microsoft.MachineLearningServices/workspaces/write", false},
		{"microsoft.machinelearningservices/WORKSPACES/onlineendpoints/READ", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read", true},
		{"Microsoft.CognitiveServices/accounts/listkeys/action", "Microsoft.CognitiveServices/accounts/listKeys/action", true},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write", true},
		{"Microsoft.CognitiveServices/*", "Microsoft.MachineLearningServices/workspaces/read", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"", "", true},
		{"", "x", false},
		{"**", "x", true},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.action); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.action, got, tt.want)
		}
	}
}

func TestCovers(t *testing.T) {
	const ep = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e"
	tests := []struct {
		scope, target string
		want          bool
	}{
		{"/", ep, true},
		{"/subscriptions/s", ep, true},
		{"/SUBSCRIPTIONS/S/resourcegroups/RG", ep, true},
		{"/subscriptions/s/resourceGroups/rg2", ep, false},
		{"/subscriptions/s/resourceGroups/r", ep, false}, // a prefix that is not a whole segment
		{ep, ep, true},
		{ep + "/deployments/d", ep, false},
	}
	for _, tt := range tests {
		if got := Covers(tt.scope, tt.target); got != tt.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tt.scope, tt.target, got, tt.want)
		}
	}
}

// TestBuiltInMatrix: what each built-in role grants among rekey's actions.
func TestBuiltInMatrix(t *testing.T) {
	tests := []struct {
		role   string
		action rekey.Action
		want   bool
	}{
		{ReaderID, rekey.ActionEndpointRead, true},
		{ReaderID, rekey.ActionEndpointListKeys, false},
		{ReaderID, rekey.ActionEndpointRegenerate, false},
		{ReaderID, rekey.ActionEndpointWrite, false},
		{ReaderID, rekey.ActionRoleAssignmentRead, true},
		{AzureMLDataScientistID, rekey.ActionScore, true},
		{AzureMLDataScientistID, rekey.ActionEndpointRegenerate, true},
		{AzureMLDataScientistID, rekey.ActionEndpointListKeys, true},
		{AzureMLDataScientistID, rekey.ActionEndpointWrite, true},
		{AzureMLDataScientistID, rekey.ActionWorkspaceWrite, false},
		{AzureMLDataScientistID, rekey.ActionWorkspaceDelete, false},
		{AzureMLDataScientistID, rekey.ActionAccountListKeys, false},
		{ContributorID, rekey.ActionWorkspaceDelete, true},
		{ContributorID, rekey.ActionRoleAssignmentWrite, false},
		{ContributorID, rekey.ActionRoleAssignmentRead, true},
		{OwnerID, rekey.ActionRoleAssignmentWrite, true},
		{CognitiveServicesUserID, rekey.ActionAccountListKeys, true},
		{CognitiveServicesUserID, rekey.ActionAccountRegenerate, false},
		{CognitiveServicesUserID, rekey.ActionEndpointRead, false},
		{CognitiveServicesContributorID, rekey.ActionAccountRegenerate, true},
		{CognitiveServicesContributorID, rekey.ActionAccountDelete, true},
		{CognitiveServicesContributorID, rekey.ActionEndpointListKeys, false},
	}
	for _, tt := range tests {
		d := BuiltInByID(tt.role)
		if got := Grants(d, tt.action, false); got != tt.want {
			t.Errorf("%s grants %s = %v, want %v", d.RoleName, tt.action, got, tt.want)
		}
	}
}

func TestValidateAction(t *testing.T) {
	for _, ok := range []string{"*", "*/read", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/regenerateKeys/action",
		"microsoft.machinelearningservices/workspaces/*", "Microsoft.Storage/storageAccounts/read"} {
		if err := ValidateAction(ok, false); err != nil {
			t.Errorf("ValidateAction(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "read", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/rotate/action",
		"Microsoft.MachineLearningServices//read", "Microsoft.CognitiveServices/accounts/", "has space/x", "Microsoft.Authorization/nothing/read"} {
		if err := ValidateAction(bad, false); rekey.ErrorCode(err) != rekey.Invalid {
			t.Errorf("ValidateAction(%q) = %v, want Invalid", bad, err)
		}
	}
}

func TestParseScope(t *testing.T) {
	for _, ok := range []string{"/", "/subscriptions/00000000-0000-0000-0000-000000000000",
		"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg",
		"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e"} {
		if _, err := ParseScope(ok); err != nil {
			t.Errorf("ParseScope(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "subscriptions/x", "/subscriptions/not-a-guid", "/subscriptions/00000000-0000-0000-0000-000000000000/",
		"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/x",
		"/subscriptions/00000000-0000-0000-0000-000000000000/things/rg"} {
		if _, err := ParseScope(bad); rekey.ErrorCode(err) != rekey.Invalid {
			t.Errorf("ParseScope(%q) = %v, want Invalid", bad, err)
		}
	}
}

// TestAuthorizer: the union over assignments at the scope and above,
// custom roles, the admin, and invalidation.
func TestAuthorizer(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const (
		p    = "11111111-0000-4000-8000-000000000001"
		rg   = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg"
		ep   = rg + "/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e"
		ep2  = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/other/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e"
		role = "22222222-0000-4000-8000-000000000001"
	)
	a := &Authorizer{Store: s, Admin: "admin"}
	s.Watch(a.Invalidate)
	check := func(what, principal string, action rekey.Action, scope string, want bool) {
		t.Helper()
		got, err := a.Allowed(ctx, principal, action, scope)
		if err != nil || got != want {
			t.Errorf("%s: Allowed(%s, %s) = %v, %v; want %v", what, action, scope, got, err, want)
		}
	}
	check("admin", "admin", rekey.ActionRoleAssignmentWrite, "/", true)
	check("no assignments", p, rekey.ActionEndpointRead, ep, false)
	if a.HasAssignments(ctx, p) {
		t.Errorf("HasAssignments before any = true")
	}
	update := func(fn func(tx rekey.Tx) error) {
		t.Helper()
		if err := s.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	update(func(tx rekey.Tx) error {
		return tx.PutRoleAssignment(&rekey.RoleAssignment{ID: "33333333-0000-4000-8000-000000000001", Scope: rg, RoleDefinitionID: ReaderID, PrincipalID: p})
	})
	check("reader at rg", p, rekey.ActionEndpointRead, ep, true)
	check("reader elsewhere", p, rekey.ActionEndpointRead, ep2, false)
	check("reader listKeys", p, rekey.ActionEndpointListKeys, ep, false)
	update(func(tx rekey.Tx) error {
		if _, err := tx.PutRoleDefinition(&rekey.RoleDefinition{ID: role, RoleName: "Key Rotator", AssignableScopes: []string{"/"},
			Permissions: []rekey.Permission{{Actions: []string{string(rekey.ActionEndpointRegenerate)}}}}); err != nil {
			return err
		}
		return tx.PutRoleAssignment(&rekey.RoleAssignment{ID: "33333333-0000-4000-8000-000000000002", Scope: ep, RoleDefinitionID: role, PrincipalID: p})
	})
	check("union: rotator at the endpoint", p, rekey.ActionEndpointRegenerate, ep, true)
	check("union: reader still", p, rekey.ActionEndpointRead, ep, true)
	check("rotator below only", p, rekey.ActionEndpointRegenerate, rg, false)
	update(func(tx rekey.Tx) error { return tx.DeleteRoleAssignment("33333333-0000-4000-8000-000000000001") })
	check("removed at once", p, rekey.ActionEndpointRead, ep, false)
}

func BenchmarkAllowedCached(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "rekey.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const ep = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e"
	s.Update(ctx, func(tx rekey.Tx) error {
		return tx.PutRoleAssignment(&rekey.RoleAssignment{ID: "33333333-0000-4000-8000-000000000001", Scope: "/subscriptions/00000000-0000-0000-0000-000000000000", RoleDefinitionID: AzureMLDataScientistID, PrincipalID: "p"})
	})
	a := &Authorizer{Store: s}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := a.Allowed(ctx, "p", rekey.ActionScore, ep); !ok {
			b.Fatal("denied")
		}
	}
}

func BenchmarkDecideUncached(b *testing.B) {
	const ep = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e"
	snap := &snapshot{defs: builtInByID, byPrinc: map[string][]*rekey.RoleAssignment{"p": {
		{Scope: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/other", RoleDefinitionID: ReaderID},
		{Scope: "/subscriptions/00000000-0000-0000-0000-000000000000", RoleDefinitionID: AzureMLDataScientistID},
	}}}
	b.ReportAllocs()
	for b.Loop() {
		if !snap.decide("p", rekey.ActionScore, ep) {
			b.Fatal("denied")
		}
	}
}

// TestAuthorizerFollowsFeed: an authorizer in another process (another
// store handle on the same database, so no Watch callback) sees a roles
// change on its next poll of the change feed.
func TestAuthorizerFollowsFeed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rekey.db")
	s1, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	const ep = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e"
	other := &Authorizer{Store: s2}
	if ok, _ := other.Allowed(ctx, "p", rekey.ActionScore, ep); ok {
		t.Fatal("allowed before any assignment")
	}
	if err := s1.Update(ctx, func(tx rekey.Tx) error {
		return tx.PutRoleAssignment(&rekey.RoleAssignment{ID: "33333333-0000-4000-8000-000000000009", Scope: "/", RoleDefinitionID: AzureMLDataScientistID, PrincipalID: "p"})
	}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := other.Allowed(ctx, "p", rekey.ActionScore, ep); ok {
		t.Fatal("the cached refusal changed without a poll: the test proves nothing")
	}
	if err := other.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := other.Allowed(ctx, "p", rekey.ActionScore, ep); !ok {
		t.Error("still refused after polling the change feed")
	}
	// Deleting the assignment is seen on the next poll too.
	if err := s1.Update(ctx, func(tx rekey.Tx) error { return tx.DeleteRoleAssignment("33333333-0000-4000-8000-000000000009") }); err != nil {
		t.Fatal(err)
	}
	if err := other.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := other.Allowed(ctx, "p", rekey.ActionScore, ep); ok {
		t.Error("still allowed after the assignment was deleted and the feed polled")
	}
}
