package authz

import (
	"strings"
	"testing"
)

// FuzzMatch: Match never panics; "*" matches everything; a pattern
// without wildcards matches exactly its case-folded self.
func FuzzMatch(f *testing.F) {
	f.Add("Microsoft.MachineLearningServices/workspaces/*/action", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action")
	f.Add("*/read", "x/read")
	f.Add("a**b", "ab")
	f.Fuzz(func(t *testing.T, pattern, action string) {
		got := Match(pattern, action)
		if !Match("*", action) {
			t.Errorf("* does not match %q", action)
		}
		if !strings.Contains(pattern, "*") && isASCII(pattern) && isASCII(action) && got != strings.EqualFold(pattern, action) {
			t.Errorf("Match(%q, %q) = %v without wildcards", pattern, action, got)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzParseScope: a scope that parses covers itself and is covered by "/".
func FuzzParseScope(f *testing.F) {
	f.Add("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w")
	f.Add("/")
	f.Add("/subscriptions//x")
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := ParseScope(s); err != nil {
			return
		}
		if !Covers(s, s) || !Covers("/", s) {
			t.Errorf("Covers fails on parsed scope %q", s)
		}
	})
}
