package arm

import "testing"

// TestAssignmentFilter pins the role assignment filters ARM accepts: each
// of atScope(), principalId eq '{id}' and assignedTo('{id}') alone, and
// atScope() and assignedTo('{id}'). ARM refuses every other combination,
// atScope() with principalId eq among them, with 400 UnsupportedQuery.
func TestAssignmentFilter(t *testing.T) {
	const id = "5a5a5a5a-0000-4000-8000-0000000000aa"
	tests := []struct {
		filter string
		ok     bool
		want   assignmentFilter
	}{
		{"", true, assignmentFilter{}},
		{"atScope()", true, assignmentFilter{atScope: true}},
		{"principalId eq '" + id + "'", true, assignmentFilter{principal: id}},
		{"assignedTo('" + id + "')", true, assignmentFilter{principal: id}},
		{"atScope() and assignedTo('" + id + "')", true, assignmentFilter{atScope: true, principal: id}},
		{"assignedTo('" + id + "') and atScope()", true, assignmentFilter{atScope: true, principal: id}},
		{"atScope() and principalId eq '" + id + "'", false, assignmentFilter{}},
		{"principalId eq '" + id + "' and atScope()", false, assignmentFilter{}},
		{"principalId eq '" + id + "' and assignedTo('" + id + "')", false, assignmentFilter{}},
		{"atScope() and atScope()", false, assignmentFilter{}},
		{"principalId eq " + id, false, assignmentFilter{}},
	}
	for _, tt := range tests {
		got, ok := parseAssignmentFilter(tt.filter)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseAssignmentFilter(%q) = %+v, %v, want %+v, %v", tt.filter, got, ok, tt.want, tt.ok)
		}
	}
}
