package parity

import (
	"slices"
	"testing"
)

func TestJudge(t *testing.T) {
	retry := Diff{Path: "header Retry-After-Ms", Kind: KindUnexpected}
	keys := Diff{Path: "properties.keys", Kind: KindUnexpected, Got: "null"}
	kind := Diff{Path: "kind", Kind: KindMissing, Want: "string"}
	devs := []Deviation{
		{ID: "fast-polling", Reason: "r", Path: "header Retry-After*", Kind: KindUnexpected},
		{ID: "scoped", Reason: "r", Exchanges: "other/*", Path: "kind", Kind: KindMissing},
		{ID: "unused", Reason: "r", Path: "nothing", Kind: KindMissing},
	}
	pend := []Pending{
		{Exchange: "rec/get", Diffs: []string{keys.String()}},
		{Exchange: "rec/gone", Diffs: []string{"x: missing"}},
	}
	results := []Result{
		{"rec/create", []Diff{retry}},     // deliberate only: matches
		{"rec/get", []Diff{keys, retry}},  // pending
		{"rec/list", []Diff{kind, retry}}, // unexplained (the scoped deviation is for other/*)
		{"other/list", []Diff{kind}},      // deliberate in its scope
		{"rec/same", nil},                 // identical
	}
	v := Judge(results, devs, pend)
	if v.Total != 5 || v.Matched != 3 {
		t.Errorf("Judge: %d/%d matched, want 3/5", v.Matched, v.Total)
	}
	if len(v.Unexplained) != 1 || v.Unexplained[0].Exchange != "rec/list" || !slices.Equal(strs(v.Unexplained[0].Diffs), []string{kind.String()}) {
		t.Errorf("Unexplained = %v, want rec/list's kind", v.Unexplained)
	}
	if len(v.PendingSeen) != 1 || v.PendingSeen[0].Exchange != "rec/get" {
		t.Errorf("PendingSeen = %v, want rec/get", v.PendingSeen)
	}
	if !slices.Equal(v.StalePending, []string{"rec/gone: x: missing"}) {
		t.Errorf("StalePending = %q, want the entry for rec/gone", v.StalePending)
	}
	if !slices.Equal(v.StaleDeviations, []string{"unused"}) {
		t.Errorf("StaleDeviations = %q, want [unused]", v.StaleDeviations)
	}
}
