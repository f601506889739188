package arm

import (
	"net/http"
	"slices"
	"strings"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/authz"
)

// roleAssignmentJSON is a role assignment on the wire (2022-04-01).
type roleAssignmentJSON struct {
	ID         string                  `json:"id"`
	Name       string                  `json:"name"`
	Type       string                  `json:"type"`
	Properties roleAssignmentPropsJSON `json:"properties"`
}

type roleAssignmentPropsJSON struct {
	RoleDefinitionID string  `json:"roleDefinitionId"`
	PrincipalID      string  `json:"principalId"`
	PrincipalType    string  `json:"principalType"`
	Scope            string  `json:"scope"`
	Condition        *string `json:"condition"`
	ConditionVersion *string `json:"conditionVersion"`
	Description      *string `json:"description"`
	CreatedOn        *string `json:"createdOn"`
	UpdatedOn        *string `json:"updatedOn"`
	CreatedBy        *string `json:"createdBy"`
	UpdatedBy        *string `json:"updatedBy"`
	// DelegatedManagedIdentityResourceID is always null: rekey has no
	// managed identities to delegate.
	DelegatedManagedIdentityResourceID *string `json:"delegatedManagedIdentityResourceId"`
}

func toAssignmentJSON(ra *rekey.RoleAssignment) roleAssignmentJSON {
	return roleAssignmentJSON{
		ID: scopePrefix(ra.Scope) + authzNS + kindAssignments + "/" + ra.ID, Name: ra.ID, Type: typeAssignment,
		Properties: roleAssignmentPropsJSON{
			RoleDefinitionID: definitionID(ra.Scope, ra.RoleDefinitionID), PrincipalID: ra.PrincipalID,
			PrincipalType: ra.PrincipalType, Scope: ra.Scope, Description: optional(ra.Description),
			CreatedOn: stamp(ra.Created), UpdatedOn: stamp(ra.Updated), CreatedBy: optional(ra.CreatedBy), UpdatedBy: optional(ra.UpdatedBy),
		},
	}
}

// assignmentFilter is a parsed roleAssignments $filter, in the forms ARM
// accepts: atScope(), principalId eq '{id}' or assignedTo('{id}') alone
// (rekey, having no groups, treats the last two alike), or
// atScope() and assignedTo('{id}'). ARM refuses every other combination,
// atScope() with principalId eq among them.
type assignmentFilter struct {
	atScope   bool
	principal string
}

func parseAssignmentFilter(f string) (assignmentFilter, bool) {
	var af assignmentFilter
	if strings.TrimSpace(f) == "" {
		return af, true
	}
	terms := splitAnd(f)
	var scoped, assigned int
	for _, term := range terms {
		switch {
		case strings.EqualFold(term, "atScope()"):
			af.atScope = true
			scoped++
		case len(term) > len("assignedTo('')") && strings.EqualFold(term[:len("assignedTo('")], "assignedTo('") && strings.HasSuffix(term, "')"):
			af.principal = term[len("assignedTo('") : len(term)-2]
			assigned++
		default:
			field, value, ok := parseEqFilter(term)
			if !ok || !strings.EqualFold(field, "principalId") || value == "" {
				return assignmentFilter{}, false
			}
			af.principal = value
		}
	}
	switch {
	case len(terms) == 1:
		return af, true
	case len(terms) == 2 && scoped == 1 && assigned == 1:
		return af, true
	}
	return assignmentFilter{}, false
}

// splitAnd splits a filter on " and ", case-insensitively.
func splitAnd(f string) []string {
	var terms []string
	for {
		i := indexFold(f, " and ")
		if i < 0 {
			return append(terms, strings.TrimSpace(f))
		}
		terms = append(terms, strings.TrimSpace(f[:i]))
		f = f[i+len(" and "):]
	}
}

