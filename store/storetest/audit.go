package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
)

const (
	wsRes = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
	epRes = wsRes + "/onlineEndpoints/ep"
	regen = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/regenerateKeys/action"
	list  = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys/action"
)

func auditRecords(t *testing.T, s rekey.Store, f rekey.AuditFilter) []rekey.AuditRecord {
	t.Helper()
	var got []rekey.AuditRecord
	err := s.View(t.Context(), func(tx rekey.Tx) (err error) {
		got, err = tx.AuditRecords(f)
		return err
	})
	if err != nil {
		t.Fatalf("AuditRecords(%+v): %v", f, err)
	}
	return got
}

func seqs(rs []rekey.AuditRecord) []int64 {
	out := []int64{}
	for _, r := range rs {
		out = append(out, r.Seq)
	}
	return out
}

// testAudit: every field round-trips; records come newest first; the
// filters select by time, resource (and below it), principal (by id, appId
// or name), action (exact or prefix), all case-insensitively; Before pages.
func testAudit(t *testing.T, s rekey.Store) {
	base := time.Unix(1_700_000_000, 123456789).UTC()
	full := rekey.AuditRecord{
		Time: base, PrincipalID: "0b1c", AppID: "AAAA-1111", PrincipalName: "ci-rotator",
		Action: regen, ResourceID: epRes, KeySlot: "primary", Status: 202, ErrorCode: "",
		RequestID: "req-1", CorrelationID: "corr-1", ClientAddress: "127.0.0.1", UserAgent: "azsdk-go/1",
	}
	recs := []rekey.AuditRecord{
		full,
		{Time: base.Add(time.Minute), PrincipalID: "admin", PrincipalName: "admin", Action: list, ResourceID: epRes, Status: 200},
		{Time: base.Add(2 * time.Minute), PrincipalID: "admin", PrincipalName: "admin", Action: "Microsoft.MachineLearningServices/workspaces/write", ResourceID: wsRes, Status: 201},
		{Time: base.Add(3 * time.Minute), PrincipalID: "0b1c", AppID: "aaaa-1111", PrincipalName: "ci-rotator", Action: regen, ResourceID: wsRes + "/onlineEndpoints/ep2", KeySlot: "secondary", Status: 404, ErrorCode: "ResourceNotFound"},
		{Time: base.Add(4 * time.Minute), PrincipalID: "admin", PrincipalName: "admin", Action: list, ResourceID: wsRes + "x/onlineEndpoints/ep", Status: 200},
	}
	mustUpdate(t, s, func(tx rekey.Tx) error {
		var last int64
		for i := range recs {
			if err := tx.AppendAudit(&recs[i]); err != nil {
				return err
			}
			if recs[i].Seq <= last {
				return fmt.Errorf("AppendAudit set Seq %d after %d; want it to grow", recs[i].Seq, last)
			}
			last = recs[i].Seq
		}
		return nil
	})

	all := auditRecords(t, s, rekey.AuditFilter{})
	if len(all) != len(recs) {
		t.Fatalf("AuditRecords({}) returned %d records, want %d", len(all), len(recs))
	}
	want := recs[0]
	if got := all[len(all)-1]; !reflect.DeepEqual(got, want) {
		t.Errorf("the oldest record after a round trip:\n got %+v\nwant %+v", got, want)
	}
	S := func(i ...int) []int64 {
		out := []int64{}
		for _, j := range i {
			out = append(out, recs[j].Seq)
		}
		return out
	}
	tests := []struct {
		name string
		f    rekey.AuditFilter
		want []int64
	}{
		{"everything, newest first", rekey.AuditFilter{}, S(4, 3, 2, 1, 0)},
		{"since is inclusive", rekey.AuditFilter{Since: base.Add(3 * time.Minute)}, S(4, 3)},
		{"until is exclusive", rekey.AuditFilter{Until: base.Add(time.Minute)}, S(0)},
		{"resource and below, not a sibling prefix", rekey.AuditFilter{Resource: wsRes}, S(3, 2, 1, 0)},
		{"resource case-insensitive", rekey.AuditFilter{Resource: "/SUBSCRIPTIONS/s1/resourcegroups/RG/providers/microsoft.machinelearningservices/workspaces/ws/onlineendpoints/EP"}, S(1, 0)},
		{"resource with a trailing slash", rekey.AuditFilter{Resource: epRes + "/"}, S(1, 0)},
		{"principal by name", rekey.AuditFilter{Principal: "CI-Rotator"}, S(3, 0)},
		{"principal by appId", rekey.AuditFilter{Principal: "aaaa-1111"}, S(3, 0)},
		{"principal by id", rekey.AuditFilter{Principal: "admin"}, S(4, 2, 1)},
		{"action exact, any case", rekey.AuditFilter{Action: "microsoft.machinelearningservices/workspaces/onlineendpoints/listkeys/action"}, S(4, 1)},
		{"action prefix", rekey.AuditFilter{Action: "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/*"}, S(4, 3, 1, 0)},
		{"action suffix", rekey.AuditFilter{Action: "*/LISTKEYS/action"}, S(4, 1)},
		{"action infix", rekey.AuditFilter{Action: "*onlineEndpoints*"}, S(4, 3, 1, 0)},
		{"action wildcards are literal before the star", rekey.AuditFilter{Action: "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/%"}, S()},
		{"combined", rekey.AuditFilter{Resource: epRes, Action: regen, Principal: "ci-rotator"}, S(0)},
		{"limit", rekey.AuditFilter{Limit: 2}, S(4, 3)},
		{"before pages on", rekey.AuditFilter{Limit: 2, Before: recs[3].Seq}, S(2, 1)},
	}
	for _, tt := range tests {
		if got := seqs(auditRecords(t, s, tt.f)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: AuditRecords(%+v) = %v, want %v", tt.name, tt.f, got, tt.want)
		}
	}
}

