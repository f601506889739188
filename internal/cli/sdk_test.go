package cli

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"
)

const (
	testSub = "11111111-2222-3333-4444-555555555555"
	testRG  = "rekey-e2e"
)

// sdkClients are the official SDK clients for one test server.
type sdkClients struct {
	ws *ml.WorkspacesClient
	ep *ml.OnlineEndpointsClient
}

func newSDK(t *testing.T, s *testServer) sdkClients {
	t.Helper()
	ws, err := ml.NewWorkspacesClient(testSub, staticToken(s.Token), s.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	ep, err := ml.NewOnlineEndpointsClient(testSub, staticToken(s.Token), s.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	return sdkClients{ws, ep}
}

func (c sdkClients) mustWorkspace(t *testing.T, name string) {
	t.Helper()
	p, err := c.ws.BeginCreateOrUpdate(t.Context(), testRG, name, ml.Workspace{
		Location: to.Ptr("westeurope"), Properties: &ml.WorkspaceProperties{FriendlyName: to.Ptr(name)}}, nil)
	if err != nil {
		t.Fatalf("Workspaces.BeginCreateOrUpdate: %v", err)
	}
	if _, err := p.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatalf("Workspaces PollUntilDone: %v", err)
	}
}

func (c sdkClients) mustEndpoint(t *testing.T, ws, name string, mode ml.EndpointAuthMode) ml.OnlineEndpoint {
	t.Helper()
	p, err := c.ep.BeginCreateOrUpdate(t.Context(), testRG, ws, name, ml.OnlineEndpoint{
		Location:   to.Ptr("westeurope"),
		Tags:       map[string]*string{"stage": to.Ptr("test")},
		Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(mode), Description: to.Ptr("e2e")},
	}, nil)
	if err != nil {
		t.Fatalf("OnlineEndpoints.BeginCreateOrUpdate(%s): %v", name, err)
	}
	res, err := p.PollUntilDone(t.Context(), nil)
	if err != nil {
		t.Fatalf("OnlineEndpoints PollUntilDone(%s): %v", name, err)
	}
	return res.OnlineEndpoint
}

func (c sdkClients) keys(t *testing.T, ws, ep string) (string, string) {
	t.Helper()
	k, err := c.ep.ListKeys(t.Context(), testRG, ws, ep, nil)
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	return *k.PrimaryKey, *k.SecondaryKey
}

func (c sdkClients) regenerate(t *testing.T, ws, ep string, kt ml.KeyType, value *string) {
	t.Helper()
	p, err := c.ep.BeginRegenerateKeys(t.Context(), testRG, ws, ep, ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(kt), KeyValue: value}, nil)
	if err != nil {
		t.Fatalf("BeginRegenerateKeys(%s): %v", kt, err)
	}
	if _, err := p.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatalf("RegenerateKeys PollUntilDone(%s): %v", kt, err)
	}
}

// responseError returns err as an *azcore.ResponseError or fails.
func responseError(t *testing.T, err error) *azcore.ResponseError {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want an *azcore.ResponseError", err)
	}
	return re
}

