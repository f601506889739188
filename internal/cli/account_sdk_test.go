package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	cs "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/cognitiveservices/armcognitiveservices/v2"
)

// TestSDKAccountCreateAsync: with an operation delay the armcognitiveservices
// BeginCreate poller follows the Azure-AsyncOperation URL until the account
// is Succeeded, no sooner than the delay. The same client pinned to
// api-version 2025-09-01 (the default of @azure/arm-cognitiveservices
// 8.1.0) and to a version newer than any rekey knows works too; with
// --strict-api-version the newer one is refused with ARM's code.
func TestSDKAccountCreateAsync(t *testing.T) {
	const delay = 300 * time.Millisecond
	s := startServer(t, "", "--operation-delay", delay.String())
	for _, version := range []string{"", "2025-09-01", "2099-01-01"} {
		opts := s.armOptions()
		opts.APIVersion = version
		accounts, err := cs.NewAccountsClient(testSub, staticToken(s.Token), opts)
		if err != nil {
			t.Fatal(err)
		}
		name := "acc" + strings.ReplaceAll(version, "-", "")
		start := time.Now()
		poller, err := accounts.BeginCreate(t.Context(), testRG, name, cs.Account{
			Location: to.Ptr("westus"), Kind: to.Ptr("Face"), SKU: &cs.SKU{Name: to.Ptr("F0")},
		}, nil)
		if err != nil {
			t.Fatalf("api-version %q: BeginCreate: %v", version, err)
		}
		if poller.Done() {
			t.Errorf("api-version %q: the poller was done after the initial response; want it to poll", version)
		}
		created, err := poller.PollUntilDone(t.Context(), nil)
		if err != nil {
			t.Fatalf("api-version %q: PollUntilDone: %v", version, err)
		}
		if took := time.Since(start); took < delay {
			t.Errorf("api-version %q: creation took %v, less than the %v operation delay", version, took, delay)
		}
		if *created.Properties.ProvisioningState != cs.ProvisioningStateSucceeded {
			t.Errorf("api-version %q: created state = %v, want Succeeded", version, *created.Properties.ProvisioningState)
		}
	}

	strict := startServer(t, "", "--strict-api-version")
	opts := strict.armOptions()
	opts.APIVersion = "2099-01-01"
	accounts, err := cs.NewAccountsClient(testSub, staticToken(strict.Token), opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = accounts.BeginCreate(t.Context(), testRG, "refused", cs.Account{
		Location: to.Ptr("westus"), Kind: to.Ptr("Face"), SKU: &cs.SKU{Name: to.Ptr("F0")},
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "NoRegisteredProviderFound") {
		t.Errorf("strict server, api-version 2099-01-01: %v; want NoRegisteredProviderFound", err)
	}
}

// TestAccountKeysWorkWhileCreating: an account's keys exist from the
// moment the PUT is accepted, and the QnA authoring API takes them while
// the account is still Creating (rekey's choice; docs/decisions.md).
func TestAccountKeysWorkWhileCreating(t *testing.T) {
	s := startServer(t, "", "--operation-delay", "1m")
	accounts, err := cs.NewAccountsClient(testSub, staticToken(s.Token), s.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.BeginCreate(t.Context(), testRG, "early", cs.Account{
		Location: to.Ptr("westus"), Kind: to.Ptr("QnAMaker"), SKU: &cs.SKU{Name: to.Ptr("S0")},
		Properties: &cs.AccountProperties{APIProperties: &cs.APIProperties{QnaRuntimeEndpoint: to.Ptr("https://early.azurewebsites.net")}},
	}, nil); err != nil {
		t.Fatalf("BeginCreate: %v", err)
	}
	got, err := accounts.Get(t.Context(), testRG, "early", nil)
	if err != nil || *got.Properties.ProvisioningState != cs.ProvisioningStateCreating {
		t.Fatalf("Get = %v, %v; want the account Creating", got.Properties, err)
	}
	keys, err := accounts.ListKeys(t.Context(), testRG, "early", nil)
	if err != nil {
		t.Fatalf("ListKeys while Creating: %v", err)
	}
	if st, body := qnaCall(t, s, "GET", *got.Properties.Endpoint+"qnamaker/v4.0/endpointkeys", *keys.Key1, nil, ""); st != 200 {
		t.Errorf("QnA endpointkeys with key1 while Creating = %d %s, want 200", st, body)
	}
}
