package rekeytest_test

import (
	"errors"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"

	"github.com/rekey-dev/rekey/fault"
	"github.com/rekey-dev/rekey/rekeytest"
)

// TestFault: a Failed fault reaches the official SDK as an
// *azcore.ResponseError with the chosen code and leaves the key as it
// was; after ClearFaults the rotation works.
func TestFault(t *testing.T) {
	srv := rekeytest.Start(t)
	c := newClients(t, srv)
	c.workspace(t, "ws1")
	p, err := c.ep.BeginCreateOrUpdate(t.Context(), rg, "ws1", "ep", ml.OnlineEndpoint{Location: to.Ptr("eastus"),
		Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(ml.EndpointAuthModeKey)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	primary := func() string {
		k, err := c.ep.ListKeys(t.Context(), rg, "ws1", "ep", nil)
		if err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		return *k.PrimaryKey
	}
	rotate := func() error {
		p, err := c.ep.BeginRegenerateKeys(t.Context(), rg, "ws1", "ep", ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(ml.KeyTypePrimary)}, nil)
		if err != nil {
			return err
		}
		_, err = p.PollUntilDone(t.Context(), nil)
		return err
	}
	before := primary()

	f := srv.Fault(fault.Fault{Kind: fault.Failed, Operation: fault.RegenerateKeys, Resource: "ep", Code: "QuotaExceeded"})
	if f.ID == "" || f.Status != 500 {
		t.Errorf("Fault returned %+v, want an id and the default status 500", f)
	}
	var re *azcore.ResponseError
	if err := rotate(); !errors.As(err, &re) || re.ErrorCode != "QuotaExceeded" {
		t.Fatalf("regenerateKeys under the fault = %v, want a ResponseError with code QuotaExceeded", err)
	}
	if primary() != before {
		t.Errorf("the primary key changed although its operation failed")
	}

	srv.ClearFaults()
	if err := rotate(); err != nil {
		t.Fatalf("regenerateKeys after ClearFaults: %v", err)
	}
	if primary() == before {
		t.Errorf("the primary key did not change after ClearFaults")
	}
}