// testAuditRollsBack: a record appended in a transaction that fails is
// gone with the change it described.
func testAuditRollsBack(t *testing.T, s rekey.Store) {
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx rekey.Tx) error {
		if err := tx.AppendAudit(&rekey.AuditRecord{Time: time.Now(), Action: regen, ResourceID: epRes, Status: 202}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	if got := auditRecords(t, s, rekey.AuditFilter{}); len(got) != 0 {
		t.Errorf("after a rolled-back Update, AuditRecords returned %d records, want 0", len(got))
	}
}

// testPruneAudit: records older than the cutoff go, in batches of the
// limit; newer ones stay; Reset keeps the log; Seq never goes back.
func testPruneAudit(t *testing.T, s rekey.Store) {
	cutoff := time.Unix(2000, 0).UTC()
	mustUpdate(t, s, func(tx rekey.Tx) error {
		for i := range 5 {
			if err := tx.AppendAudit(&rekey.AuditRecord{Time: cutoff.Add(-time.Duration(i+1) * time.Second), Action: list}); err != nil {
				return err
			}
		}
		return tx.AppendAudit(&rekey.AuditRecord{Time: cutoff, Action: regen})
	})
	var n1, n2, n3 int
	mustUpdate(t, s, func(tx rekey.Tx) (err error) { n1, err = tx.PruneAudit(cutoff, 3); return err })
	mustUpdate(t, s, func(tx rekey.Tx) (err error) { n2, err = tx.PruneAudit(cutoff, 3); return err })
	mustUpdate(t, s, func(tx rekey.Tx) (err error) { n3, err = tx.PruneAudit(cutoff, 3); return err })
	if n1 != 3 || n2 != 2 || n3 != 0 {
		t.Errorf("PruneAudit deleted %d, %d, %d in three batches of 3; want 3, 2, 0", n1, n2, n3)
	}
	left := auditRecords(t, s, rekey.AuditFilter{})
	if len(left) != 1 || left[0].Action != regen {
		t.Fatalf("after pruning, %d records left (%+v), want only the one at the cutoff", len(left), left)
	}
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.Reset() })
	if got := auditRecords(t, s, rekey.AuditFilter{}); len(got) != 1 {
		t.Errorf("after Reset, %d audit records, want the 1 from before (Reset keeps the audit log)", len(got))
	}
	mustUpdate(t, s, func(tx rekey.Tx) (err error) { _, err = tx.PruneAudit(cutoff.Add(time.Hour), 10); return err })
	r := rekey.AuditRecord{Time: cutoff, Action: list}
	mustUpdate(t, s, func(tx rekey.Tx) error { return tx.AppendAudit(&r) })
	if r.Seq <= left[0].Seq {
		t.Errorf("after pruning every record, AppendAudit set Seq %d, want above %d (a continuation must never see a seq again)", r.Seq, left[0].Seq)
	}
}
