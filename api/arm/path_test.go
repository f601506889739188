package arm

import (
	"strings"
	"testing"
)

func TestCanonicalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.MACHINELEARNINGSERVICES/WORKSPACES/W/ONLINEENDPOINTS/E/LISTKEYS": "/subscriptions/S/resourceGroups/G/providers/Microsoft.MachineLearningServices/workspaces/W/onlineEndpoints/E/listKeys",
		"/subscriptions/s/providers/microsoft.machinelearningservices/LOCATIONS/EastUS/MFEOPERATIONSSTATUS/oe:1":                "/subscriptions/s/providers/Microsoft.MachineLearningServices/locations/EastUS/mfeOperationsStatus/oe:1",
		// Names equal to keywords keep their spelling.
		"/subscriptions/WORKSPACES/resourceGroups/TOKEN/providers/Microsoft.MachineLearningServices/workspaces/LISTKEYS": "/subscriptions/WORKSPACES/resourceGroups/TOKEN/providers/Microsoft.MachineLearningServices/workspaces/LISTKEYS",
		"/healthz": "/healthz",
		"":         "",
	} {
		if got := canonicalPath(in); got != want {
			t.Errorf("canonicalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzCanonicalPath: never panics, keeps the segment count, and changes
// only the case of segments.
func FuzzCanonicalPath(f *testing.F) {
	f.Add("/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e/regenerateKeys")
	f.Add("/subscriptions/s/providers/x/locations/l/mfeOperationResults/o")
	f.Add("//providers//")
	f.Fuzz(func(t *testing.T, p string) {
		got := canonicalPath(p)
		if !strings.EqualFold(got, p) {
			t.Fatalf("canonicalPath(%q) = %q: changed more than case", p, got)
		}
		if canonicalPath(got) != got {
			t.Fatalf("canonicalPath is not idempotent on %q", p)
		}
	})
}