// TestSDKOnlineEndpointLifecycle drives a real server with the official Go
// SDK over TLS: create, get, list with paging, update, keys, regenerate
// (each slot, verbatim and current-value keyValue), token, delete.
func TestSDKOnlineEndpointLifecycle(t *testing.T) {
	s := startServer(t, "")
	c := newSDK(t, s)
	ctx := t.Context()
	c.mustWorkspace(t, "ws1")

	created := c.mustEndpoint(t, "ws1", "ep-main", ml.EndpointAuthModeKey)
	if got := *created.Properties.ProvisioningState; got != ml.EndpointProvisioningStateSucceeded {
		t.Errorf("created provisioningState = %s, want Succeeded", got)
	}
	if created.Properties.Keys != nil {
		t.Errorf("created body carries keys; keys must come from listKeys only")
	}
	wantID := "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.MachineLearningServices/workspaces/ws1/onlineEndpoints/ep-main"
	if *created.ID != wantID || *created.Type != "Microsoft.MachineLearningServices/workspaces/onlineEndpoints" {
		t.Errorf("created id, type = %s, %s; want %s, Microsoft.MachineLearningServices/workspaces/onlineEndpoints", *created.ID, *created.Type, wantID)
	}

	got, err := c.ep.Get(ctx, testRG, "ws1", "EP-MAIN", nil) // names match case-insensitively
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if *got.Name != "ep-main" || *got.Properties.AuthMode != ml.EndpointAuthModeKey || *got.Properties.Description != "e2e" ||
		*got.Tags["stage"] != "test" || *got.SystemData.CreatedBy != "admin" {
		t.Errorf("Get() = name %s, authMode %s, description %v, tags %v, createdBy %v; want ep-main, Key, e2e, stage=test, admin",
			*got.Name, *got.Properties.AuthMode, got.Properties.Description, got.Tags, got.SystemData.CreatedBy)
	}

	// Paging: 5 endpoints, 2 a page → 3 pages, every name once.
	for i := range 4 {
		c.mustEndpoint(t, "ws1", fmt.Sprintf("ep-page-%d", i), ml.EndpointAuthModeKey)
	}
	pager := c.ep.NewListPager(testRG, "ws1", &ml.OnlineEndpointsClientListOptions{Count: to.Ptr[int32](2)})
	var names []string
	pages := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("NextPage: %v", err)
		}
		pages++
		for _, e := range page.Value {
			names = append(names, *e.Name)
		}
	}
	want := []string{"ep-main", "ep-page-0", "ep-page-1", "ep-page-2", "ep-page-3"}
	if pages != 3 || !slices.Equal(names, want) {
		t.Errorf("list pages = %d, names = %v; want 3 pages of %v", pages, names, want)
	}
	filtered := c.ep.NewListPager(testRG, "ws1", &ml.OnlineEndpointsClientListOptions{Name: to.Ptr("ep-page-2"), OrderBy: to.Ptr(ml.OrderStringCreatedAtDesc)})
	page, err := filtered.NextPage(ctx)
	if err != nil || len(page.Value) != 1 || *page.Value[0].Name != "ep-page-2" {
		t.Errorf("list name=ep-page-2 = %v, %v; want exactly ep-page-2", page.Value, err)
	}

	// Update tags (PATCH).
	up, err := c.ep.BeginUpdate(ctx, testRG, "ws1", "ep-main", ml.PartialMinimalTrackedResourceWithIdentity{Tags: map[string]*string{"stage": to.Ptr("prod")}}, nil)
	if err != nil {
		t.Fatalf("BeginUpdate: %v", err)
	}
	updated, err := up.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("Update PollUntilDone: %v", err)
	}
	if *updated.Tags["stage"] != "prod" {
		t.Errorf("updated tags = %v, want stage=prod", updated.Tags)
	}

	// Keys: each slot rotates alone.
	p0, s0 := c.keys(t, "ws1", "ep-main")
	if p0 == "" || s0 == "" || p0 == s0 {
		t.Fatalf("initial keys empty or equal")
	}
	c.regenerate(t, "ws1", "ep-main", ml.KeyTypePrimary, nil)
	p1, s1 := c.keys(t, "ws1", "ep-main")
	if p1 == p0 || s1 != s0 {
		t.Errorf("after regenerating Primary: primary changed = %v, secondary unchanged = %v; want true, true", p1 != p0, s1 == s0)
	}
	c.regenerate(t, "ws1", "ep-main", ml.KeyTypeSecondary, nil)
	p2, s2 := c.keys(t, "ws1", "ep-main")
	if p2 != p1 || s2 == s1 {
		t.Errorf("after regenerating Secondary: primary unchanged = %v, secondary changed = %v; want true, true", p2 == p1, s2 != s1)
	}
	chosen := "my-chosen-primary-key-0123456789"
	c.regenerate(t, "ws1", "ep-main", ml.KeyTypePrimary, to.Ptr(chosen))
	if p3, s3 := c.keys(t, "ws1", "ep-main"); p3 != chosen || s3 != s2 {
		t.Errorf("after keyValue=<new>: primary is the chosen value = %v, secondary unchanged = %v; want true, true", p3 == chosen, s3 == s2)
	}
	c.regenerate(t, "ws1", "ep-main", ml.KeyTypePrimary, to.Ptr(chosen)) // the current value: azure-ai-ml's way of asking for a fresh key
	if p4, _ := c.keys(t, "ws1", "ep-main"); p4 == chosen || len(p4) < 32 {
		t.Errorf("after keyValue=<current>: primary still the old value = %v, want a fresh random key", p4 == chosen)
	}

	// Bad keyType is refused with ARM's envelope.
	_, err = c.ep.BeginRegenerateKeys(ctx, testRG, "ws1", "ep-main", ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(ml.KeyType("Tertiary"))}, nil)
	if re := responseError(t, err); re.StatusCode != http.StatusBadRequest || re.ErrorCode != "BadArgument" {
		t.Errorf("regenerate Tertiary = %d %s, want 400 BadArgument", re.StatusCode, re.ErrorCode)
	}

	// Tokens: AMLToken endpoints only.
	c.mustEndpoint(t, "ws1", "ep-token", ml.EndpointAuthModeAMLToken)
	tok, err := c.ep.GetToken(ctx, testRG, "ws1", "ep-token", nil)
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	now := time.Now().Unix()
	if *tok.AccessToken == "" || *tok.TokenType != "Bearer" || *tok.ExpiryTimeUTC < now+3000 || *tok.RefreshAfterTimeUTC <= now || *tok.RefreshAfterTimeUTC >= *tok.ExpiryTimeUTC {
		t.Errorf("GetToken() = type %s, expiry %d, refresh %d (now %d); want Bearer, ~now+3600, between now and expiry",
			*tok.TokenType, *tok.ExpiryTimeUTC, *tok.RefreshAfterTimeUTC, now)
	}
	_, err = c.ep.GetToken(ctx, testRG, "ws1", "ep-main", nil)
	if re := responseError(t, err); re.StatusCode != http.StatusBadRequest {
		t.Errorf("GetToken(Key endpoint) status = %d, want 400", re.StatusCode)
	}
	_, err = c.ep.ListKeys(ctx, testRG, "ws1", "ep-token", nil)
	if re := responseError(t, err); re.StatusCode != http.StatusBadRequest {
		t.Errorf("ListKeys(AMLToken endpoint) status = %d, want 400", re.StatusCode)
	}

	// Delete, then 404.
	dp, err := c.ep.BeginDelete(ctx, testRG, "ws1", "ep-main", nil)
	if err != nil {
		t.Fatalf("BeginDelete: %v", err)
	}
	if _, err := dp.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("Delete PollUntilDone: %v", err)
	}
	_, err = c.ep.Get(ctx, testRG, "ws1", "ep-main", nil)
	if re := responseError(t, err); re.StatusCode != http.StatusNotFound || re.ErrorCode != "ResourceNotFound" {
		t.Errorf("Get(deleted) = %d %s, want 404 ResourceNotFound", re.StatusCode, re.ErrorCode)
	}
	_, err = c.ep.ListKeys(ctx, testRG, "ws1", "ep-main", nil)
	if re := responseError(t, err); re.StatusCode != http.StatusNotFound {
		t.Errorf("ListKeys(deleted) = %d, want 404", re.StatusCode)
	}

	// Deleting the workspace removes the rest.
	wp, err := c.ws.BeginDelete(ctx, testRG, "ws1", nil)
	if err != nil {
		t.Fatalf("Workspaces.BeginDelete: %v", err)
	}
	if _, err := wp.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("Workspace delete PollUntilDone: %v", err)
	}
	_, err = c.ep.Get(ctx, testRG, "ws1", "ep-token", nil)
	if re := responseError(t, err); re.StatusCode != http.StatusNotFound {
		t.Errorf("Get(endpoint of deleted workspace) = %d, want 404", re.StatusCode)
	}
}

