package cli

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"
)

// rbacEnv is a server with a scoring upstream, an admin CLI, and helpers to
// make service principals and sign them in through azidentity.
type rbacEnv struct {
	t *testing.T
	s *testServer
}

func newRBACEnv(t *testing.T) *rbacEnv {
	t.Helper()
	return &rbacEnv{t: t, s: startIdentityServer(t)}
}

// cli runs the rekey CLI as the admin and returns its stdout.
func (e *rbacEnv) cli(args ...string) string {
	e.t.Helper()
	out, stderr, err := cli(e.t, envOf("REKEY_SERVER", e.s.URL, "REKEY_DATA", e.s.DataDir, "REKEY_SUBSCRIPTION", testSub, "REKEY_RESOURCE_GROUP", testRG), args...)
	if err != nil {
		e.t.Fatalf("rekey %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// sp creates a service principal and returns its appId and credential.
func (e *rbacEnv) sp(name string) (appID string, cred azcore.TokenCredential) {
	e.t.Helper()
	var c struct{ AppID, Password string }
	if err := json.Unmarshal([]byte(e.cli("sp", "create", "--name", name, "--output", "json")), &c); err != nil {
		e.t.Fatal(err)
	}
	cred, err := azidentity.NewClientSecretCredential(testTenant, c.AppID, c.Password, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.s.URL + "/"}, Transport: loopbackOnly{e.s.httpClient()}},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c.AppID, cred
}

// ml returns armmachinelearning clients signed in as cred.
func (e *rbacEnv) ml(cred azcore.TokenCredential) sdkClients {
	e.t.Helper()
	ws, err := ml.NewWorkspacesClient(testSub, cred, e.s.armOptions())
	if err != nil {
		e.t.Fatal(err)
	}
	ep, err := ml.NewOnlineEndpointsClient(testSub, cred, e.s.armOptions())
	if err != nil {
		e.t.Fatal(err)
	}
	return sdkClients{ws, ep}
}

// wantForbidden checks err is ARM's 403 AuthorizationFailed for action.
func wantForbidden(t *testing.T, what string, err error, action string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 403 || re.ErrorCode != "AuthorizationFailed" || !strings.Contains(err.Error(), "'"+action+"'") {
		t.Errorf("%s: err = %v, want 403 AuthorizationFailed for %s", what, err, action)
	}
}

const (
	mlNS            = "Microsoft.MachineLearningServices/workspaces/"
	actListKeys     = mlNS + "onlineEndpoints/listKeys/action"
	actRegenerate   = mlNS + "onlineEndpoints/regenerateKeys/action"
	actEndpointRead = mlNS + "onlineEndpoints/read"
)

// assignRole assigns a role with "rekey role assignment create", as the
// admin.
func assignRole(t testing.TB, s *testServer, assignee, role, scope string) {
	t.Helper()
	var out, stderr strings.Builder
	err := run(t.Context(), []string{"role", "assignment", "create", "--assignee", assignee, "--role", role, "--scope", scope},
		envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir), nil, &out, &stderr)
	if err != nil {
		t.Fatalf("rekey role assignment create --role %s: %v\n%s", role, err, stderr.String())
	}
}

func rgScope(rg string) string { return "/subscriptions/" + testSub + "/resourceGroups/" + rg }

// TestRBACReader: a Reader sees endpoints but not their keys, and cannot
// rotate them; before its assignment it could do nothing, and the 403
// said why.
func TestRBACReader(t *testing.T) {
	e := newRBACEnv(t)
	admin := newSDK(t, e.s)
	admin.mustWorkspace(t, "ws1")
	admin.mustEndpoint(t, "ws1", "rbac-reader-ep", ml.EndpointAuthModeKey)
	appID, cred := e.sp("reader")
	c := e.ml(cred)

	_, err := c.ep.Get(t.Context(), testRG, "ws1", "rbac-reader-ep", nil)
	wantForbidden(t, "GET before any assignment", err, actEndpointRead)
	if err == nil || !strings.Contains(err.Error(), "no role assignments") {
		t.Errorf("a principal without assignments is not told it needs one: %v", err)
	}

	e.cli("role", "assignment", "create", "--assignee", appID, "--role", "Reader", "--scope", rgScope(testRG))
	// --at-scope with --assignee sends ARM's atScope() and assignedTo().
	if out := e.cli("role", "assignment", "list", "--assignee", appID, "--at-scope", "--scope", rgScope(testRG)); !strings.Contains(out, "Reader") {
		t.Errorf("role assignment list --assignee --at-scope = %q, want the Reader assignment", out)
	}
	if _, err := c.ep.Get(t.Context(), testRG, "ws1", "rbac-reader-ep", nil); err != nil {
		t.Errorf("Reader GET endpoint: %v", err)
	}
	pager := c.ep.NewListPager(testRG, "ws1", nil)
	if page, err := pager.NextPage(t.Context()); err != nil || len(page.Value) != 1 {
		t.Errorf("Reader list endpoints: %d, %v", len(page.Value), err)
	}
	_, err = c.ep.ListKeys(t.Context(), testRG, "ws1", "rbac-reader-ep", nil)
	wantForbidden(t, "Reader listKeys", err, actListKeys)
	_, err = c.ep.BeginRegenerateKeys(t.Context(), testRG, "ws1", "rbac-reader-ep", ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(ml.KeyTypePrimary)}, nil)
	wantForbidden(t, "Reader regenerateKeys", err, actRegenerate)
	if err != nil && strings.Contains(err.Error(), "no role assignments") {
		t.Errorf("a principal with an assignment is told it has none: %v", err)
	}
}

