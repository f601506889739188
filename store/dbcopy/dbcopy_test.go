package dbcopy_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/store/dbcopy"
	"github.com/rekey-dev/rekey/store/postgres"
	"github.com/rekey-dev/rekey/store/postgres/pgtest"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// fill writes a little of everything an installation holds.
func fill(t *testing.T, s rekey.Store) {
	t.Helper()
	now := time.Now()
	err := s.Update(t.Context(), func(tx rekey.Tx) error {
		ws := rekey.WorkspaceID{Subscription: "00000000-0000-0000-0000-000000000001", ResourceGroup: "rg", Name: "ws"}
		if _, err := tx.PutWorkspace(&rekey.Workspace{ID: ws, Location: "westeurope"}); err != nil {
			return err
		}
		for i := range 3 {
			ep := rekey.EndpointID{Workspace: ws, Name: fmt.Sprintf("ep%d", i)}
			if _, err := tx.PutEndpoint(&rekey.Endpoint{ID: ep}); err != nil {
				return err
			}
			if _, err := tx.PutDeployment(&rekey.Deployment{ID: rekey.DeploymentID{Endpoint: ep, Name: "blue"}}); err != nil {
				return err
			}
			for v := range 2 { // a rotation: a previous key with a window
				d := rekey.Digest{byte(i), byte(v)}
				if _, err := tx.PutKey(rekey.StoredKey{Resource: ep.Key(), Slot: rekey.Primary, Ciphertext: d[:], Digest: d,
					UpdatedAt: now, PreviousValidUntil: now.Add(time.Hour)}); err != nil {
					return err
				}
			}
			if err := tx.AddKeyUsage(rekey.KeyUsage{Owner: ep.Key(), Slot: rekey.Primary, Requests: 7, LastUsed: now}); err != nil {
				return err
			}
		}
		acc := rekey.AccountID{Subscription: ws.Subscription, ResourceGroup: "rg", Name: "acc"}
		if _, err := tx.PutAccount(&rekey.Account{ID: acc, Kind: rekey.KindQnAMaker}); err != nil {
			return err
		}
		if err := tx.PutOperation(&rekey.Operation{ID: "op1", Status: rekey.OpSucceeded, CreatedAt: now, EndedAt: now}); err != nil {
			return err
		}
		if err := tx.PutPrincipal(&rekey.Principal{ID: "admin"}, [32]byte{9}); err != nil {
			return err
		}
		if _, err := tx.PutServicePrincipal(&rekey.ServicePrincipal{AppID: "app", ObjectID: "obj"}); err != nil {
			return err
		}
		if err := tx.PutSigningKey(&rekey.SigningKey{KID: "kid1", Sealed: []byte{1, 2}}); err != nil {
			return err
		}
		role := &rekey.RoleDefinition{ID: "11111111-1111-1111-1111-111111111111", RoleName: "Key Rotator",
			Permissions:      []rekey.Permission{{Actions: []string{"Microsoft.MachineLearningServices/workspaces/onlineEndpoints/*"}}},
			AssignableScopes: []string{"/subscriptions/" + ws.Subscription}, Created: now}
		if _, err := tx.PutRoleDefinition(role); err != nil {
			return err
		}
		if err := tx.PutRoleAssignment(&rekey.RoleAssignment{ID: "22222222-2222-2222-2222-222222222222", Scope: "/subscriptions/" + ws.Subscription,
			RoleDefinitionID: role.ID, PrincipalID: "obj", PrincipalType: "ServicePrincipal", Created: now}); err != nil {
			return err
		}
		for i := range 3 {
			if err := tx.AppendAudit(&rekey.AuditRecord{Time: now.Add(time.Duration(i) * time.Second), PrincipalID: "obj", AppID: "app",
				PrincipalName: "ci", Action: "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/regenerateKeys/action",
				ResourceID: ws.String() + "/onlineEndpoints/ep0", KeySlot: "primary", Status: 202, RequestID: fmt.Sprint("req", i)}); err != nil {
				return err
			}
		}
		// The oldest record pruned: the copy keeps seqs as they are, not
		// renumbered from 1.
		if _, err := tx.PruneAudit(now.Add(time.Second), 1); err != nil {
			return err
		}
		return tx.PutSetting(rekey.SettingTenantID, "tenant")
	})
	if err != nil {
		t.Fatal(err)
	}
}