// handleRoleAssignmentList handles GET {scope}/providers/Microsoft.Authorization/roleAssignments:
// without a filter, the assignments at, above and below the scope; with
// atScope(), at and above; principalId eq '{id}' narrows to one principal.
func (a *api) handleRoleAssignmentList(w http.ResponseWriter, r *http.Request, rt authzRoute) error {
	filter := r.URL.Query().Get("$filter")
	af, ok := parseAssignmentFilter(filter)
	if !ok {
		return errWire(http.StatusBadRequest, "UnsupportedQuery", "The filter '"+rekey.Clip(filter, 200)+"' is not supported. Supported filters are either 'atScope()' or 'principalId eq '{value}'' or 'assignedTo('{value}')', and 'atScope() and assignedTo('{value}')'.")
	}
	var all []*rekey.RoleAssignment
	if err := a.Store.View(r.Context(), func(tx rekey.Tx) (err error) { all, err = tx.RoleAssignments(); return err }); err != nil {
		return err
	}
	page := struct {
		Value []roleAssignmentJSON `json:"value"`
	}{Value: []roleAssignmentJSON{}}
	for _, ra := range all {
		inScope := authz.Covers(ra.Scope, rt.scope) || (!af.atScope && authz.Covers(rt.scope, ra.Scope))
		if inScope && (af.principal == "" || strings.EqualFold(af.principal, ra.PrincipalID)) {
			page.Value = append(page.Value, toAssignmentJSON(ra))
		}
	}
	return encode(w, http.StatusOK, page)
}

// findAssignment loads the assignment named in rt, which must be at rt's
// scope, as ARM addresses assignments.
func (a *api) findAssignment(r *http.Request, rt authzRoute) (*rekey.RoleAssignment, error) {
	var all []*rekey.RoleAssignment
	if err := a.Store.View(r.Context(), func(tx rekey.Tx) (err error) { all, err = tx.RoleAssignments(); return err }); err != nil {
		return nil, err
	}
	for _, ra := range all {
		if strings.EqualFold(ra.ID, rt.name) && strings.EqualFold(ra.Scope, rt.scope) {
			return ra, nil
		}
	}
	return nil, nil
}

func errAssignmentNotFound(name string) error {
	return errWire(http.StatusNotFound, "RoleAssignmentNotFound", "The role assignment '"+rekey.Clip(name, 100)+"' is not found.")
}

// handleRoleAssignmentGet handles GET {scope}/providers/Microsoft.Authorization/roleAssignments/{name}.
func (a *api) handleRoleAssignmentGet(w http.ResponseWriter, r *http.Request, rt authzRoute) error {
	ra, err := a.findAssignment(r, rt)
	if err != nil {
		return err
	}
	if ra == nil {
		return errAssignmentNotFound(rt.name)
	}
	return encode(w, http.StatusOK, toAssignmentJSON(ra))
}

// handleRoleAssignmentDelete handles DELETE {scope}/providers/Microsoft.Authorization/roleAssignments/{name}:
// 200 with the deleted assignment, 204 when there was none.
func (a *api) handleRoleAssignmentDelete(w http.ResponseWriter, r *http.Request, rt authzRoute) error {
	var gone *rekey.RoleAssignment
	err := a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		all, err := tx.RoleAssignments()
		if err != nil {
			return err
		}
		for _, ra := range all {
			if strings.EqualFold(ra.ID, rt.name) && strings.EqualFold(ra.Scope, rt.scope) {
				gone = ra
				return tx.DeleteRoleAssignment(ra.ID)
			}
		}
		rekey.NoteStatus(r.Context(), http.StatusNoContent)
		return nil
	})
	if err != nil {
		return err
	}
	if gone == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return encode(w, http.StatusOK, toAssignmentJSON(gone))
}

// roleAssignmentPut is the body of a role assignment PUT.
type roleAssignmentPut struct {
	Properties *struct {
		RoleDefinitionID string `json:"roleDefinitionId"`
		PrincipalID      string `json:"principalId"`
		PrincipalType    string `json:"principalType"`
		Description      string `json:"description"`
		Condition        string `json:"condition"`
	} `json:"properties"`
}

