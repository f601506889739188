package arm

import (
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
)

// route is one endpoint of the ARM API: its method and path, the Azure
// action it performs over which scope, and the handler.
type route struct {
	method, path string
	// scope is the prefix of path that names the resource acted on (a
	// collection's parent for a list); its {parameters} are filled in from
	// the request.
	scope  string
	action rekey.Action
	// open routes need authentication only: ARM answers them for every
	// signed-in caller (subscription and tenant discovery).
	open         bool
	resourceType string
	versions     []string
	fn           handlerFunc
}

// routes lists every endpoint of the ARM API and names the Azure action of
// each: the one table authorization and the audit log read. Paths are
// matched after canonicalPath, so keywords here are matched
// case-insensitively.
func (a *api) routes() []route {
	const (
		sub = "/subscriptions/{subscriptionId}"
		rg  = sub + "/resourceGroups/{resourceGroupName}"
		ns  = "/providers/Microsoft.MachineLearningServices"
		ws  = rg + ns + "/workspaces"
		wsN = ws + "/{workspaceName}"
		ep  = wsN + "/onlineEndpoints"
		epN = ep + "/{endpointName}"
		dep = epN + "/deployments"
		loc = sub + ns + "/locations/{location}"
		cs  = rg + "/providers/Microsoft.CognitiveServices/accounts"
		csN = cs + "/{accountName}"
	)
	wsT, epT, depT, csT := rekey.TypeWorkspace, rekey.TypeOnlineEndpoint, rekey.TypeDeployment, rekey.TypeAccount
	const subT = "Microsoft.Resources/subscriptions"
	return []route{
		{"GET", sub + ns + "/workspaces", sub, rekey.ActionWorkspaceRead, false, wsT, workspaceVersions, a.handleWorkspaceList},
		{"GET", ws, rg, rekey.ActionWorkspaceRead, false, wsT, workspaceVersions, a.handleWorkspaceList},
		{"PUT", wsN, wsN, rekey.ActionWorkspaceWrite, false, wsT, workspaceVersions, a.handleWorkspacePut},
		{"PATCH", wsN, wsN, rekey.ActionWorkspaceWrite, false, wsT, workspaceVersions, a.handleWorkspacePatch},
		{"GET", wsN, wsN, rekey.ActionWorkspaceRead, false, wsT, workspaceVersions, a.handleWorkspaceGet},
		{"DELETE", wsN, wsN, rekey.ActionWorkspaceDelete, false, wsT, workspaceVersions, a.handleWorkspaceDelete},

		{"GET", ep, wsN, rekey.ActionEndpointRead, false, epT, endpointVersions, a.handleEndpointList},
		{"PUT", epN, epN, rekey.ActionEndpointWrite, false, epT, endpointVersions, a.handleEndpointPut},
		{"PATCH", epN, epN, rekey.ActionEndpointWrite, false, epT, endpointVersions, a.handleEndpointPatch},
		{"GET", epN, epN, rekey.ActionEndpointRead, false, epT, endpointVersions, a.handleEndpointGet},
		{"DELETE", epN, epN, rekey.ActionEndpointDelete, false, epT, endpointVersions, a.handleEndpointDelete},
		{"POST", epN + "/listKeys", epN, rekey.ActionEndpointListKeys, false, epT, endpointVersions, a.handleListKeys},
		{"POST", epN + "/regenerateKeys", epN, rekey.ActionEndpointRegenerate, false, epT, endpointVersions, a.handleRegenerateKeys},
		{"POST", epN + "/token", epN, rekey.ActionEndpointToken, false, epT, endpointVersions, a.handleToken},

		{"GET", dep, epN, rekey.ActionDeploymentRead, false, depT, endpointVersions, a.handleDeploymentList},
		{"PUT", dep + "/{deploymentName}", dep + "/{deploymentName}", rekey.ActionDeploymentWrite, false, depT, endpointVersions, a.handleDeploymentPut},
		{"PATCH", dep + "/{deploymentName}", dep + "/{deploymentName}", rekey.ActionDeploymentWrite, false, depT, endpointVersions, a.handleDeploymentPatch},
		{"GET", dep + "/{deploymentName}", dep + "/{deploymentName}", rekey.ActionDeploymentRead, false, depT, endpointVersions, a.handleDeploymentGet},
		{"DELETE", dep + "/{deploymentName}", dep + "/{deploymentName}", rekey.ActionDeploymentDelete, false, depT, endpointVersions, a.handleDeploymentDelete},

		// Operations are scoped to their subscription; their starter may
		// always follow them (see authorize).
		{"GET", loc + "/mfeOperationsStatus/{operationId}", sub, rekey.ActionMLOperationStatus, false, rekey.NamespaceML + "/locations/mfeOperationsStatus", workspaceVersions, a.handleOperationStatus},
		{"GET", loc + "/mfeOperationResults/{operationId}", sub, rekey.ActionMLOperationResult, false, rekey.NamespaceML + "/locations/mfeOperationResults", workspaceVersions, a.handleOperationResult},

		{"GET", sub + "/providers/Microsoft.CognitiveServices/accounts", sub, rekey.ActionAccountRead, false, csT, accountVersions, a.handleAccountList},
		{"GET", cs, rg, rekey.ActionAccountRead, false, csT, accountVersions, a.handleAccountList},
		{"PUT", csN, csN, rekey.ActionAccountWrite, false, csT, accountVersions, a.handleAccountPut},
		{"PATCH", csN, csN, rekey.ActionAccountWrite, false, csT, accountVersions, a.handleAccountPatch},
		{"GET", csN, csN, rekey.ActionAccountRead, false, csT, accountVersions, a.handleAccountGet},
		{"DELETE", csN, csN, rekey.ActionAccountDelete, false, csT, accountVersions, a.handleAccountDelete},
		{"POST", csN + "/listKeys", csN, rekey.ActionAccountListKeys, false, csT, accountVersions, a.handleAccountListKeys},
		{"POST", csN + "/regenerateKey", csN, rekey.ActionAccountRegenerate, false, csT, accountVersions, a.handleAccountRegenerateKey},
		{"GET", sub + "/providers/Microsoft.CognitiveServices/locations/{location}/operationResults/{operationId}", sub, rekey.ActionCSOperationResult, false, rekey.NamespaceCS + "/locations/operationResults", accountVersions, a.handleAccountOperation},

		{"GET", "/subscriptions", "/", rekey.ActionSubscriptionRead, true, subT, subscriptionVersions, a.handleSubscriptionList},
		{"GET", sub, sub, rekey.ActionSubscriptionRead, true, subT, subscriptionVersions, a.handleSubscriptionGet},
		{"GET", "/tenants", "/", rekey.ActionTenantRead, true, "Microsoft.Resources/tenants", subscriptionVersions, a.handleTenantList},
	}
}

