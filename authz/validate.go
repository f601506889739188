package authz

import (
	"fmt"
	"strings"

	"github.com/rekey-dev/rekey"
)

// Known lists every action rekey performs: a custom role's Action in one
// of rekey's providers must match at least one of them, as ARM refuses
// actions no provider declares.
var Known = []rekey.Action{
	rekey.ActionWorkspaceRead, rekey.ActionWorkspaceWrite, rekey.ActionWorkspaceDelete,
	rekey.ActionEndpointRead, rekey.ActionEndpointWrite, rekey.ActionEndpointDelete,
	rekey.ActionEndpointListKeys, rekey.ActionEndpointRegenerate, rekey.ActionEndpointToken, rekey.ActionScore,
	rekey.ActionDeploymentRead, rekey.ActionDeploymentWrite, rekey.ActionDeploymentDelete,
	rekey.ActionMLOperationStatus, rekey.ActionMLOperationResult,
	rekey.ActionAccountRead, rekey.ActionAccountWrite, rekey.ActionAccountDelete,
	rekey.ActionAccountListKeys, rekey.ActionAccountRegenerate, rekey.ActionCSOperationResult,
	rekey.ActionSubscriptionRead, rekey.ActionTenantRead,
	rekey.ActionRoleDefinitionRead, rekey.ActionRoleDefinitionWrite, rekey.ActionRoleDefinitionDelete,
	rekey.ActionRoleAssignmentRead, rekey.ActionRoleAssignmentWrite, rekey.ActionRoleAssignmentDelete,
}

// rekeyProviders are the namespaces whose actions rekey knows all of.
var rekeyProviders = []string{"Microsoft.MachineLearningServices", "Microsoft.CognitiveServices", "Microsoft.Authorization"}

// ValidateAction checks one entry of a custom role's Actions or
// NotActions (data is false) or DataActions or NotDataActions (data is
// true). Entries are "*" or "{Namespace}/{type}[/...]": no blanks, no
// empty segments. An Action in one of rekey's own providers must match
// an action rekey performs; other providers' are accepted as written,
// since rekey cannot know their operations.
func ValidateAction(a string, data bool) error {
	if a == "*" && !data {
		return nil
	}
	bad := func(why string) error {
		return rekey.Errorf(rekey.Invalid, "The action '%s' is invalid: %s", rekey.Clip(a, 200), why)
	}
	if a == "" || len(a) > 512 || strings.ContainsAny(a, " \t\r\n?#\\") {
		return bad("actions are 1 to 512 characters, without blanks, '?', '#' or '\\'.")
	}
	ns, rest, ok := strings.Cut(a, "/")
	if !ok || rest == "" || strings.Contains(a, "//") || strings.HasSuffix(a, "/") {
		return bad("write it as '{Namespace}/{resourceType}/{operation}', e.g. 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read'.")
	}
	if !strings.Contains(ns, "*") && !strings.Contains(ns, ".") {
		return bad("its first segment must be a resource provider namespace such as 'Microsoft.MachineLearningServices'.")
	}
	if data {
		return nil
	}
	for _, p := range rekeyProviders {
		if strings.EqualFold(ns, p) {
			for _, k := range Known {
				if Match(a, string(k)) {
					return nil
				}
			}
			return bad(fmt.Sprintf("it does not match any action of %s that this server supports.", p))
		}
	}
	return nil
}

// ValidateDefinition checks a custom role definition's name and
// permissions (Invalid errors that say what to fix).
func ValidateDefinition(d *rekey.RoleDefinition) error {
	if strings.TrimSpace(d.RoleName) == "" || len(d.RoleName) > 256 {
		return rekey.Errorf(rekey.Invalid, "The role name must be 1 to 256 characters and not blank.")
	}
	if len(d.Permissions) == 0 {
		return rekey.Errorf(rekey.Invalid, "The role definition has no permissions: give it at least one entry with actions or dataActions.")
	}
	n := 0
	for _, p := range d.Permissions {
		n += len(p.Actions) + len(p.DataActions)
		for _, l := range []struct {
			list []string
			data bool
		}{{p.Actions, false}, {p.NotActions, false}, {p.DataActions, true}, {p.NotDataActions, true}} {
			for _, a := range l.list {
				if err := ValidateAction(a, l.data); err != nil {
					return err
				}
			}
		}
	}
	if n == 0 {
		return rekey.Errorf(rekey.Invalid, "The role definition grants nothing: give it at least one action or dataAction.")
	}
	if len(d.AssignableScopes) == 0 {
		return rekey.Errorf(rekey.Invalid, "The role definition has no assignableScopes: name at least one, such as '/subscriptions/{subscriptionId}'.")
	}
	for _, s := range d.AssignableScopes {
		if _, err := ParseScope(s); err != nil {
			return err
		}
	}
	return nil
}