// handleRoleAssignmentPut handles PUT {scope}/providers/Microsoft.Authorization/roleAssignments/{name}:
// 201 with the new assignment, or with the existing one when the same
// assignment is PUT again (as Bicep and Terraform re-apply it); a taken
// name with another principal or scope is ARM's 400
// RoleAssignmentUpdateNotPermitted, with another role 409
// RoleAssignmentExists. The principal must be a service principal
// of this server, the role must exist and be assignable at the scope, and
// the scope must name something this server knows.
func (a *api) handleRoleAssignmentPut(w http.ResponseWriter, r *http.Request, rt authzRoute) error {
	var body roleAssignmentPut
	if err := decode(r, w, a.MaxBody, &body); err != nil {
		return err
	}
	p := body.Properties
	if p == nil || p.RoleDefinitionID == "" || p.PrincipalID == "" {
		return errWire(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid: a role assignment needs 'properties' with 'roleDefinitionId' and 'principalId'.")
	}
	if p.Condition != "" {
		return errWire(http.StatusBadRequest, "InvalidRequestContent", "Conditions on role assignments (ABAC) are not supported by this server; send the assignment without 'condition'.")
	}
	roleID := p.RoleDefinitionID
	if i := lastIndexFold(roleID, "/roledefinitions/"); i >= 0 {
		roleID = roleID[i+len("/roledefinitions/"):]
	}
	if !rekey.IsGUID(roleID) {
		return errWire(http.StatusBadRequest, "InvalidRoleDefinitionId", "The role definition ID '"+rekey.Clip(p.RoleDefinitionID, 200)+"' is not valid: send '/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/{roleGuid}' or the role's GUID.")
	}
	defs, err := a.definitions(r)
	if err != nil {
		return err
	}
	d := findDefinition(defs, roleID)
	if d == nil {
		return errWire(http.StatusBadRequest, "RoleDefinitionDoesNotExist", "The specified role definition with ID '"+rekey.Clip(roleID, 100)+"' does not exist.")
	}
	if !usableAt(d, rt.scope) {
		return errWire(http.StatusBadRequest, "RoleAssignmentScopeNotAssignableToRoleDefinition", "The role '"+rekey.Clip(d.RoleName, 100)+"' is not available for assignment at the requested scope '"+rekey.Clip(rt.scope, 300)+"': its assignableScopes are "+strings.Join(d.AssignableScopes, ", ")+".")
	}
	who := rekey.PrincipalFrom(r.Context()).ID
	now := a.now()
	ra := &rekey.RoleAssignment{ID: strings.ToLower(rt.name), Scope: rt.scope, RoleDefinitionID: d.ID, PrincipalID: strings.ToLower(p.PrincipalID),
		PrincipalType: "ServicePrincipal", Description: p.Description, Created: now, Updated: now, CreatedBy: who, UpdatedBy: who}
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		if err := a.scopeExists(tx, rt.scope); err != nil {
			return err
		}
		sps, err := tx.ServicePrincipals()
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(sps, func(sp *rekey.ServicePrincipal) bool { return strings.EqualFold(sp.ObjectID, ra.PrincipalID) }) {
			return errWire(http.StatusBadRequest, "PrincipalNotFound", "Principal "+rekey.Clip(ra.PrincipalID, 100)+" does not exist in the directory "+a.Tenant+". Send the objectId of a service principal of this server (rekey sp list), not its appId.")
		}
		if p.PrincipalType != "" && !strings.EqualFold(p.PrincipalType, "ServicePrincipal") {
			// ARM's words (its spelling too, which tools match on), with
			// the id in ARM's undashed form.
			return errWire(http.StatusBadRequest, "UnmatchedPrincipalType", "The PrincipalId '"+strings.ReplaceAll(ra.PrincipalID, "-", "")+"' has type 'ServicePrincipal' , which is different from specified PrinciaplType '"+rekey.Clip(p.PrincipalType, 60)+"'. Every principal of this server is a service principal: send principalType 'ServicePrincipal', or leave it out.")
		}
		all, err := tx.RoleAssignments()
		if err != nil {
			return err
		}
		for _, x := range all {
			if strings.EqualFold(x.ID, ra.ID) && strings.EqualFold(x.Scope, ra.Scope) && strings.EqualFold(x.PrincipalID, ra.PrincipalID) && strings.EqualFold(x.RoleDefinitionID, ra.RoleDefinitionID) {
				ra = x // the same assignment again: IaC tools re-apply it
				return nil
			}
			if strings.EqualFold(x.ID, ra.ID) && (!strings.EqualFold(x.PrincipalID, ra.PrincipalID) || !strings.EqualFold(x.Scope, ra.Scope)) {
				// ARM's answer, as Bicep and Terraform users meet it when a
				// deterministic assignment name is reused.
				return errWire(http.StatusBadRequest, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated. The role assignment '"+x.ID+"' exists for principal '"+x.PrincipalID+"' at '"+rekey.Clip(x.Scope, 200)+"'; choose a new GUID, or delete the old assignment first.")
			}
			if strings.EqualFold(x.ID, ra.ID) {
				return errWire(http.StatusConflict, "RoleAssignmentExists", "The role assignment already exists: its name '"+x.ID+"' is taken (at '"+rekey.Clip(x.Scope, 200)+"'). Role assignments cannot be updated; choose a new GUID, or delete the old assignment first.")
			}
			if strings.EqualFold(x.Scope, ra.Scope) && strings.EqualFold(x.PrincipalID, ra.PrincipalID) && strings.EqualFold(x.RoleDefinitionID, ra.RoleDefinitionID) {
				return errWire(http.StatusConflict, "RoleAssignmentExists", "The role assignment already exists: '"+x.ID+"' assigns the same role to the same principal at this scope.")
			}
		}
		return tx.PutRoleAssignment(ra)
	})
	if err != nil {
		return err
	}
	return encode(w, http.StatusCreated, toAssignmentJSON(ra))
}

