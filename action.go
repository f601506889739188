package rekey

import "context"

// Action is an Azure RBAC operation name, such as
// "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys/action".
// Every management route names the action it performs (api/arm's route
// table), so that authorization and the audit log speak Azure's vocabulary.
type Action string

// Actions rekey performs, with Azure's exact names. The management routes
// name theirs in api/arm; the gateway checks ActionScore.
const (
	ActionWorkspaceRead   Action = "Microsoft.MachineLearningServices/workspaces/read"
	ActionWorkspaceWrite  Action = "Microsoft.MachineLearningServices/workspaces/write"
	ActionWorkspaceDelete Action = "Microsoft.MachineLearningServices/workspaces/delete"

	ActionEndpointRead       Action = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read"
	ActionEndpointWrite      Action = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write"
	ActionEndpointDelete     Action = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/delete"
	ActionEndpointListKeys   Action = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys/action"
	ActionEndpointRegenerate Action = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/regenerateKeys/action"
	ActionEndpointToken      Action = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/token/action"
	// ActionScore is the data-plane call the gateway authorizes for AADToken
	// endpoints. Azure lists it as an Action, not a DataAction.
	ActionScore Action = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action"

	ActionDeploymentRead   Action = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/read"
	ActionDeploymentWrite  Action = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/write"
	ActionDeploymentDelete Action = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/delete"

	ActionMLOperationStatus Action = "Microsoft.MachineLearningServices/locations/mfeOperationsStatus/read"
	ActionMLOperationResult Action = "Microsoft.MachineLearningServices/locations/mfeOperationResults/read"

	ActionAccountRead       Action = "Microsoft.CognitiveServices/accounts/read"
	ActionAccountWrite      Action = "Microsoft.CognitiveServices/accounts/write"
	ActionAccountDelete     Action = "Microsoft.CognitiveServices/accounts/delete"
	ActionAccountListKeys   Action = "Microsoft.CognitiveServices/accounts/listKeys/action"
	ActionAccountRegenerate Action = "Microsoft.CognitiveServices/accounts/regenerateKey/action"
	ActionCSOperationResult Action = "Microsoft.CognitiveServices/locations/operationResults/read"

	ActionSubscriptionRead Action = "Microsoft.Resources/subscriptions/read"
	ActionTenantRead       Action = "Microsoft.Resources/tenants/read"

	ActionRoleDefinitionRead   Action = "Microsoft.Authorization/roleDefinitions/read"
	ActionRoleDefinitionWrite  Action = "Microsoft.Authorization/roleDefinitions/write"
	ActionRoleDefinitionDelete Action = "Microsoft.Authorization/roleDefinitions/delete"
	ActionRoleAssignmentRead   Action = "Microsoft.Authorization/roleAssignments/read"
	ActionRoleAssignmentWrite  Action = "Microsoft.Authorization/roleAssignments/write"
	ActionRoleAssignmentDelete Action = "Microsoft.Authorization/roleAssignments/delete"
)

// Request is what a management request does: its action and the ARM scope
// (resource id) it acts on. The ARM router puts it in the request's
// context before the handler runs.
type Request struct {
	Action Action
	// Scope is the resource id acted on: "/" for the server, a
	// subscription, resource group or resource id otherwise, with ARM's
	// canonical spelling of keywords and the caller's spelling of names.
	Scope string
}

type actionKey struct{}

// WithAction returns a context carrying the request's action and scope.
func WithAction(ctx context.Context, a Action, scope string) context.Context {
	return context.WithValue(ctx, actionKey{}, Request{Action: a, Scope: scope})
}

// ActionFrom returns the action and scope in ctx, and false outside an
// ARM request.
func ActionFrom(ctx context.Context) (Request, bool) {
	r, ok := ctx.Value(actionKey{}).(Request)
	return r, ok
}