// TestRBACDataScientist: AzureML Data Scientist scores an AADToken
// endpoint and regenerates keys, but cannot create or delete a workspace.
func TestRBACDataScientist(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok":true}`) }))
	defer up.Close()
	e := newRBACEnv(t)
	admin := newSDK(t, e.s)
	admin.mustWorkspace(t, "ws1")
	admin.mustEndpoint(t, "ws1", "rbac-ds-keyed", ml.EndpointAuthModeKey)
	admin.mustEndpoint(t, "ws1", "rbac-ds-aad", ml.EndpointAuthModeAADToken)
	e.cli("deployment", "create", "--workspace", "ws1", "--endpoint", "rbac-ds-aad", "--name", "blue", "--upstream", up.URL)
	e.cli("endpoint", "traffic", "--workspace", "ws1", "--name", "rbac-ds-aad", "--set", "blue=100")
	appID, cred := e.sp("scientist")
	c := e.ml(cred)

	score := func() (int, string) {
		t.Helper()
		tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://ml.azure.com/.default"}})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", e.s.Gateway+"/endpoints/rbac-ds-aad/score", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := score(); code != 403 || !strings.Contains(body, "onlineEndpoints/score/action") {
		t.Errorf("scoring without a role = %d %s, want 403 naming score/action", code, body)
	}
	e.cli("role", "assignment", "create", "--assignee", appID, "--role", "AzureML Data Scientist", "--scope", "/subscriptions/"+testSub)
	if code, body := score(); code != 200 || !strings.Contains(body, `"ok":true`) {
		t.Errorf("AzureML Data Scientist scoring = %d %s, want 200 from the upstream", code, body)
	}
	before, _ := admin.keys(t, "ws1", "rbac-ds-keyed")
	c.regenerate(t, "ws1", "rbac-ds-keyed", ml.KeyTypePrimary, nil)
	if after, _ := admin.keys(t, "ws1", "rbac-ds-keyed"); after == before {
		t.Error("the data scientist's regenerateKeys did not change the primary key")
	}
	_, err := c.ws.BeginCreateOrUpdate(t.Context(), testRG, "ws-new", ml.Workspace{Location: to.Ptr("westeurope")}, nil)
	wantForbidden(t, "Data Scientist create workspace", err, mlNS[:len(mlNS)-1]+"/write")
	_, err = c.ws.BeginDelete(t.Context(), testRG, "ws1", nil)
	wantForbidden(t, "Data Scientist delete workspace", err, mlNS[:len(mlNS)-1]+"/delete")
}