// TestSDKOperationDelay checks the artificial operation duration: the
// poller waits for it, and the status URL says Updating meanwhile.
func TestSDKOperationDelay(t *testing.T) {
	s := startServer(t, "", "--operation-delay", "300ms")
	c := newSDK(t, s)
	c.mustWorkspace(t, "ws1")
	start := time.Now()
	c.mustEndpoint(t, "ws1", "ep-slow", ml.EndpointAuthModeKey)
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("create with a 300ms operation delay finished in %v", d)
	}
	p0, _ := c.keys(t, "ws1", "ep-slow")
	poller, err := c.ep.BeginRegenerateKeys(t.Context(), testRG, "ws1", "ep-slow", ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(ml.KeyTypePrimary)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The key changed when the 202 was sent, before the operation ends.
	if p1, _ := c.keys(t, "ws1", "ep-slow"); p1 == p0 {
		t.Errorf("primary key unchanged right after the 202; want the new key committed at acceptance")
	}
	if poller.Done() {
		t.Errorf("poller done right after the 202; want it running for the operation delay")
	}
	if _, err := poller.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
}

// TestSDKEndpointNameUniquePerServer: a second workspace cannot reuse a name.
func TestSDKEndpointNameUniquePerServer(t *testing.T) {
	s := startServer(t, "")
	c := newSDK(t, s)
	c.mustWorkspace(t, "ws-a")
	c.mustWorkspace(t, "ws-b")
	c.mustEndpoint(t, "ws-a", "taken", ml.EndpointAuthModeKey)
	_, err := c.ep.BeginCreateOrUpdate(t.Context(), testRG, "ws-b", "taken", ml.OnlineEndpoint{
		Location: to.Ptr("westeurope"), Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(ml.EndpointAuthModeKey)}}, nil)
	if re := responseError(t, err); re.StatusCode != http.StatusConflict {
		t.Errorf("create duplicate name = %d %s, want 409", re.StatusCode, re.ErrorCode)
	}
}
