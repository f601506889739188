package rekey_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey"
)

func TestParseResourceID(t *testing.T) {
	tests := []struct {
		in      string
		want    rekey.ResourceID
		wantErr bool
	}{
		{in: "/subscriptions/s1", want: rekey.ResourceID{Subscription: "s1"}},
		{in: "/subscriptions/s1/resourceGroups/rg", want: rekey.ResourceID{Subscription: "s1", ResourceGroup: "rg"}},
		{in: "/SUBSCRIPTIONS/s1/RESOURCEGROUPS/Rg/PROVIDERS/Microsoft.ML/workspaces/W/onlineEndpoints/E/",
			want: rekey.ResourceID{Subscription: "s1", ResourceGroup: "Rg", Namespace: "Microsoft.ML", Types: []string{"workspaces", "onlineEndpoints"}, Names: []string{"W", "E"}}},
		{in: "/subscriptions/s1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id",
			want: rekey.ResourceID{Subscription: "s1", Namespace: "Microsoft.ManagedIdentity", Types: []string{"userAssignedIdentities"}, Names: []string{"id"}}},
		{in: "", wantErr: true},
		{in: "subscriptions/s1", wantErr: true},
		{in: "/subscriptions", wantErr: true},
		{in: "/subscriptions//resourceGroups/rg", wantErr: true},
		{in: "/subscriptions/s1/resourceGroups", wantErr: true},
		{in: "/subscriptions/s1/providers/ns/type", wantErr: true},
		{in: "/subscriptions/s1/nonsense/x", wantErr: true},
	}
	for _, tt := range tests {
		got, err := rekey.ParseResourceID(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseResourceID(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && (got.Subscription != tt.want.Subscription || got.ResourceGroup != tt.want.ResourceGroup ||
			got.Namespace != tt.want.Namespace || !slices.Equal(got.Types, tt.want.Types) || !slices.Equal(got.Names, tt.want.Names)) {
			t.Errorf("ParseResourceID(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestEndpointIDRoundTrip(t *testing.T) {
	id := rekey.EndpointID{Workspace: rekey.WorkspaceID{Subscription: "00000000-0000-0000-0000-000000000001", ResourceGroup: "My.Group(1)", Name: "ws_1"}, Name: "Ep-1"}
	got, err := rekey.ParseEndpointID(id.String())
	if err != nil || got != id {
		t.Fatalf("ParseEndpointID(%s) = %+v, %v; want %+v", id, got, err, id)
	}
	if id.Key() != strings.ToLower(id.String()) {
		t.Errorf("Key() = %s, want the lower-cased id", id.Key())
	}
	if err := id.Validate(); err != nil {
		t.Errorf("Validate(%s) = %v", id, err)
	}
	if _, err := rekey.ParseEndpointID(id.Workspace.String()); err == nil {
		t.Errorf("ParseEndpointID(workspace id) = nil error, want one")
	}
}

func TestValidateNames(t *testing.T) {
	for _, tt := range []struct {
		sub, rg, ws string
		ok          bool
	}{
		{"00000000-0000-0000-0000-000000000001", "rg", "abc", true},
		{"00000000-0000-0000-0000-000000000001", "rg", "ab", false},
		{"00000000-0000-0000-0000-000000000001", "rg", "_abc", false},
		{"00000000-0000-0000-0000-000000000001", "rg.", "abc", false},
		{"00000000-0000-0000-0000-000000000001", strings.Repeat("r", 91), "abc", false},
		{"00000000-0000-0000-0000-000000000001", "a/b", "abc", false},
		{"not-a-guid", "rg", "abc", false},
	} {
		err := rekey.WorkspaceID{Subscription: tt.sub, ResourceGroup: tt.rg, Name: tt.ws}.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("Validate(%q, %q, %q) = %v, want ok=%v", tt.sub, tt.rg, tt.ws, err, tt.ok)
		}
	}
}

// FuzzParseResourceID: never panics, and what it accepts round-trips.
func FuzzParseResourceID(f *testing.F) {
	for _, s := range []string{
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e",
		"/subscriptions/s", "/subscriptions/s/providers/ns/t/n", "//", "/subscriptions/s/resourceGroups/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := rekey.ParseResourceID(s)
		if err != nil {
			if rekey.ErrorCode(err) != rekey.Invalid {
				t.Fatalf("ParseResourceID(%q) error code = %s, want invalid", s, rekey.ErrorCode(err))
			}
			return
		}
		if id.Subscription == "" || len(id.Types) != len(id.Names) {
			t.Fatalf("ParseResourceID(%q) = %+v: empty subscription or unpaired types", s, id)
		}
		for _, n := range append(id.Names, id.Subscription, id.ResourceGroup) {
			if strings.Contains(n, "/") {
				t.Fatalf("ParseResourceID(%q) name %q contains a slash", s, n)
			}
		}
	})
}