// TestRBACKeyRotator: a custom role with only regenerateKeys/action and
// read can rotate and nothing more; an assignment at one resource group
// covers its endpoints only; removing it applies to the next request.
func TestRBACKeyRotator(t *testing.T) {
	e := newRBACEnv(t)
	admin := newSDK(t, e.s)
	admin.mustWorkspace(t, "ws1")
	admin.mustEndpoint(t, "ws1", "rbac-rot-ep", ml.EndpointAuthModeKey)
	// The same names in another resource group.
	other := e.ml(staticToken(e.s.Token))
	if p, err := other.ws.BeginCreateOrUpdate(t.Context(), "rg-other", "ws2", ml.Workspace{Location: to.Ptr("westeurope")}, nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if p, err := other.ep.BeginCreateOrUpdate(t.Context(), "rg-other", "ws2", "rbac-rot-other", ml.OnlineEndpoint{Location: to.Ptr("westeurope"),
		Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(ml.EndpointAuthModeKey)}}, nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatal(err)
	}

	// The custom role, through armauthorization as an IaC tool would.
	defs, err := armauthorization.NewRoleDefinitionsClient(staticToken(e.s.Token), e.s.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	const rotatorID = "4f2a1c9e-7b3d-4e5f-8a6b-1c2d3e4f5a6b"
	created, err := defs.CreateOrUpdate(t.Context(), "/subscriptions/"+testSub, rotatorID, armauthorization.RoleDefinition{Properties: &armauthorization.RoleDefinitionProperties{
		RoleName: to.Ptr("Key Rotator"), Description: to.Ptr("rotates endpoint keys, nothing more"), RoleType: to.Ptr("CustomRole"),
		AssignableScopes: []*string{to.Ptr("/subscriptions/" + testSub)},
		Permissions:      []*armauthorization.Permission{{Actions: []*string{to.Ptr(actRegenerate), to.Ptr(actEndpointRead)}}},
	}}, nil)
	if err != nil {
		t.Fatalf("create the Key Rotator role: %v", err)
	}
	if created.Properties == nil || *created.Properties.RoleType != "CustomRole" || *created.Name != rotatorID {
		t.Errorf("created role = %+v", created.Properties)
	}

	appID, cred := e.sp("rotator")
	e.cli("role", "assignment", "create", "--assignee", appID, "--role", "Key Rotator", "--scope", rgScope(testRG))
	c := e.ml(cred)
	before, _ := admin.keys(t, "ws1", "rbac-rot-ep")
	c.regenerate(t, "ws1", "rbac-rot-ep", ml.KeyTypePrimary, nil)
	if after, _ := admin.keys(t, "ws1", "rbac-rot-ep"); after == before {
		t.Error("the Key Rotator's regenerateKeys did not change the primary key")
	}
	if _, err := c.ep.Get(t.Context(), testRG, "ws1", "rbac-rot-ep", nil); err != nil {
		t.Errorf("Key Rotator read: %v", err)
	}
	_, err = c.ep.ListKeys(t.Context(), testRG, "ws1", "rbac-rot-ep", nil)
	wantForbidden(t, "Key Rotator listKeys", err, actListKeys)
	_, err = c.ep.BeginDelete(t.Context(), testRG, "ws1", "rbac-rot-ep", nil)
	wantForbidden(t, "Key Rotator delete", err, mlNS+"onlineEndpoints/delete")
	_, err = c.ws.Get(t.Context(), testRG, "ws1", nil)
	wantForbidden(t, "Key Rotator workspace read", err, mlNS[:len(mlNS)-1]+"/read")
	// The other resource group is out of scope.
	_, err = c.ep.Get(t.Context(), "rg-other", "ws2", "rbac-rot-other", nil)
	wantForbidden(t, "endpoint in another resource group", err, actEndpointRead)
	_, err = c.ep.BeginRegenerateKeys(t.Context(), "rg-other", "ws2", "rbac-rot-other", ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(ml.KeyTypePrimary)}, nil)
	wantForbidden(t, "rotate in another resource group", err, actRegenerate)

	// A role in use cannot be deleted.
	_, err = defs.Delete(t.Context(), "/subscriptions/"+testSub, rotatorID, nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 409 || re.ErrorCode != "RoleDefinitionHasAssignments" {
		t.Errorf("deleting a role in use = %v, want 409 RoleDefinitionHasAssignments", err)
	}

	// Removing the assignment applies to the very next request.
	e.cli("role", "assignment", "delete", "--assignee", appID, "--role", "Key Rotator")
	_, err = c.ep.Get(t.Context(), testRG, "ws1", "rbac-rot-ep", nil)
	wantForbidden(t, "read after the assignment was removed", err, actEndpointRead)
}

// TestRBACArmAuthorization: armauthorization creates, gets, lists (with
// ARM's filters) and deletes role assignments; bad input gets ARM's
// envelopes.
func TestRBACArmAuthorization(t *testing.T) {
	e := newRBACEnv(t)
	admin := newSDK(t, e.s)
	admin.mustWorkspace(t, "ws1")
	admin.mustEndpoint(t, "ws1", "rbac-az-ep", ml.EndpointAuthModeKey)
	_, _ = e.sp("target")
	var sps []spRow
	c, _ := (&clientFlags{server: e.s.URL, dataDir: e.s.DataDir, output: "table"}).client()
	sps, err := servicePrincipals(t.Context(), c)
	if err != nil || len(sps) < 2 {
		t.Fatalf("service principals: %v", err)
	}
	oid := sps[len(sps)-1].ID
	ra, err := armauthorization.NewRoleAssignmentsClient(testSub, staticToken(e.s.Token), e.s.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	const readerDef = "/subscriptions/" + testSub + "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
	epScope := rgScope(testRG) + "/providers/Microsoft.MachineLearningServices/workspaces/ws1/onlineEndpoints/rbac-az-ep"
	params := func(def string) armauthorization.RoleAssignmentCreateParameters {
		return armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr(def), PrincipalID: to.Ptr(oid), PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}}
	}
	const name1, name2 = "0b6f2a3c-1d4e-4f5a-9b8c-7d6e5f4a3b2c", "1c7f3b4d-2e5f-4a6b-8c9d-8e7f6a5b4c3d"
	got, err := ra.Create(t.Context(), rgScope(testRG), name1, params(readerDef), nil)
	if err != nil {
		t.Fatalf("Create at the resource group: %v", err)
	}
	if *got.Name != name1 || !strings.EqualFold(*got.Properties.Scope, rgScope(testRG)) || *got.Properties.PrincipalID != oid {
		t.Errorf("created = %+v", got.Properties)
	}
	if _, err := ra.Create(t.Context(), epScope, name2, params(readerDef), nil); err != nil {
		t.Fatalf("Create at the endpoint: %v", err)
	}
	byID, err := ra.GetByID(t.Context(), *got.ID, nil)
	if err != nil || *byID.Name != name1 {
		t.Errorf("GetByID(%s) = %v", *got.ID, err)
	}
	list := func(scope, filter string) []string {
		t.Helper()
		var names []string
		opts := &armauthorization.RoleAssignmentsClientListForScopeOptions{}
		if filter != "" {
			// armauthorization sends $filter as given: the caller escapes it.
			opts.Filter = to.Ptr(url.QueryEscape(filter))
		}
		p := ra.NewListForScopePager(scope, opts)
		for p.More() {
			page, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatalf("ListForScope(%s, %q): %v", scope, filter, err)
			}
			for _, v := range page.Value {
				names = append(names, *v.Name)
			}
		}
		return names
	}
	if got := list(rgScope(testRG), ""); len(got) != 2 {
		t.Errorf("list at the group, no filter (at, above, below) = %v, want both", got)
	}
	if got := list(rgScope(testRG), "atScope()"); len(got) != 1 || got[0] != name1 {
		t.Errorf("list at the group, atScope() = %v, want %s", got, name1)
	}
	if got := list(epScope, "atScope()"); len(got) != 2 {
		t.Errorf("list at the endpoint, atScope() (at and above) = %v, want both", got)
	}
	if got := list("/subscriptions/"+testSub, "principalId eq '"+oid+"'"); len(got) != 2 {
		t.Errorf("list by principal = %v, want both", got)
	}
	if got := list("/subscriptions/"+testSub, "principalId eq '00000000-0000-4000-8000-000000000000'"); len(got) != 0 {
		t.Errorf("list by another principal = %v, want none", got)
	}

	var re *azcore.ResponseError
	wantCode := func(what string, err error, status int, code string) {
		t.Helper()
		if !errors.As(err, &re) || re.StatusCode != status || re.ErrorCode != code {
			t.Errorf("%s: %v, want %d %s", what, err, status, code)
		}
	}
	if again, err := ra.Create(t.Context(), rgScope(testRG), name1, params(readerDef), nil); err != nil || *again.Name != name1 {
		t.Errorf("the same assignment PUT again (as IaC tools re-apply it) = %v, want 201 with it", err)
	}
	_, err = ra.Create(t.Context(), rgScope(testRG), name1, params("/subscriptions/"+testSub+"/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"), nil)
	wantCode("duplicate name, other role", err, 409, "RoleAssignmentExists")
	_, err = ra.Create(t.Context(), rgScope(testRG), "2d8a4c5e-3f6a-4b7c-9dae-9f8a7b6c5d4e", params(readerDef), nil)
	wantCode("same principal, role and scope", err, 409, "RoleAssignmentExists")
	_, err = ra.Create(t.Context(), rgScope(testRG), "3e9b5d6f-4a7b-4c8d-8ebf-af9b8c7d6e5f", params("/subscriptions/"+testSub+"/providers/Microsoft.Authorization/roleDefinitions/9e9b5d6f-4a7b-4c8d-8ebf-af9b8c7d6e5f"), nil)
	wantCode("unknown role", err, 400, "RoleDefinitionDoesNotExist")
	bad := params(readerDef)
	bad.Properties.PrincipalID = to.Ptr("5e9b5d6f-4a7b-4c8d-8ebf-af9b8c7d6e5f")
	_, err = ra.Create(t.Context(), rgScope(testRG), "4e9b5d6f-4a7b-4c8d-8ebf-af9b8c7d6e5f", bad, nil)
	wantCode("unknown principal", err, 400, "PrincipalNotFound")
	_, err = ra.Create(t.Context(), rgScope(testRG)+"/providers/Microsoft.MachineLearningServices/workspaces/nope", "6e9b5d6f-4a7b-4c8d-8ebf-af9b8c7d6e5f", params(readerDef), nil)
	wantCode("scope of no resource", err, 404, "ResourceNotFound")
	_, err = ra.Create(t.Context(), "/subscriptions/"+testSub+"/things/x", "7e9b5d6f-4a7b-4c8d-8ebf-af9b8c7d6e5f", params(readerDef), nil)
	wantCode("malformed scope", err, 400, "InvalidScope")
	_, err = ra.Create(t.Context(), rgScope(testRG), "not-a-guid", params(readerDef), nil)
	wantCode("name not a GUID", err, 400, "InvalidRoleAssignmentId")
	p := ra.NewListForScopePager(rgScope(testRG), &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: to.Ptr(url.QueryEscape("displayName eq 'x'"))})
	_, err = p.NextPage(t.Context())
	wantCode("unsupported filter", err, 400, "UnsupportedQuery")

	if _, err := ra.DeleteByID(t.Context(), *got.ID, nil); err != nil {
		t.Errorf("DeleteByID: %v", err)
	}
	if got := list(rgScope(testRG), ""); len(got) != 1 || got[0] != name2 {
		t.Errorf("after delete: %v, want only %s", got, name2)
	}

	// Deleting the principal removes its assignments.
	e.cli("sp", "delete", "--id", sps[len(sps)-1].AppID)
	if got := list("/", ""); len(got) != 0 {
		t.Errorf("after deleting the principal: %v, want no assignments", got)
	}
}
