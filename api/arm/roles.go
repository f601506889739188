package arm

import (
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/reqinfo"
)

// Microsoft.Authorization's api-versions: those published in
// azure-rest-api-specs for roleAssignments or roleDefinitions.
// armauthorization/v2 (v2.2.0) and v3 send 2022-04-01 for both resource
// types; the Azure CLI 2.60 sends 2022-04-01 too. Bicep and ARM templates
// still name the older previews (roleAssignments@2020-03-01-preview is
// common in published templates), so those are served as well.
var authorizationVersions = []string{
	"2015-07-01", "2017-10-01-preview", "2018-01-01-preview", "2018-09-01-preview", "2020-03-01-preview",
	"2020-04-01-preview", "2020-08-01-preview", "2020-10-01-preview", "2022-01-01-preview", "2022-04-01",
	"2022-05-01-preview",
}

const (
	authzNS         = "/providers/Microsoft.Authorization/"
	typeAssignment  = "Microsoft.Authorization/roleAssignments"
	typeDefinition  = "Microsoft.Authorization/roleDefinitions"
	kindAssignments = "roleAssignments"
	kindDefinitions = "roleDefinitions"
)

// authzRoute is one Microsoft.Authorization request, at any scope: the
// scope it names ("/" for the root), the resource kind, and the name
// when it names one assignment or definition.
type authzRoute struct {
	scope, kind, name string
}

// parseAuthzPath recognizes "{scope}/providers/Microsoft.Authorization/
// {roleAssignments|roleDefinitions}[/{name}]", keywords in any case. The
// scope is everything before the last "/providers/Microsoft.Authorization/",
// so resource scopes of any depth work, and so do the by-id forms
// ("GET /{roleAssignmentId}").
func parseAuthzPath(p string) (authzRoute, bool) {
	i := lastIndexFold(p, authzNS)
	if i < 0 {
		return authzRoute{}, false
	}
	rt := authzRoute{scope: p[:i]}
	if rt.scope == "" {
		rt.scope = "/"
	}
	kind, name, _ := strings.Cut(p[i+len(authzNS):], "/")
	switch {
	case strings.EqualFold(kind, kindAssignments):
		rt.kind = kindAssignments
	case strings.EqualFold(kind, kindDefinitions):
		rt.kind = kindDefinitions
	default:
		return authzRoute{}, false
	}
	if strings.Contains(name, "/") {
		return authzRoute{}, false
	}
	rt.name = name
	return rt, true
}

// authzActions names the action of each Microsoft.Authorization request:
// the second table of routes, next to routes() (which cannot list these,
// since their scope is any depth).
var authzActions = map[string]map[string]rekey.Action{
	kindAssignments: {"GET": rekey.ActionRoleAssignmentRead, "PUT": rekey.ActionRoleAssignmentWrite, "DELETE": rekey.ActionRoleAssignmentDelete},
	kindDefinitions: {"GET": rekey.ActionRoleDefinitionRead, "PUT": rekey.ActionRoleDefinitionWrite, "DELETE": rekey.ActionRoleDefinitionDelete},
}

// serveAuthorization serves Microsoft.Authorization role definitions and
// assignments. It runs for paths no other route matched.
func (a *api) serveAuthorization(w http.ResponseWriter, r *http.Request, rt authzRoute) error {
	typ := typeAssignment
	if rt.kind == kindDefinitions {
		typ = typeDefinition
	}
	op := r.Method + " " + typ
	if rt.name != "" {
		op += "/{name}"
	}
	reqinfo.SetOperation(r.Context(), op)
	action, ok := authzActions[rt.kind][r.Method]
	if !ok || (rt.name == "" && r.Method != http.MethodGet) {
		allowed := "GET"
		if rt.name != "" {
			allowed = "GET, PUT, DELETE"
		}
		return errWire(http.StatusMethodNotAllowed, "MethodNotAllowed", "The method '"+r.Method+"' is not allowed on this resource. Allowed methods: "+allowed+".")
	}
	r, err := a.versions.check(r, typ, authorizationVersions)
	if err != nil {
		return err
	}
	if err := checkAuthzScope(rt.scope); err != nil {
		return err
	}
	if rt.name != "" && !rekey.IsGUID(rt.name) {
		code, noun := "InvalidRoleAssignmentId", "role assignment"
		if rt.kind == kindDefinitions {
			code, noun = "InvalidRoleDefinitionId", "role definition"
		}
		return errWire(http.StatusBadRequest, code, "The "+noun+" name '"+rekey.Clip(rt.name, 100)+"' is not valid: it must be a GUID such as 00000000-0000-0000-0000-000000000000.")
	}
	r = r.WithContext(rekey.WithAction(r.Context(), action, rt.scope))
	rekey.NoteRequest(r.Context(), rekey.PrincipalFrom(r.Context()), action, rekey.Clip(r.URL.Path, 1024))
	if r.Method == http.MethodPut {
		rekey.NoteStatus(r.Context(), http.StatusCreated) // for create and update, as ARM answers
	}
	// ARM's 403 names the assignment or definition itself, or
	// "{scope}/providers/Microsoft.Authorization" for a list, as recorded
	// AuthorizationFailed messages show.
	denied := scopePrefix(rt.scope) + "/providers/Microsoft.Authorization"
	if rt.name != "" {
		denied += "/" + rt.kind + "/" + rt.name
	}
	if err := a.authorizeNaming(r, route{action: action}, denied); err != nil {
		return err
	}
	switch {
	case rt.kind == kindDefinitions && rt.name == "":
		return a.handleRoleDefinitionList(w, r, rt)
	case rt.kind == kindDefinitions && r.Method == http.MethodGet:
		return a.handleRoleDefinitionGet(w, r, rt)
	case rt.kind == kindDefinitions && r.Method == http.MethodPut:
		return a.handleRoleDefinitionPut(w, r, rt)
	case rt.kind == kindDefinitions:
		return a.handleRoleDefinitionDelete(w, r, rt)
	case rt.name == "":
		return a.handleRoleAssignmentList(w, r, rt)
	case r.Method == http.MethodGet:
		return a.handleRoleAssignmentGet(w, r, rt)
	case r.Method == http.MethodPut:
		return a.handleRoleAssignmentPut(w, r, rt)
	default:
		return a.handleRoleAssignmentDelete(w, r, rt)
	}
}

// lastIndexFold is strings.LastIndex under ASCII case folding. It works
// on the bytes of s as they are: strings.ToLower may change the length of
// a string that is not valid UTF-8, and an index into the lowered string
// would then cut the original in the wrong place.
func lastIndexFold(s, sub string) int {
	for i := len(s) - len(sub); i >= 0; i-- {
		if asciiEqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// indexFold is strings.Index under ASCII case folding (see lastIndexFold).
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if asciiEqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
