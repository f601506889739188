package arm

import (
	"context"
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
)

// Authorizer decides whether a principal may perform an action over a
// scope (package authz). A nil Config.Authz authorizes everything, for
// tests of the dialect alone.
type Authorizer interface {
	Allowed(ctx context.Context, principalID string, action rekey.Action, scope string) (bool, error)
	// HasAssignments reports whether the principal holds any role
	// assignment, so that a refusal can tell a new principal why.
	HasAssignments(ctx context.Context, principalID string) bool
}

// authorize checks the request's action over its scope (put in the
// context by h) for the authenticated caller. A caller may always follow
// the status and result URLs of an operation it started.
func (a *api) authorize(r *http.Request, rt route) error {
	return a.authorizeNaming(r, rt, "")
}

// authorizeNaming is authorize, with the scope a 403 names when it is not
// the one evaluated: ARM names the request's own path for
// Microsoft.Authorization requests.
func (a *api) authorizeNaming(r *http.Request, rt route, deniedScope string) error {
	if a.Authz == nil || rt.open {
		return nil
	}
	ctx := r.Context()
	req, ok := rekey.ActionFrom(ctx)
	if !ok {
		return nil
	}
	p := rekey.PrincipalFrom(ctx)
	allowed, err := a.Authz.Allowed(ctx, p.ID, req.Action, req.Scope)
	if err != nil || allowed {
		return err
	}
	switch req.Action {
	case rekey.ActionMLOperationStatus, rekey.ActionMLOperationResult, rekey.ActionCSOperationResult:
		if op, err := a.operation(r); err == nil && op.StartedBy != "" && op.StartedBy == p.ID {
			return nil
		}
	}
	if deniedScope != "" {
		req.Scope = deniedScope
	}
	return forbidden(p, req, !a.Authz.HasAssignments(ctx, p.ID))
}

// forbidden is ARM's 403 AuthorizationFailed, word for word. A principal
// that holds no role assignment at all is told so in one more sentence:
// on a fresh server, a new service principal can do nothing until an
// Owner assigns it a role.
func forbidden(p rekey.Principal, req rekey.Request, unassigned bool) error {
	msg := "The client '" + p.Name + "' with object id '" + p.ID + "' does not have authorization to perform action '" +
		string(req.Action) + "' over scope '" + req.Scope + "' or the scope is invalid. If access was recently granted, please refresh your credentials."
	if unassigned {
		msg += " This principal has no role assignments on this server, so it may do nothing yet: an Owner can grant it a role, e.g. 'rekey role assignment create --assignee " +
			p.Name + " --role " + suggestedRole(req.Action) + " --scope " + req.Scope + "'."
	}
	return errWire(http.StatusForbidden, "AuthorizationFailed", msg)
}

// suggestedRole names the least of the built-in roles rekey suggests in
// a 403 that grants action: Reader for reads, Owner for role writes,
// Contributor for the rest (writes, listKeys, regenerateKeys).
func suggestedRole(action rekey.Action) string {
	a := strings.ToLower(string(action))
	switch {
	case strings.HasSuffix(a, "/read"):
		return "Reader"
	case strings.HasPrefix(a, "microsoft.authorization/"):
		return "Owner"
	}
	return "Contributor"
}

// authorizeScopes checks action over each of scopes for the caller, as
// Azure checks roleDefinitions/write and /delete over every assignable
// scope of the role, old and new: the request's own scope alone would let
// an Owner of one resource group rewrite a role assigned to it over the
// whole subscription.
func (a *api) authorizeScopes(r *http.Request, action rekey.Action, scopes ...[]string) error {
	if a.Authz == nil {
		return nil
	}
	ctx := r.Context()
	p := rekey.PrincipalFrom(ctx)
	for _, list := range scopes {
		for _, s := range list {
			allowed, err := a.Authz.Allowed(ctx, p.ID, action, s)
			if err != nil {
				return err
			}
			if !allowed {
				return forbidden(p, rekey.Request{Action: action, Scope: s}, false)
			}
		}
	}
	return nil
}
