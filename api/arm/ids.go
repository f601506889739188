package arm

import (
	"net/http"

	"github.com/rekey-dev/rekey"
)

// workspaceID reads and validates the workspace id in r's path.
func workspaceID(r *http.Request) (rekey.WorkspaceID, error) {
	id := rekey.WorkspaceID{
		Subscription:  r.PathValue("subscriptionId"),
		ResourceGroup: r.PathValue("resourceGroupName"),
		Name:          r.PathValue("workspaceName"),
	}
	if err := checkScope(id.Subscription, id.ResourceGroup); err != nil {
		return id, err
	}
	if id.Name != "" {
		if err := id.Validate(); err != nil {
			return id, errWire(http.StatusBadRequest, "InvalidResourceName", rekey.ErrorMessage(err))
		}
	}
	return id, nil
}

// checkScope validates a subscription id and, when given, a group name.
func checkScope(subscription, rg string) error {
	if err := rekey.ValidateSubscription(subscription); err != nil {
		return errWire(http.StatusBadRequest, "InvalidSubscriptionId", rekey.ErrorMessage(err))
	}
	if rg != "" {
		if err := rekey.ValidateResourceGroup(rg); err != nil {
			return errWire(http.StatusBadRequest, "InvalidResourceGroupName", rekey.ErrorMessage(err))
		}
	}
	return nil
}

// endpointID reads the endpoint id in r's path. The endpoint-name pattern
// is checked only where the specification declares it (createOrUpdate);
// elsewhere a name that cannot exist is simply not found.
func endpointID(r *http.Request) (rekey.EndpointID, error) {
	ws, err := workspaceID(r)
	return rekey.EndpointID{Workspace: ws, Name: r.PathValue("endpointName")}, err
}