// scopeExists checks that an assignment scope names something this server
// knows. Subscriptions and resource groups exist implicitly in rekey (a
// PUT of a workspace creates both), so any well-formed one is accepted,
// and an operator can grant access before anything is created; a resource
// scope must name an existing workspace, endpoint, deployment or account.
func (a *api) scopeExists(tx rekey.Tx, scope string) error {
	sc, err := authz.ParseScope(scope)
	if err != nil || sc.Resource == "" {
		return err
	}
	notFound := errWire(http.StatusNotFound, "ResourceNotFound", "The resource '"+rekey.Clip(scope, 300)+"' was not found, so no role can be assigned on it. Create the resource first, or assign at its resource group. "+notFoundPointer)
	segs := strings.Split(strings.TrimPrefix(sc.Resource, "/"), "/") // providers, ns, type, name, ...
	ns, pairs := segs[1], segs[2:]
	ws := rekey.WorkspaceID{Subscription: sc.Subscription, ResourceGroup: sc.ResourceGroup}
	switch {
	case strings.EqualFold(ns, rekey.NamespaceML) && strings.EqualFold(pairs[0], "workspaces"):
		ws.Name = pairs[1]
		switch {
		case len(pairs) == 2:
			_, err = tx.Workspace(ws)
		case len(pairs) == 4 && strings.EqualFold(pairs[2], "onlineEndpoints"):
			_, err = tx.Endpoint(rekey.EndpointID{Workspace: ws, Name: pairs[3]})
		case len(pairs) == 6 && strings.EqualFold(pairs[2], "onlineEndpoints") && strings.EqualFold(pairs[4], "deployments"):
			_, err = tx.Deployment(rekey.DeploymentID{Endpoint: rekey.EndpointID{Workspace: ws, Name: pairs[3]}, Name: pairs[5]})
		default:
			return notFound
		}
	case strings.EqualFold(ns, rekey.NamespaceCS) && strings.EqualFold(pairs[0], "accounts") && len(pairs) == 2:
		_, err = tx.Account(rekey.AccountID{Subscription: sc.Subscription, ResourceGroup: sc.ResourceGroup, Name: pairs[1]})
	default:
		return notFound
	}
	if rekey.ErrorCode(err) == rekey.NotFound {
		return notFound
	}
	return err
}
