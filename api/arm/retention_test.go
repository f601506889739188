package arm_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
)

// TestUsageNotInheritedByNewEndpoint: the usage of a deleted endpoint
// does not reappear on a new endpoint of the same name (issue item 11),
// also when a gateway flush for the old one lands after the delete.
func TestUsageNotInheritedByNewEndpoint(t *testing.T) {
	e := newEnv(t)
	e.workspace("ws1")
	e.endpoint("ws1", "ep1", "Key")
	owner := rekey.EndpointID{Workspace: rekey.WorkspaceID{Subscription: sub, ResourceGroup: "rg1", Name: "ws1"}, Name: "ep1"}.Key()
	add := func() error {
		return e.store.Update(t.Context(), func(tx rekey.Tx) error {
			return tx.AddKeyUsage(rekey.KeyUsage{Owner: owner, Slot: rekey.Primary, Requests: 42, LastUsed: time.Now()})
		})
	}
	requests := func() (n int64) {
		e.store.View(t.Context(), func(tx rekey.Tx) error {
			u, err := tx.KeyUsage(owner)
			for _, x := range u {
				n += x.Requests
			}
			return err
		})
		return n
	}
	if err := add(); err != nil || requests() != 42 {
		t.Fatalf("usage before delete = %d, %v; want 42", requests(), err)
	}
	resp, _ := e.must(http.StatusAccepted, "DELETE", base+"/workspaces/ws1/onlineEndpoints/ep1"+av, "")
	e.waitOp(resp.Header.Get("Azure-AsyncOperation"))
	if err := add(); err != nil { // the late flush
		t.Fatal(err)
	}
	e.endpoint("ws1", "ep1", "Key")
	if n := requests(); n != 0 {
		t.Errorf("usage of the new endpoint ep1 = %d requests, want 0", n)
	}
}
