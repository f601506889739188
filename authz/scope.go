package authz

import (
	"strings"

	"github.com/rekey-dev/rekey"
)

// Scope is a parsed ARM scope: "/", a subscription, a resource group or a
// resource under a provider.
type Scope struct {
	Subscription  string // "" at the root
	ResourceGroup string // "" above a resource group
	// Resource is the part from "/providers/" on, "" above a resource:
	// "/providers/Microsoft.MachineLearningServices/workspaces/w".
	Resource string
}

// ParseScope checks s, the scope of a role assignment or the
// assignableScopes entry of a role definition. Invalid errors say what
// the scope should look like.
func ParseScope(s string) (Scope, error) {
	bad := func(why string) (Scope, error) {
		return Scope{}, rekey.Errorf(rekey.Invalid, "The scope '%s' is not valid: %s", rekey.Clip(s, 300), why)
	}
	if s == "/" {
		return Scope{}, nil
	}
	segs := strings.Split(s, "/")
	if segs[0] != "" || len(segs) < 3 || !strings.EqualFold(segs[1], "subscriptions") {
		return bad("a scope is '/', '/subscriptions/{subscriptionId}', '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}' or a resource id below it.")
	}
	for _, seg := range segs[1:] {
		if seg == "" {
			return bad("it has an empty segment (a doubled or trailing '/').")
		}
	}
	sc := Scope{Subscription: segs[2]}
	if err := rekey.ValidateSubscription(sc.Subscription); err != nil {
		return bad(rekey.ErrorMessage(err))
	}
	rest := segs[3:]
	if len(rest) == 0 {
		return sc, nil
	}
	if len(rest) < 2 || !strings.EqualFold(rest[0], "resourceGroups") {
		return bad("below a subscription, a scope names '/resourceGroups/{resourceGroupName}'.")
	}
	sc.ResourceGroup = rest[1]
	if err := rekey.ValidateResourceGroup(sc.ResourceGroup); err != nil {
		return bad(rekey.ErrorMessage(err))
	}
	rest = rest[2:]
	if len(rest) == 0 {
		return sc, nil
	}
	// providers/{namespace} then type/name pairs.
	if len(rest) < 4 || !strings.EqualFold(rest[0], "providers") || len(rest)%2 != 0 {
		return bad("below a resource group, a scope is a resource id: '/providers/{namespace}/{type}/{name}[/{type}/{name}]'.")
	}
	sc.Resource = "/" + strings.Join(rest, "/")
	return sc, nil
}

// Covers reports whether an assignment at scope applies to a request
// over target: target is scope or below it. Scopes compare
// case-insensitively, segment by segment. It does not allocate.
func Covers(scope, target string) bool {
	if scope == "/" {
		return true
	}
	if len(target) < len(scope) || !strings.EqualFold(target[:len(scope)], scope) {
		return false
	}
	return len(target) == len(scope) || target[len(scope)] == '/'
}
