package seed_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/seed"
	"github.com/rekey-dev/rekey/store/sqlite"
)

func newApplier(t *testing.T) (*seed.Applier, rekey.Store) {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	master := make([]byte, rekey.MasterKeySize)
	rand.Read(master)
	kr, err := rekey.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	return &seed.Applier{Store: store, Keyring: kr}, store
}

func readExample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func apply(t *testing.T, a *seed.Applier, name string, data []byte) (*seed.Result, error) {
	t.Helper()
	f, err := seed.Parse(name, data)
	if err != nil {
		return nil, err
	}
	return a.Apply(t.Context(), f)
}

func summary(r *seed.Result) string {
	var b strings.Builder
	for _, o := range r.Resources {
		b.WriteString(o.Action + " " + o.Type + " " + o.Name + " " + strings.Join(o.Generated, ",") + "\n")
	}
	return b.String()
}

// TestApplyTwiceIsIdempotent: the example applies, creates everything it
// declares with the chosen keys, and a second application changes nothing.
func TestApplyTwiceIsIdempotent(t *testing.T) {
	for _, file := range []string{"seed.yaml", "seed.json"} {
		t.Run(file, func(t *testing.T) {
			a, store := newApplier(t)
			data := readExample(t, file)
			first, err := apply(t, a, file, data)
			if err != nil {
				t.Fatalf("first apply: %v", err)
			}
			want := `created servicePrincipal 6f1d2c3b-1a2b-4c3d-8e9f-0a1b2c3d4e5f 
created workspace ws1 
created endpoint ws1/llm secondary
created deployment ws1/llm/blue 
created deployment ws1/llm/green 
created endpoint ws1/scorer 
created account my-qna endpointKeys.secondary
`
			if got := summary(first); got != want {
				t.Errorf("first apply:\n got %s\nwant %s", got, want)
			}
			if first.Created != 7 || first.Updated != 0 || first.Unchanged != 0 {
				t.Errorf("first apply counts = %d/%d/%d, want 7/0/0", first.Created, first.Updated, first.Unchanged)
			}
			var seqBefore int64
			store.View(t.Context(), func(tx rekey.Tx) (err error) { seqBefore, err = tx.LatestChange(); return err })

			second, err := apply(t, a, file, data)
			if err != nil {
				t.Fatalf("second apply: %v", err)
			}
			if second.Created != 0 || second.Updated != 0 || second.Unchanged != 7 {
				t.Errorf("second apply counts = %d/%d/%d, want 0/0/7:\n%s", second.Created, second.Updated, second.Unchanged, summary(second))
			}
			var seqAfter int64
			store.View(t.Context(), func(tx rekey.Tx) (err error) { seqAfter, err = tx.LatestChange(); return err })
			if seqAfter != seqBefore {
				t.Errorf("the second apply wrote %d changes, want none", seqAfter-seqBefore)
			}

			// What the file chose is what the store holds.
			ws := rekey.WorkspaceID{Subscription: seed.DefaultSubscription, ResourceGroup: seed.DefaultResourceGroup, Name: "ws1"}
			ep := rekey.EndpointID{Workspace: ws, Name: "llm"}
			acc := rekey.AccountID{Subscription: seed.DefaultSubscription, ResourceGroup: seed.DefaultResourceGroup, Name: "my-qna"}
			err = store.View(t.Context(), func(tx rekey.Tx) error {
				e, err := tx.Endpoint(ep)
				if err != nil {
					return err
				}
				if e.Traffic["blue"] != 100 || e.MirrorTraffic["green"] != 10 || e.GracePeriod().String() != "5m0s" {
					t.Errorf("endpoint traffic %v mirror %v grace %v", e.Traffic, e.MirrorTraffic, e.GracePeriod())
				}
				keys, err := tx.Keys(ep.Key())
				if err != nil {
					return err
				}
				pair, err := a.Keyring.OpenPair(keys)
				if err != nil {
					return err
				}
				if pair.Primary != "ci-primary-key-0123456789" || len(pair.Secondary) != 43 {
					t.Errorf("endpoint keys: primary chosen %v, secondary generated %v", pair.Primary == "ci-primary-key-0123456789", len(pair.Secondary) == 43)
				}
				keys, err = tx.Keys(acc.SubscriptionKeys())
				if err != nil {
					return err
				}
				if pair, err = a.Keyring.OpenPair(keys); err != nil {
					return err
				}
				if pair.Primary != "ci-subscription-key-1-abcdef" || pair.Secondary != "ci-subscription-key-2-abcdef" {
					t.Error("account subscription keys are not the chosen ones")
				}
				sp, err := tx.ServicePrincipal("6f1d2c3b-1a2b-4c3d-8e9f-0a1b2c3d4e5f")
				if err != nil {
					return err
				}
				if !sp.SecretDigest.Equal(a.Keyring.SecretDigest("ci-client-secret-not-for-production")) {
					t.Error("the service principal's secret is not the chosen one")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestApplyUpdatesWhatDiffers: a changed upstream and traffic are
// updated; the rest stays unchanged; a generated key is not redrawn; a
// changed chosen key is not applied to a resource that exists, and is
// reported as kept, so a rotated key never comes back.
func TestApplyUpdatesWhatDiffers(t *testing.T) {
	a, store := newApplier(t)
	data := readExample(t, "seed.yaml")
	if _, err := apply(t, a, "seed.yaml", data); err != nil {
		t.Fatal(err)
	}
	ep := rekey.EndpointID{Workspace: rekey.WorkspaceID{Subscription: seed.DefaultSubscription, ResourceGroup: seed.DefaultResourceGroup, Name: "ws1"}, Name: "llm"}
	secondary := func() string {
		var pair rekey.KeyPair
		store.View(t.Context(), func(tx rekey.Tx) error {
			keys, err := tx.Keys(ep.Key())
			if err == nil {
				pair, err = a.Keyring.OpenPair(keys)
			}
			return err
		})
		return pair.Secondary
	}
	before := secondary()
	changed := bytes.Replace(data, []byte("ci-primary-key-0123456789"), []byte("ci-primary-key-9876543210"), 1)
	changed = bytes.Replace(changed, []byte("http://127.0.0.1:8001"), []byte("http://127.0.0.1:8002"), 1)
	changed = bytes.Replace(changed, []byte("mirrorTraffic: {green: 10}"), []byte("mirrorTraffic: {green: 20}"), 1)
	changed = bytes.Replace(changed, []byte("ci-subscription-key-1-abcdef"), []byte("ci-subscription-key-1-changed"), 1)
	res, err := apply(t, a, "seed.yaml", changed)
	if err != nil {
		t.Fatal(err)
	}
	got := summary(res)
	for _, want := range []string{"updated endpoint ws1/llm", "updated deployment ws1/llm/green", "unchanged deployment ws1/llm/blue", "unchanged account my-qna", "unchanged workspace ws1"} {
		if !strings.Contains(got, want+" ") {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if res.Updated != 2 {
		t.Errorf("updated = %d, want 2:\n%s", res.Updated, got)
	}
	kept := map[string][]string{}
	for _, o := range res.Resources {
		kept[o.Type+" "+o.Name] = o.Kept
	}
	if k := kept["endpoint ws1/llm"]; len(k) != 1 || k[0] != "keys.primary" {
		t.Errorf("endpoint kept = %v, want [keys.primary]", k)
	}
	if k := kept["account my-qna"]; len(k) != 1 || k[0] != "key1" {
		t.Errorf("account kept = %v, want [key1]", k)
	}
	acc := rekey.AccountID{Subscription: seed.DefaultSubscription, ResourceGroup: seed.DefaultResourceGroup, Name: "my-qna"}
	store.View(t.Context(), func(tx rekey.Tx) error {
		keys, err := tx.Keys(acc.SubscriptionKeys())
		if err != nil || len(keys) != 2 || !keys[0].Digest.Equal(a.Keyring.Digest("ci-subscription-key-1-abcdef")) ||
			!keys[1].Digest.Equal(a.Keyring.Digest("ci-subscription-key-2-abcdef")) {
			t.Errorf("account keys after the change: both as created? (%v)", err)
		}
		return nil
	})
	if secondary() != before {
		t.Error("the generated secondary key was drawn again on update")
	}
}

// TestErrorsListedByLineNothingApplied: a file with several mistakes is
// refused whole; each mistake is reported at its line.
func TestErrorsListedByLineNothingApplied(t *testing.T) {
	bad := []byte(`workspaces:
  - name: ws1
    location: eastus
endpoints:
  - name: ok-endpoint
    workspace: ws1
  - name: bad
    workspace: ws1
    authMode: Token
    gracePeriod: forever
    keys: {primary: short}
    deployments:
      - name: blue
        upstream: ftp://example
    traffic: {blue: 90}
accounts:
  - name: q
    location: westus
servicePrincipals:
  - appId: not-a-guid
    displayName: ci
    secret: a-secret-of-enough-length
roleAssignments:
  - role: Contributor
colour: blue
`)
	f, err := seed.Parse("seed.yaml", bad)
	if f != nil {
		t.Fatal("Parse returned a file for a file with errors")
	}
	var errs seed.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want seed.Errors", err)
	}
	want := []string{
		"seed.yaml:9: endpoints[1].authMode: want Key, AMLToken or AADToken",
		"seed.yaml:10: endpoints[1].gracePeriod: want a duration from 0s to 24h",
		"seed.yaml:11: endpoints[1].keys.primary: The key must be 16 to 256 characters long",
		"seed.yaml:14: endpoints[1].deployments[0].upstream: want an absolute http(s) URL",
		"seed.yaml:15: endpoints[1].traffic: the percentages must add up to 100 (they add up to 90)",
		"seed.yaml:17: accounts[0].name: The account name 'q' is invalid",
		"seed.yaml:17: accounts[0].qnaRuntimeEndpoint: required for a QnAMaker account",
		"seed.yaml:20: servicePrincipals[0].appId: want a GUID",
		"seed.yaml:24: roleAssignments: role assignments are not supported yet",
		"seed.yaml:25: colour: unknown field; known fields: accounts, endpoints, resourceGroup, roleAssignments, servicePrincipals, subscription, workspaces",
	}
	if len(errs) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(errs), len(want), err)
	}
	for i := range min(len(errs), len(want)) {
		if !strings.HasPrefix(errs[i].String(), want[i]) {
			t.Errorf("problem %d:\n got %s\nwant %s…", i, errs[i], want[i])
		}
	}
	if strings.Contains(err.Error(), "short") {
		t.Error("a message repeats a key")
	}
}

// TestApplyErrorsRollBackEverything: problems only the store can see
// (a deployment named in traffic that does not exist, an endpoint in a
// missing workspace) are listed at their lines, and the valid parts of
// the file are not applied either.
func TestApplyErrorsRollBackEverything(t *testing.T) {
	a, store := newApplier(t)
	data := []byte(`workspaces:
  - name: ws1
    location: eastus
endpoints:
  - name: e1
    workspace: ws1
  - name: e2
    workspace: nowhere
  - name: e3
    workspace: ws1
    traffic: {ghost: 100}
accounts:
  - name: face1
    kind: Face
    location: westus
    tags: {"bad/name": x}
`)
	_, err := apply(t, a, "s.yaml", data)
	var errs seed.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want seed.Errors", err)
	}
	want := []string{
		"s.yaml:7: endpoints[1]: the workspace 'nowhere' does not exist; declare it under workspaces",
		"s.yaml:9: endpoints[2]: properties.traffic names deployment 'ghost', which does not exist in endpoint 'e3'.",
		"s.yaml:13: accounts[0]: The tag name 'bad/name' is invalid",
	}
	if len(errs) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(errs), len(want), err)
	}
	for i := range min(len(errs), len(want)) {
		if !strings.HasPrefix(errs[i].String(), want[i]) {
			t.Errorf("problem %d:\n got %s\nwant %s…", i, errs[i], want[i])
		}
	}
	store.View(t.Context(), func(tx rekey.Tx) error {
		list, err := tx.Workspaces(seed.DefaultSubscription, "")
		if err != nil || len(list) != 0 {
			t.Errorf("workspaces after a refused file: %d (%v), want none", len(list), err)
		}
		eps, _ := tx.AllEndpoints()
		if len(eps) != 0 {
			t.Errorf("endpoints after a refused file: %d, want none", len(eps))
		}
		return nil
	})
}

// TestAliasBombIsBounded: a few lines of aliases that stand for millions
// of declarations are refused, not walked.
func TestAliasBombIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("x: &d {name: d, upstream: 'http://127.0.0.1:1'}\ny: &e {name: e, workspace: w, deployments: [")
	b.WriteString(strings.Repeat("*d,", 3000))
	b.WriteString("]}\nendpoints: [")
	b.WriteString(strings.Repeat("*e,", 3000))
	b.WriteString("]\n")
	_, err := seed.Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "too large once its aliases are expanded") {
		t.Fatalf("err = %.300v, want the expansion refused", err)
	}
	var errs seed.Errors
	if errors.As(err, &errs); len(errs) > 201 {
		t.Errorf("%d problems listed, want at most 201", len(errs))
	}
}

// TestApplyKeepsWhatFileLeavesOut: a later, shorter file may shift traffic
// to a deployment it does not list (created earlier, here by another
// file), and leaves the endpoint's keys and grace period as they are.
func TestApplyKeepsWhatFileLeavesOut(t *testing.T) {
	a, store := newApplier(t)
	if _, err := apply(t, a, "seed.yaml", readExample(t, "seed.yaml")); err != nil {
		t.Fatal(err)
	}
	res, err := apply(t, a, "shift.yaml", []byte("endpoints:\n  - name: llm\n    workspace: ws1\n    traffic: {green: 100}\n    mirrorTraffic: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(res); got != "updated endpoint ws1/llm \n" {
		t.Errorf("summary = %q", got)
	}
	ep := rekey.EndpointID{Workspace: rekey.WorkspaceID{Subscription: seed.DefaultSubscription, ResourceGroup: seed.DefaultResourceGroup, Name: "ws1"}, Name: "llm"}
	store.View(t.Context(), func(tx rekey.Tx) error {
		e, err := tx.Endpoint(ep)
		if err != nil {
			t.Fatal(err)
		}
		if e.Traffic["green"] != 100 || e.Traffic["blue"] != 0 || e.MirrorTraffic["green"] != 0 || e.GracePeriod().String() != "5m0s" || e.AuthMode != rekey.AuthKey {
			t.Errorf("endpoint after the shorter file: traffic %v mirror %v grace %v mode %v", e.Traffic, e.MirrorTraffic, e.GracePeriod(), e.AuthMode)
		}
		keys, _ := tx.Keys(ep.Key())
		if !keys[0].Digest.Equal(a.Keyring.Digest("ci-primary-key-0123456789")) {
			t.Error("the primary key changed though the file chose none")
		}
		return nil
	})
}

// TestJSONErrorsHaveLines: a JSON seed file's problems carry lines too.
func TestJSONErrorsHaveLines(t *testing.T) {
	data := []byte(`{
  "workspaces": [{"name": "ws1", "location": "eastus"}],
  "endpoints": [
    {"name": "e1", "workspace": "ws1",
     "authMode": "Keys"},
    {"name": "e2", "workspace": "ws1", "traffic": {"blue": "all"}}
  ]
}
`)
	_, err := seed.Parse("seed.json", data)
	want := "seed.json:5: endpoints[0].authMode: want Key, AMLToken or AADToken\n" +
		"seed.json:6: endpoints[1].traffic.blue: want a whole percentage from 0 to 100"
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
	_, err = seed.Parse("seed.json", []byte("{\"workspaces\": [\n  {\"name\": \"ws1\",}\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "seed.json:") || !strings.Contains(err.Error(), "not valid YAML or JSON") {
		t.Errorf("malformed JSON: %v", err)
	}
}

// TestReapplyNeverRevivesARotatedKey: a chosen key rotated out after the
// seed created it (perhaps because it leaked) stays out when the same
// file is applied again, as at a restart with --seed; so does a service
// principal's secret reset since (found in review).
func TestReapplyNeverRevivesARotatedKey(t *testing.T) {
	a, store := newApplier(t)
	data := readExample(t, "seed.yaml")
	if _, err := apply(t, a, "seed.yaml", data); err != nil {
		t.Fatal(err)
	}
	ep := rekey.EndpointID{Workspace: rekey.WorkspaceID{Subscription: seed.DefaultSubscription, ResourceGroup: seed.DefaultResourceGroup, Name: "ws1"}, Name: "llm"}
	rotated := rekey.NewKey()
	err := store.Update(t.Context(), func(tx rekey.Tx) error {
		_, err := tx.PutKey(a.Keyring.Rotate(ep.Key(), rekey.Primary, rotated, time.Now(), 0))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apply(t, a, "seed.yaml", data); err != nil {
		t.Fatal(err)
	}
	store.View(t.Context(), func(tx rekey.Tx) error {
		keys, err := tx.Keys(ep.Key())
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.Slot == rekey.Primary && !k.Digest.Equal(a.Keyring.Digest(rotated)) {
				t.Error("re-applying the seed put the rotated-out primary key back in force")
			}
		}
		return nil
	})
}

// TestAccountKeysMustBeUnique: account keys select their account (the QnA
// authoring API and runtime look them up by digest), so a seed that gives
// two slots the same key is refused whole (found in review).
func TestAccountKeysMustBeUnique(t *testing.T) {
	for name, file := range map[string]string{
		"subscription key shared": `
accounts:
  - {name: qna-a, location: westus, qnaRuntimeEndpoint: "http://127.0.0.1:9000", keys: {key1: shared-subscription-key-01}}
  - {name: qna-b, location: westus, qnaRuntimeEndpoint: "http://127.0.0.1:9001", keys: {key1: shared-subscription-key-01}}
`,
		"endpoint key shared": `
accounts:
  - {name: qna-a, location: westus, qnaRuntimeEndpoint: "http://127.0.0.1:9000", endpointKeys: {primary: shared-endpoint-key-0001}}
  - {name: qna-b, location: westus, qnaRuntimeEndpoint: "http://127.0.0.1:9001", endpointKeys: {secondary: shared-endpoint-key-0001}}
`,
		"one account's two slots": `
accounts:
  - {name: qna-a, location: westus, qnaRuntimeEndpoint: "http://127.0.0.1:9000", keys: {key1: same-in-both-slots-0001, key2: same-in-both-slots-0001}}
`,
	} {
		t.Run(name, func(t *testing.T) {
			a, store := newApplier(t)
			_, err := apply(t, a, "seed.yaml", []byte(file))
			if err == nil || !(strings.Contains(err.Error(), "already in use") || strings.Contains(err.Error(), "must differ")) {
				t.Fatalf("apply = %v, want a refusal naming the shared key", err)
			}
			store.View(t.Context(), func(tx rekey.Tx) error {
				if accs, _ := tx.AllAccounts(); len(accs) != 0 {
					t.Errorf("%d accounts stored after a refused file, want none", len(accs))
				}
				return nil
			})
		})
	}
}