// dump reads every table's rows.
func dump(t *testing.T, s dbcopy.Store) map[string][][]any {
	t.Helper()
	out := map[string][][]any{}
	err := s.Snapshot(t.Context(), func(r dbcopy.Reader) error {
		for _, tb := range dbcopy.Tables {
			err := r.Rows(tb, func(row []any) error {
				out[tb.Name] = append(out[tb.Name], append([]any(nil), row...))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameRows(t *testing.T, what string, got, want map[string][][]any) {
	t.Helper()
	for _, tb := range dbcopy.Tables {
		if len(want[tb.Name]) == 0 && tb.Name != "settings" {
			t.Errorf("the source's table %s is empty: the test copies nothing there", tb.Name)
		}
		if !reflect.DeepEqual(got[tb.Name], want[tb.Name]) {
			t.Errorf("%s: table %s differs: %d rows, want %d", what, tb.Name, len(got[tb.Name]), len(want[tb.Name]))
		}
	}
}

// TestCopyRoundTrip: SQLite to PostgreSQL and back, every row of every
// table arrives unchanged, the change feed continues after the copied
// sequence numbers, and a non-empty destination is refused without force.
func TestCopyRoundTrip(t *testing.T) {
	pgtest.Require(t)
	src, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "src.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fill(t, src)
	pg, err := postgres.Open(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	back, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "back.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()

	want := dump(t, src)
	if _, err := dbcopy.Copy(t.Context(), src, pg, false, nil); err != nil {
		t.Fatalf("Copy(sqlite → postgres) = %v", err)
	}
	sameRows(t, "sqlite → postgres", dump(t, pg), want)
	counts, err := dbcopy.Copy(t.Context(), pg, back, false, nil)
	if err != nil {
		t.Fatalf("Copy(postgres → sqlite) = %v", err)
	}
	sameRows(t, "postgres → sqlite", dump(t, back), want)
	for _, c := range counts {
		if c.From != c.To || c.From != int64(len(want[c.Table])) {
			t.Errorf("count of %s: %d → %d, want %d on both sides", c.Table, c.From, c.To, len(want[c.Table]))
		}
	}

	// Writes after the copy continue the feed and the audit log, on both,
	// and the copied roles and records read back through the store.
	maxAudit := int64(0)
	for _, row := range want["audit"] {
		maxAudit = max(maxAudit, row[0].(int64))
	}
	for name, s := range map[string]rekey.Store{"postgres": pg, "sqlite": back} {
		var before, after int64
		var roles []*rekey.RoleDefinition
		var assigned []*rekey.RoleAssignment
		var records []rekey.AuditRecord
		s.View(t.Context(), func(tx rekey.Tx) (err error) {
			before, err = tx.LatestChange()
			if err == nil {
				roles, err = tx.RoleDefinitions()
			}
			if err == nil {
				assigned, err = tx.RoleAssignments()
			}
			if err == nil {
				records, err = tx.AuditRecords(rekey.AuditFilter{Principal: "CI"})
			}
			return err
		})
		if len(roles) != 1 || roles[0].RoleName != "Key Rotator" || len(assigned) != 1 || assigned[0].PrincipalID != "obj" {
			t.Errorf("%s: after the copy, %d role definitions and %d assignments, want the 1 and 1 copied", name, len(roles), len(assigned))
		}
		if len(records) != 2 || records[0].Seq != maxAudit || records[0].Status != 202 {
			t.Errorf("%s: after the copy, the audit log read %d records (%+v), want 2, the newest with seq %d", name, len(records), records, maxAudit)
		}
		r := rekey.AuditRecord{Time: time.Now(), Action: "x"}
		err := s.Update(t.Context(), func(tx rekey.Tx) error {
			_, err := tx.PutKey(rekey.StoredKey{Resource: "/new", Slot: rekey.Primary, Ciphertext: []byte{1}, Digest: rekey.Digest{1}, UpdatedAt: time.Now()})
			if err != nil {
				return err
			}
			return tx.AppendAudit(&r)
		})
		if err != nil {
			t.Fatalf("%s: a write after the copy: %v", name, err)
		}
		s.View(t.Context(), func(tx rekey.Tx) (err error) { after, err = tx.LatestChange(); return err })
		if after <= before {
			t.Errorf("%s: feed at %d after a write, was %d: the sequence did not continue", name, after, before)
		}
		if r.Seq <= maxAudit {
			t.Errorf("%s: an audit record appended after the copy got seq %d, want above the copied %d", name, r.Seq, maxAudit)
		}
	}

	if _, err := dbcopy.Copy(t.Context(), src, pg, false, nil); !errors.Is(err, dbcopy.ErrNotEmpty) {
		t.Errorf("Copy into a non-empty destination = %v, want ErrNotEmpty", err)
	}
	if _, err := dbcopy.Copy(t.Context(), src, pg, true, nil); err != nil {
		t.Fatalf("Copy(force) = %v", err)
	}
	sameRows(t, "sqlite → postgres with force", dump(t, pg), want)
}
