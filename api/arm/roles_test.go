package arm_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/arm"
	"github.com/rekey-dev/rekey/authz"
)

const (
	spToken  = "test-sp-token-0123456789"
	spAppID  = "5a5a5a5a-0000-4000-8000-00000000000a"
	spObject = "5a5a5a5a-0000-4000-8000-0000000000aa"
	otherTok = "test-other-token-0123456789"
	otherObj = "6b6b6b6b-0000-4000-8000-0000000000bb"
)

// principals authenticates the admin and two service principals.
type principals struct{}

func (principals) Authenticate(_ context.Context, tok string) (rekey.Principal, error) {
	switch tok {
	case token:
		return rekey.Principal{ID: "admin", Name: "admin", Type: "Application"}, nil
	case spToken:
		return rekey.Principal{ID: spObject, Name: spAppID, Type: "Application"}, nil
	case otherTok:
		return rekey.Principal{ID: otherObj, Name: "6b6b6b6b-0000-4000-8000-00000000000b", Type: "Application"}, nil
	}
	return rekey.Principal{}, rekey.Errorf(rekey.Unauthorized, "bad token")
}

// newRolesEnv is an ARM API that enforces roles, with the service
// principal spAppID registered.
func newRolesEnv(t testing.TB) *env {
	t.Helper()
	e := newEnv(t, func(c *arm.Config) {
		a := &authz.Authorizer{Store: c.Store, Admin: "admin"}
		c.Store.Watch(a.Invalidate)
		c.Authz, c.Auth = a, principals{}
	})
	err := e.store.Update(t.Context(), func(tx rekey.Tx) error {
		for _, sp := range []*rekey.ServicePrincipal{{AppID: spAppID, ObjectID: spObject, DisplayName: "ci"},
			{AppID: "6b6b6b6b-0000-4000-8000-00000000000b", ObjectID: otherObj, DisplayName: "other"}} {
			if _, err := tx.PutServicePrincipal(sp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

const authzAV = "?api-version=2022-04-01"

func authzPath(scope, kind, name string) string {
	p := strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/" + kind
	if name != "" {
		p += "/" + name
	}
	return p + authzAV
}

func (e *env) assign(name, scope, roleID, principal string) {
	e.t.Helper()
	e.must(http.StatusCreated, "PUT", authzPath(scope, "roleAssignments", name), `{"properties":{"roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/`+roleID+`","principalId":"`+principal+`","principalType":"ServicePrincipal"}}`)
}

// TestGoldenForbidden pins ARM's 403 envelope, word for word, and the
// sentence added for a principal that holds no role assignment.
func TestGoldenForbidden(t *testing.T) {
	e := newRolesEnv(t)
	e.workspace("ws1")
	e.endpoint("ws1", "ep1", "Key")
	ep := base + "/workspaces/ws1/onlineEndpoints/ep1"
	resp, body := e.must(http.StatusForbidden, "POST", ep+"/listKeys"+av, "", "Authorization", "Bearer "+spToken)
	golden(t, "forbidden_unassigned", resp, body)
	e.assign("7c7c7c7c-0000-4000-8000-000000000001", "/subscriptions/"+sub, authz.ReaderID, spObject)
	resp, body = e.must(http.StatusForbidden, "POST", ep+"/listKeys"+av, "", "Authorization", "Bearer "+spToken)
	golden(t, "forbidden", resp, body)
	want := `{"error":{"code":"AuthorizationFailed","message":"The client '` + spAppID + `' with object id '` + spObject +
		`' does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys/action' over scope '/subscriptions/` + sub +
		`/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1/onlineEndpoints/ep1' or the scope is invalid. If access was recently granted, please refresh your credentials."}}`
	if got := strings.TrimSpace(string(body)); got != want {
		t.Errorf("403 body =\n%s\nwant\n%s", got, want)
	}
	e.must(http.StatusOK, "GET", ep+av, "", "Authorization", "Bearer "+spToken)
}

// TestGoldenRoleDefinitions pins the built-in roles as the API shows
// them, and checks their ids are Azure's.
func TestGoldenRoleDefinitions(t *testing.T) {
	e := newRolesEnv(t)
	resp, body := e.must(http.StatusOK, "GET", authzPath("/subscriptions/"+sub, "roleDefinitions", ""), "")
	golden(t, "role_definitions", resp, body)
	var page struct {
		Value []struct {
			Name       string
			Properties struct{ RoleName string }
		}
	}
	json.Unmarshal(body, &page)
	want := map[string]string{
		"Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
		"Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7", "AzureML Data Scientist": "f6c7c914-8db3-469d-8ca1-694a8f32e121",
		"Cognitive Services Contributor": "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68", "Cognitive Services User": "a97b65f3-24c7-4388-baec-2e87135dc908",
	}
	if len(page.Value) != len(want) {
		t.Errorf("%d role definitions, want %d", len(page.Value), len(want))
	}
	for _, d := range page.Value {
		if want[d.Properties.RoleName] != d.Name {
			t.Errorf("role %q has id %s, want %s", d.Properties.RoleName, d.Name, want[d.Properties.RoleName])
		}
	}
	_, body = e.must(http.StatusOK, "GET", authzPath("/", "roleDefinitions", "")+"&$filter="+strings.ReplaceAll("roleName eq 'AzureML Data Scientist'", " ", "%20"), "")
	if json.Unmarshal(body, &page); len(page.Value) != 1 || page.Value[0].Name != authz.AzureMLDataScientistID {
		t.Errorf("filter by roleName = %s", body)
	}

	// A custom role: PUT answers 201 for create and for update.
	const id = "8d8d8d8d-0000-4000-8000-000000000001"
	role := `{"properties":{"roleName":"Key Rotator","type":"CustomRole","assignableScopes":["/subscriptions/` + sub + `"],
		"permissions":[{"actions":["Microsoft.MachineLearningServices/workspaces/onlineEndpoints/regenerateKeys/action","Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read"]}]}}`
	resp, body = e.must(http.StatusCreated, "PUT", authzPath("/subscriptions/"+sub, "roleDefinitions", id), role)
	golden(t, "role_definition_put", resp, body)
	e.must(http.StatusCreated, "PUT", authzPath("/subscriptions/"+sub, "roleDefinitions", id), strings.Replace(role, `"type"`, `"description":"v2","type"`, 1))
	_, body = e.must(http.StatusOK, "GET", authzPath("/subscriptions/"+sub, "roleDefinitions", id), "")
	if !strings.Contains(string(body), `"description":"v2"`) || !strings.Contains(string(body), `"type":"CustomRole"`) {
		t.Errorf("GET after update = %s", body)
	}
}

// TestRolesBadInput: ARM's envelopes for mistakes in role requests.
func TestRolesBadInput(t *testing.T) {
	e := newRolesEnv(t)
	subScope := "/subscriptions/" + sub
	const def = "9e9e9e9e-0000-4000-8000-000000000001"
	customRole := func(actions string) string {
		return `{"properties":{"roleName":"R","assignableScopes":["` + subScope + `"],"permissions":[{"actions":[` + actions + `]}]}}`
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown action", "PUT", authzPath(subScope, "roleDefinitions", def), customRole(`"Microsoft.MachineLearningServices/workspaces/onlineEndpoints/rotate/action"`), 400, "InvalidActionOrNotAction"},
		{"malformed action", "PUT", authzPath(subScope, "roleDefinitions", def), customRole(`"read"`), 400, "InvalidActionOrNotAction"},
		{"no actions", "PUT", authzPath(subScope, "roleDefinitions", def), customRole(``), 400, "InvalidRoleDefinition"},
		{"built-in role", "PUT", authzPath(subScope, "roleDefinitions", authz.ReaderID), customRole(`"*/read"`), 400, "CannotModifyBuiltInRole"},
		{"built-in name", "PUT", authzPath(subScope, "roleDefinitions", def), strings.Replace(customRole(`"*/read"`), `"R"`, `"reader"`, 1), 409, "RoleDefinitionWithSameNameExists"},
		{"definition name not a GUID", "GET", authzPath(subScope, "roleDefinitions", "reader"), "", 400, "InvalidRoleDefinitionId"},
		{"unknown definition", "GET", authzPath(subScope, "roleDefinitions", def), "", 404, "RoleDefinitionDoesNotExist"},
		{"definition filter", "GET", authzPath(subScope, "roleDefinitions", "") + "&$filter=foo", "", 400, "UnsupportedQuery"},
		{"assignment filter", "GET", authzPath(subScope, "roleAssignments", "") + "&$filter=principalId%20eq%20x", "", 400, "UnsupportedQuery"},
		{"malformed scope", "GET", authzPath("/subscriptions/"+sub+"/resourceGroups", "roleAssignments", ""), "", 400, "InvalidScope"},
		{"bad subscription", "GET", authzPath("/subscriptions/nope", "roleAssignments", ""), "", 400, "InvalidSubscriptionId"},
		{"no body", "PUT", authzPath(subScope, "roleAssignments", def), `{}`, 400, "InvalidRequestContent"},
		{"unknown principal", "PUT", authzPath(subScope, "roleAssignments", def), `{"properties":{"roleDefinitionId":"` + authz.ReaderID + `","principalId":"` + def + `"}}`, 400, "PrincipalNotFound"},
		{"principal type mismatch", "PUT", authzPath(subScope, "roleAssignments", def), `{"properties":{"roleDefinitionId":"` + authz.ReaderID + `","principalId":"` + spObject + `","principalType":"User"}}`, 400, "UnmatchedPrincipalType"},
		{"unknown principal with a type", "PUT", authzPath(subScope, "roleAssignments", def), `{"properties":{"roleDefinitionId":"` + authz.ReaderID + `","principalId":"` + def + `","principalType":"User"}}`, 400, "PrincipalNotFound"},
		{"unknown role", "PUT", authzPath(subScope, "roleAssignments", def), `{"properties":{"roleDefinitionId":"` + def + `","principalId":"` + spObject + `"}}`, 400, "RoleDefinitionDoesNotExist"},
		{"no such resource", "PUT", authzPath(subScope+"/resourceGroups/rg1/providers/Microsoft.CognitiveServices/accounts/nope", "roleAssignments", def), `{"properties":{"roleDefinitionId":"` + authz.ReaderID + `","principalId":"` + spObject + `"}}`, 404, "ResourceNotFound"},
		{"assignment not found", "GET", authzPath(subScope, "roleAssignments", def), "", 404, "RoleAssignmentNotFound"},
		{"collection PUT", "PUT", authzPath(subScope, "roleAssignments", ""), `{}`, 405, "MethodNotAllowed"},
		{"missing api-version", "GET", strings.TrimSuffix(authzPath(subScope, "roleAssignments", ""), authzAV), "", 400, "MissingApiVersionParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.must(tt.status, tt.method, tt.path, tt.body)
			var env struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &env); err != nil || env.Error.Code != tt.code || env.Error.Message == "" {
				t.Errorf("%s %s = %d %s, want code %s", tt.method, tt.path, resp.StatusCode, body, tt.code)
			}
		})
	}
	// A duplicate name is a conflict, and nothing was written by any of the above.
	e.assign("9e9e9e9e-0000-4000-8000-000000000002", subScope, authz.ReaderID, spObject)
	e.must(http.StatusConflict, "PUT", authzPath(subScope, "roleAssignments", "9e9e9e9e-0000-4000-8000-000000000002"), `{"properties":{"roleDefinitionId":"`+authz.ContributorID+`","principalId":"`+spObject+`"}}`)
	_, body := e.must(http.StatusOK, "GET", authzPath("/", "roleAssignments", ""), "")
	if n := strings.Count(string(body), `"type":"Microsoft.Authorization/roleAssignments"`); n != 1 {
		t.Errorf("%d assignments after the bad requests, want 1: %s", n, body)
	}
}

// TestFollowOwnOperation: a principal may follow the status and result
// URLs of an operation it started, though its role does not cover the
// subscription they live under; another principal may not.
func TestFollowOwnOperation(t *testing.T) {
	e := newRolesEnv(t)
	e.workspace("ws1")
	e.endpoint("ws1", "ep1", "Key")
	ep := base + "/workspaces/ws1/onlineEndpoints/ep1"
	const rotator = "aaaaaaaa-0000-4000-8000-000000000001"
	e.must(http.StatusCreated, "PUT", authzPath("/subscriptions/"+sub, "roleDefinitions", rotator), `{"properties":{"roleName":"Key Rotator","assignableScopes":["/subscriptions/`+sub+`"],
		"permissions":[{"actions":["Microsoft.MachineLearningServices/workspaces/onlineEndpoints/regenerateKeys/action"]}]}}`)
	e.assign("aaaaaaaa-0000-4000-8000-000000000002", "/subscriptions/"+sub+"/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1/onlineEndpoints/ep1", rotator, spObject)
	e.assign("aaaaaaaa-0000-4000-8000-000000000003", "/subscriptions/"+sub+"/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1/onlineEndpoints/ep1", rotator, otherObj)
	resp, _ := e.must(http.StatusAccepted, "POST", ep+"/regenerateKeys"+av, `{"keyType":"Primary"}`, "Authorization", "Bearer "+spToken)
	status := strings.TrimPrefix(resp.Header.Get("Azure-AsyncOperation"), e.srv.URL)
	result := strings.TrimPrefix(resp.Header.Get("Location"), e.srv.URL)
	e.must(http.StatusOK, "GET", status, "", "Authorization", "Bearer "+spToken)
	e.waitOp(status)
	e.must(http.StatusOK, "GET", result, "", "Authorization", "Bearer "+spToken)
	e.must(http.StatusForbidden, "GET", status, "", "Authorization", "Bearer "+otherTok)
	e.must(http.StatusForbidden, "GET", result, "", "Authorization", "Bearer "+otherTok)
}

// TestRoleAssignmentNameReuse: role assignments are never updated. A PUT
// that reuses an existing assignment's name for another principal or
// scope is ARM's 400 RoleAssignmentUpdateNotPermitted (as Bicep and
// Terraform users meet it in Azure), not a 409; the same name with another
// role, or the same principal, role and scope under a new name, is 409
// RoleAssignmentExists. Nothing is written by any of them.
func TestRoleAssignmentNameReuse(t *testing.T) {
	e := newRolesEnv(t)
	subScope := "/subscriptions/" + sub
	rgScope := subScope + "/resourceGroups/rg1"
	const name = "9e9e9e9e-0000-4000-8000-000000000010"
	e.assign(name, subScope, authz.ReaderID, spObject)
	body := func(role, principal string) string {
		return `{"properties":{"roleDefinitionId":"` + role + `","principalId":"` + principal + `"}}`
	}
	tests := []struct {
		name, scope, assignment, body string
		status                        int
		code                          string
	}{
		{"other principal", subScope, name, body(authz.ReaderID, otherObj), 400, "RoleAssignmentUpdateNotPermitted"},
		{"other scope", rgScope, name, body(authz.ReaderID, spObject), 400, "RoleAssignmentUpdateNotPermitted"},
		{"other role", subScope, name, body(authz.ContributorID, spObject), 409, "RoleAssignmentExists"},
		{"same assignment, new name", subScope, "9e9e9e9e-0000-4000-8000-000000000011", body(authz.ReaderID, spObject), 409, "RoleAssignmentExists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, got := e.must(tt.status, "PUT", authzPath(tt.scope, "roleAssignments", tt.assignment), tt.body)
			var env struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(got, &env); err != nil || env.Error.Code != tt.code || env.Error.Message == "" {
				t.Errorf("PUT = %d %s, want %d %s", resp.StatusCode, got, tt.status, tt.code)
			}
		})
	}
	_, list := e.must(http.StatusOK, "GET", authzPath("/", "roleAssignments", ""), "")
	if n := strings.Count(string(list), `"type":"Microsoft.Authorization/roleAssignments"`); n != 1 {
		t.Errorf("%d assignments after the refused PUTs, want 1: %s", n, list)
	}
}

// TestAuthorizationAPIVersions: every published api-version that defines
// roleAssignments or roleDefinitions is served, including the previews
// Bicep and ARM templates still name (roleAssignments@2020-03-01-preview
// is common in published templates); an unknown one is ARM's error.
func TestAuthorizationAPIVersions(t *testing.T) {
	e := newRolesEnv(t)
	subScope := "/subscriptions/" + sub
	with := func(path, version string) string { return strings.Replace(path, authzAV, "?api-version="+version, 1) }
	for i, v := range []string{"2015-07-01", "2017-10-01-preview", "2018-01-01-preview", "2018-09-01-preview", "2020-03-01-preview",
		"2020-04-01-preview", "2020-08-01-preview", "2020-10-01-preview", "2022-01-01-preview", "2022-04-01"} {
		name := "9e9e9e9e-0000-4000-8000-0000000001" + string(rune('0'+i/10)) + string(rune('0'+i%10))
		role := []string{authz.ReaderID, authz.ContributorID, authz.OwnerID}[i%3]
		principal := []string{spObject, otherObj}[i/3%2]
		scope := subScope + "/resourceGroups/rg" + string(rune('a'+i))
		e.must(http.StatusCreated, "PUT", with(authzPath(scope, "roleAssignments", name), v),
			`{"properties":{"roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/`+role+`","principalId":"`+principal+`"}}`)
		e.must(http.StatusOK, "GET", with(authzPath(scope, "roleAssignments", name), v), "")
	}
	for _, v := range []string{"2015-07-01", "2017-10-01-preview", "2018-01-01-preview", "2022-04-01", "2022-05-01-preview"} {
		e.must(http.StatusOK, "GET", with(authzPath(subScope, "roleDefinitions", authz.ReaderID), v), "")
	}
	e.must(http.StatusBadRequest, "GET", with(authzPath(subScope, "roleDefinitions", authz.ReaderID), "2019-01-01"), "")
}

// TestForbiddenAuthorizationScope: a refused Microsoft.Authorization
// request names the scope as ARM does in its 403: the assignment's or
// definition's id for one of them, "{scope}/providers/Microsoft.Authorization"
// for a list (both as recorded in real AuthorizationFailed messages).
func TestForbiddenAuthorizationScope(t *testing.T) {
	e := newRolesEnv(t)
	rg := "/subscriptions/" + sub + "/resourceGroups/rg1"
	e.assign("7c7c7c7c-0000-4000-8000-000000000002", "/subscriptions/"+sub, authz.ReaderID, spObject)
	const name = "7c7c7c7c-0000-4000-8000-000000000003"
	tests := []struct {
		what, token, method, path, body, action, scope string
	}{
		{"assignment PUT", spToken, "PUT", authzPath(rg, "roleAssignments", name),
			`{"properties":{"roleDefinitionId":"` + authz.ReaderID + `","principalId":"` + otherObj + `"}}`,
			"Microsoft.Authorization/roleAssignments/write", rg + "/providers/Microsoft.Authorization/roleAssignments/" + name},
		{"assignment list", otherTok, "GET", authzPath(rg, "roleAssignments", ""), "",
			"Microsoft.Authorization/roleAssignments/read", rg + "/providers/Microsoft.Authorization"},
		{"definition GET at the root", otherTok, "GET", authzPath("/", "roleDefinitions", authz.ReaderID), "",
			"Microsoft.Authorization/roleDefinitions/read", "/providers/Microsoft.Authorization/roleDefinitions/" + authz.ReaderID},
	}
	for _, tt := range tests {
		_, body := e.must(http.StatusForbidden, tt.method, tt.path, tt.body, "Authorization", "Bearer "+tt.token)
		want := "perform action '" + tt.action + "' over scope '" + tt.scope + "' or the scope is invalid."
		if !strings.Contains(string(body), want) {
			t.Errorf("%s: 403 = %s, want it to say %q", tt.what, body, want)
		}
	}
}

// TestRoleDefinitionWriteNeedsEveryAssignableScope: as in Azure, writing
// a custom role needs roleDefinitions/write over each of its assignable
// scopes, old and new. An Owner of one resource group must not rewrite a
// role assigned to it over the whole subscription into "*".
func TestRoleDefinitionWriteNeedsEveryAssignableScope(t *testing.T) {
	e := newRolesEnv(t)
	subScope := "/subscriptions/" + sub
	rgScope := subScope + "/resourceGroups/rg1"
	const role = "abababab-0000-4000-8000-000000000001"
	e.must(http.StatusCreated, "PUT", authzPath(subScope, "roleDefinitions", role), `{"properties":{"roleName":"Sub Reader","assignableScopes":["`+subScope+`"],
		"permissions":[{"actions":["*/read"]}]}}`)
	e.assign("abababab-0000-4000-8000-000000000002", subScope, role, spObject)
	e.assign("abababab-0000-4000-8000-000000000003", rgScope, authz.OwnerID, spObject)
	widen := `{"properties":{"roleName":"Sub Reader","assignableScopes":["` + subScope + `"],"permissions":[{"actions":["*"]}]}}`
	e.must(http.StatusForbidden, "PUT", authzPath(rgScope, "roleDefinitions", role), widen, "Authorization", "Bearer "+spToken)
	e.must(http.StatusForbidden, "PUT", authzPath(subScope, "roleDefinitions", role), widen, "Authorization", "Bearer "+spToken)
	// A new role assignable above the caller's reach is refused too.
	e.must(http.StatusForbidden, "PUT", authzPath(rgScope, "roleDefinitions", "abababab-0000-4000-8000-000000000004"),
		`{"properties":{"roleName":"Everything","assignableScopes":["/"],"permissions":[{"actions":["*"]}]}}`, "Authorization", "Bearer "+spToken)
	e.must(http.StatusForbidden, "DELETE", authzPath(rgScope, "roleDefinitions", role), "", "Authorization", "Bearer "+spToken)
	_, body := e.must(http.StatusOK, "GET", authzPath(subScope, "roleDefinitions", role), "")
	if strings.Contains(string(body), `"actions":["*"]`) {
		t.Errorf("the resource group's Owner rewrote a subscription role: %s", body)
	}
	e.must(http.StatusForbidden, "PUT", strings.Replace(base, "/rg1/", "/rg2/", 1)+"/workspaces/ws9"+av, `{"location":"eastus"}`, "Authorization", "Bearer "+spToken)
	// Within its resource group, the Owner may still write a role.
	e.must(http.StatusCreated, "PUT", authzPath(rgScope, "roleDefinitions", "abababab-0000-4000-8000-000000000005"),
		`{"properties":{"roleName":"RG Role","assignableScopes":["`+rgScope+`"],"permissions":[{"actions":["*/read"]}]}}`, "Authorization", "Bearer "+spToken)
}