// addRoutes registers every route of routes on mux.
func (a *api) addRoutes(mux *http.ServeMux) {
	for _, rt := range a.routes() {
		mux.Handle(rt.method+" "+rt.path, a.h(rt, rt.resourceType, rt.versions, rt.fn))
	}
	mux.Handle("/", handle(a.Logger, func(w http.ResponseWriter, r *http.Request) error {
		if rt, ok := parseAuthzPath(r.URL.Path); ok {
			return a.serveAuthorization(w, r, rt) // roles.go: role definitions and assignments at any scope
		}
		return noRoute(mux, r)
	}))
}

// scopeOf fills in a route's scope template from the request's path values.
func scopeOf(template string, r *http.Request) string {
	if template == "/" {
		return "/"
	}
	var b strings.Builder
	b.Grow(len(template) + 64)
	for rest := template; rest != ""; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		b.WriteString(rest[:i])
		b.WriteString(r.PathValue(rest[i+1 : i+j]))
		rest = rest[i+j+1:]
	}
	return b.String()
}

// noRoute explains a request no route matched: a known path with another
// method is 405, anything else 404, both in ARM's envelope.
func noRoute(mux *http.ServeMux, r *http.Request) error {
	var allowed []string
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE", "POST"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		return errWire(http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The method '"+r.Method+"' is not allowed on this resource. Allowed methods: "+strings.Join(allowed, ", ")+".")
	}
	return errWire(http.StatusNotFound, "NotFound",
		"No API matches '"+r.Method+" "+rekey.Clip(r.URL.Path, 200)+"'. rekey serves Microsoft.MachineLearningServices workspaces and onlineEndpoints, and Microsoft.CognitiveServices accounts, under /subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/.")
}
