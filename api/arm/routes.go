package arm

import (
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
)

// addRoutes lists every endpoint of the ARM API. Paths are matched after
// canonicalPath, so keywords here are matched case-insensitively.
func (a *api) addRoutes(mux *http.ServeMux) {
	const (
		sub = "/subscriptions/{subscriptionId}"
		ns  = "/providers/Microsoft.MachineLearningServices"
		ws  = sub + "/resourceGroups/{resourceGroupName}" + ns + "/workspaces"
		ep  = ws + "/{workspaceName}/onlineEndpoints"
		loc = sub + ns + "/locations/{location}"
	)
	wsT, epT := rekey.TypeWorkspace, rekey.TypeOnlineEndpoint

	mux.Handle("GET "+sub+ns+"/workspaces", a.h(wsT, workspaceVersions, a.handleWorkspaceList))
	mux.Handle("GET "+ws, a.h(wsT, workspaceVersions, a.handleWorkspaceList))
	mux.Handle("PUT "+ws+"/{workspaceName}", a.h(wsT, workspaceVersions, a.handleWorkspacePut))
	mux.Handle("PATCH "+ws+"/{workspaceName}", a.h(wsT, workspaceVersions, a.handleWorkspacePatch))
	mux.Handle("GET "+ws+"/{workspaceName}", a.h(wsT, workspaceVersions, a.handleWorkspaceGet))
	mux.Handle("DELETE "+ws+"/{workspaceName}", a.h(wsT, workspaceVersions, a.handleWorkspaceDelete))

	mux.Handle("GET "+ep, a.h(epT, endpointVersions, a.handleEndpointList))
	mux.Handle("PUT "+ep+"/{endpointName}", a.h(epT, endpointVersions, a.handleEndpointPut))
	mux.Handle("PATCH "+ep+"/{endpointName}", a.h(epT, endpointVersions, a.handleEndpointPatch))
	mux.Handle("GET "+ep+"/{endpointName}", a.h(epT, endpointVersions, a.handleEndpointGet))
	mux.Handle("DELETE "+ep+"/{endpointName}", a.h(epT, endpointVersions, a.handleEndpointDelete))
	mux.Handle("POST "+ep+"/{endpointName}/listKeys", a.h(epT, endpointVersions, a.handleListKeys))
	mux.Handle("POST "+ep+"/{endpointName}/regenerateKeys", a.h(epT, endpointVersions, a.handleRegenerateKeys))
	mux.Handle("POST "+ep+"/{endpointName}/token", a.h(epT, endpointVersions, a.handleToken))

	const dep = ep + "/{endpointName}/deployments"
	depT := rekey.TypeDeployment
	mux.Handle("GET "+dep, a.h(depT, endpointVersions, a.handleDeploymentList))
	mux.Handle("PUT "+dep+"/{deploymentName}", a.h(depT, endpointVersions, a.handleDeploymentPut))
	mux.Handle("PATCH "+dep+"/{deploymentName}", a.h(depT, endpointVersions, a.handleDeploymentPatch))
	mux.Handle("GET "+dep+"/{deploymentName}", a.h(depT, endpointVersions, a.handleDeploymentGet))
	mux.Handle("DELETE "+dep+"/{deploymentName}", a.h(depT, endpointVersions, a.handleDeploymentDelete))

	mux.Handle("GET "+loc+"/mfeOperationsStatus/{operationId}", a.h(rekey.NamespaceML+"/locations/mfeOperationsStatus", workspaceVersions, a.handleOperationStatus))
	mux.Handle("GET "+loc+"/mfeOperationResults/{operationId}", a.h(rekey.NamespaceML+"/locations/mfeOperationResults", workspaceVersions, a.handleOperationResult))

	const cs = "/providers/Microsoft.CognitiveServices/accounts"
	csT := rekey.TypeAccount
	mux.Handle("GET "+sub+cs, a.h(csT, accountVersions, a.handleAccountList))
	mux.Handle("GET "+sub+"/resourceGroups/{resourceGroupName}"+cs, a.h(csT, accountVersions, a.handleAccountList))
	mux.Handle("PUT "+sub+"/resourceGroups/{resourceGroupName}"+cs+"/{accountName}", a.h(csT, accountVersions, a.handleAccountPut))
	mux.Handle("PATCH "+sub+"/resourceGroups/{resourceGroupName}"+cs+"/{accountName}", a.h(csT, accountVersions, a.handleAccountPatch))
	mux.Handle("GET "+sub+"/resourceGroups/{resourceGroupName}"+cs+"/{accountName}", a.h(csT, accountVersions, a.handleAccountGet))
	mux.Handle("DELETE "+sub+"/resourceGroups/{resourceGroupName}"+cs+"/{accountName}", a.h(csT, accountVersions, a.handleAccountDelete))
	mux.Handle("POST "+sub+"/resourceGroups/{resourceGroupName}"+cs+"/{accountName}/listKeys", a.h(csT, accountVersions, a.handleAccountListKeys))
	mux.Handle("POST "+sub+"/resourceGroups/{resourceGroupName}"+cs+"/{accountName}/regenerateKey", a.h(csT, accountVersions, a.handleAccountRegenerateKey))
	mux.Handle("GET "+sub+"/providers/Microsoft.CognitiveServices/locations/{location}/operationResults/{operationId}",
		a.h(rekey.NamespaceCS+"/locations/operationResults", accountVersions, a.handleAccountOperation))

	const subT = "Microsoft.Resources/subscriptions"
	mux.Handle("GET /subscriptions", a.h(subT, subscriptionVersions, a.handleSubscriptionList))
	mux.Handle("GET "+sub, a.h(subT, subscriptionVersions, a.handleSubscriptionGet))
	mux.Handle("GET /tenants", a.h("Microsoft.Resources/tenants", subscriptionVersions, a.handleTenantList))

	mux.Handle("/", handle(a.Logger, func(w http.ResponseWriter, r *http.Request) error {
		return noRoute(mux, r)
	}))
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
