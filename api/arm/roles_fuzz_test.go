package arm

import (
	"strings"
	"testing"
)

// FuzzParseAuthzPath: any path either is not a Microsoft.Authorization
// path or yields a kind and a scope that is a prefix of it, without
// panicking.
func FuzzParseAuthzPath(f *testing.F) {
	for _, s := range []string{"/providers/Microsoft.Authorization/roleAssignments",
		"/subscriptions/s/resourceGroups/rg/providers/microsoft.authorization/ROLEDEFINITIONS/x",
		"/providers/Microsoft.Authorization/roleAssignments/a/b", "/providers/Microsoft.Authorization/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt, ok := parseAuthzPath(p)
		if !ok {
			return
		}
		if rt.kind != kindAssignments && rt.kind != kindDefinitions {
			t.Errorf("kind %q", rt.kind)
		}
		if rt.scope != "/" && !strings.HasPrefix(p, rt.scope) {
			t.Errorf("scope %q is not a prefix of %q", rt.scope, p)
		}
		if strings.Contains(rt.name, "/") {
			t.Errorf("name %q has a slash", rt.name)
		}
	})
}

// FuzzAssignmentFilter: filters parse or are refused, never panic; a
// parsed principal is never empty when principalId was named.
func FuzzAssignmentFilter(f *testing.F) {
	for _, s := range []string{"atScope()", "principalId eq 'x'", "atScope() and principalId eq 'a''b'", "assignedTo('x')",
		"principalId eq", "principalId eq ''", "AND", " and and "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		af, ok := parseAssignmentFilter(s)
		if ok && strings.Contains(strings.ToLower(s), "principalid") && af.principal == "" && !strings.Contains(strings.ToLower(s), "assignedto") {
			t.Errorf("%q parsed with no principal", s)
		}
	})
}
