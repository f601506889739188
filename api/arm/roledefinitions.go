package arm

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/authz"
)

// roleDefinitionJSON is a role definition on the wire (2022-04-01).
type roleDefinitionJSON struct {
	ID         string                  `json:"id"`
	Name       string                  `json:"name"`
	Type       string                  `json:"type"`
	Properties roleDefinitionPropsJSON `json:"properties"`
}

type roleDefinitionPropsJSON struct {
	RoleName         string           `json:"roleName"`
	Type             string           `json:"type"`
	Description      string           `json:"description"`
	AssignableScopes []string         `json:"assignableScopes"`
	Permissions      []permissionJSON `json:"permissions"`
	CreatedOn        *string          `json:"createdOn"`
	UpdatedOn        *string          `json:"updatedOn"`
	CreatedBy        *string          `json:"createdBy"`
	UpdatedBy        *string          `json:"updatedBy"`
}

type permissionJSON struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

// checkAuthzScope validates the scope of a Microsoft.Authorization path.
func checkAuthzScope(scope string) error {
	sc, err := authz.ParseScope(scope)
	if err == nil {
		return nil
	}
	if segs := strings.Split(scope, "/"); len(segs) > 2 && strings.EqualFold(segs[1], "subscriptions") && sc.Subscription == "" {
		if err := checkScope(segs[2], ""); err != nil {
			return err
		}
	}
	return errWire(http.StatusBadRequest, "InvalidScope", rekey.ErrorMessage(err))
}

// scopePrefix is the path before "/providers/Microsoft.Authorization" of
// ids under scope: "" at the root.
func scopePrefix(scope string) string {
	if scope == "/" {
		return ""
	}
	return scope
}

// definitionID is a role definition's id as ARM shows it under a scope:
// subscription-qualified below the root, as ARM does.
func definitionID(scope, id string) string {
	prefix := ""
	if sc, err := authz.ParseScope(scope); err == nil && sc.Subscription != "" {
		prefix = "/subscriptions/" + sc.Subscription
	}
	return prefix + authzNS + kindDefinitions + "/" + id
}

func stamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.0000000Z")
	return &s
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toDefinitionJSON(scope string, d *rekey.RoleDefinition) roleDefinitionJSON {
	typ := "CustomRole"
	if d.BuiltIn {
		typ = "BuiltInRole"
	}
	perms := make([]permissionJSON, 0, len(d.Permissions))
	for _, p := range d.Permissions {
		perms = append(perms, permissionJSON{nonNil(p.Actions), nonNil(p.NotActions), nonNil(p.DataActions), nonNil(p.NotDataActions)})
	}
	return roleDefinitionJSON{
		ID: definitionID(scope, d.ID), Name: d.ID, Type: typeDefinition,
		Properties: roleDefinitionPropsJSON{
			RoleName: d.RoleName, Type: typ, Description: d.Description, AssignableScopes: nonNil(d.AssignableScopes),
			Permissions: perms, CreatedOn: stamp(d.Created), UpdatedOn: stamp(d.Updated),
			CreatedBy: optional(d.CreatedBy), UpdatedBy: optional(d.UpdatedBy),
		},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// definitions returns the built-in roles and the stored custom ones.
func (a *api) definitions(r *http.Request) ([]*rekey.RoleDefinition, error) {
	defs := authz.BuiltIn()
	err := a.Store.View(r.Context(), func(tx rekey.Tx) error {
		custom, err := tx.RoleDefinitions()
		defs = append(defs, custom...)
		return err
	})
	return defs, err
}

// findDefinition returns the role with id, built in or custom.
func findDefinition(defs []*rekey.RoleDefinition, id string) *rekey.RoleDefinition {
	for _, d := range defs {
		if strings.EqualFold(d.ID, id) {
			return d
		}
	}
	return nil
}

// usableAt reports whether a role may be seen and assigned at scope: one
// of its assignable scopes is at or above it.
func usableAt(d *rekey.RoleDefinition, scope string) bool {
	for _, s := range d.AssignableScopes {
		if authz.Covers(s, scope) {
			return true
		}
	}
	return false
}

// handleRoleDefinitionList handles GET {scope}/providers/Microsoft.Authorization/roleDefinitions,
// with $filter=roleName eq '{name}' or type eq 'BuiltInRole'|'CustomRole'.
func (a *api) handleRoleDefinitionList(w http.ResponseWriter, r *http.Request, rt authzRoute) error {
	filter := r.URL.Query().Get("$filter")
	match := func(*rekey.RoleDefinition) bool { return true }
	if filter != "" {
		field, value, ok := parseEqFilter(filter)
		switch {
		case ok && strings.EqualFold(field, "roleName"):
			match = func(d *rekey.RoleDefinition) bool { return strings.EqualFold(d.RoleName, value) }
		case ok && strings.EqualFold(field, "type"):
			match = func(d *rekey.RoleDefinition) bool { return strings.EqualFold(value, "BuiltInRole") == d.BuiltIn }
		default:
			return errWire(http.StatusBadRequest, "UnsupportedQuery", "The filter '"+rekey.Clip(filter, 200)+"' is not supported. Supported filters are \"roleName eq '{name}'\" and \"type eq 'BuiltInRole'\" or \"type eq 'CustomRole'\".")
		}
	}
	defs, err := a.definitions(r)
	if err != nil {
		return err
	}
	page := struct {
		Value []roleDefinitionJSON `json:"value"`
	}{Value: []roleDefinitionJSON{}}
	for _, d := range defs {
		// At the root every role shows; below it, those assignable there.
		if match(d) && (rt.scope == "/" || usableAt(d, rt.scope)) {
			page.Value = append(page.Value, toDefinitionJSON(rt.scope, d))
		}
	}
	return encode(w, http.StatusOK, page)
}

// parseEqFilter parses "{field} eq '{value}'", where a quote in value is
// doubled, as OData writes it.
func parseEqFilter(f string) (field, value string, ok bool) {
	f = strings.TrimSpace(f)
	field, rest, ok := strings.Cut(f, " ")
	if !ok {
		return "", "", false
	}
	rest = strings.TrimSpace(rest)
	if len(rest) < 4 || !strings.EqualFold(rest[:3], "eq ") {
		return "", "", false
	}
	rest = strings.TrimSpace(rest[3:])
	if len(rest) < 2 || rest[0] != '\'' || rest[len(rest)-1] != '\'' {
		return "", "", false
	}
	inner := rest[1 : len(rest)-1]
	if strings.Count(inner, "'")%2 != 0 {
		return "", "", false
	}
	return field, strings.ReplaceAll(inner, "''", "'"), true
}

// handleRoleDefinitionGet handles GET {scope}/providers/Microsoft.Authorization/roleDefinitions/{id}.
func (a *api) handleRoleDefinitionGet(w http.ResponseWriter, r *http.Request, rt authzRoute) error {
	defs, err := a.definitions(r)
	if err != nil {
		return err
	}
	d := findDefinition(defs, rt.name)
	if d == nil {
		return errRoleDefinitionNotFound(rt.name)
	}
	return encode(w, http.StatusOK, toDefinitionJSON(rt.scope, d))
}

func errRoleDefinitionNotFound(id string) error {
	return errWire(http.StatusNotFound, "RoleDefinitionDoesNotExist", "The specified role definition with ID '"+rekey.Clip(id, 100)+"' does not exist.")
}

// roleDefinitionPut is the body of a role definition PUT.
type roleDefinitionPut struct {
	Properties *struct {
		RoleName         string           `json:"roleName"`
		Description      string           `json:"description"`
		Type             string           `json:"type"`
		AssignableScopes []string         `json:"assignableScopes"`
		Permissions      []permissionJSON `json:"permissions"`
	} `json:"properties"`
}

// handleRoleDefinitionPut handles PUT {scope}/providers/Microsoft.Authorization/roleDefinitions/{id}:
// it creates or replaces a custom role and answers 201 either way, as ARM
// does. Built-in roles cannot be changed.
func (a *api) handleRoleDefinitionPut(w http.ResponseWriter, r *http.Request, rt authzRoute) error {
	if authz.IsBuiltIn(rt.name) {
		return errWire(http.StatusBadRequest, "CannotModifyBuiltInRole", "The role definition '"+rt.name+"' is a built-in role, which cannot be changed. Create a custom role with a new GUID instead.")
	}
	var body roleDefinitionPut
	if err := decode(r, w, a.MaxBody, &body); err != nil {
		return err
	}
	if body.Properties == nil {
		return errWire(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid: the role definition needs 'properties' with roleName, permissions and assignableScopes.")
	}
	p := body.Properties
	if p.Type != "" && !strings.EqualFold(p.Type, "CustomRole") {
		return errWire(http.StatusBadRequest, "InvalidRoleDefinitionType", "The role definition type '"+rekey.Clip(p.Type, 60)+"' is not valid here: only 'CustomRole' definitions can be created.")
	}
	now, who := a.now(), rekey.PrincipalFrom(r.Context()).ID
	d := &rekey.RoleDefinition{ID: strings.ToLower(rt.name), RoleName: p.RoleName, Description: p.Description,
		AssignableScopes: p.AssignableScopes, Created: now, Updated: now, CreatedBy: who, UpdatedBy: who}
	for _, pj := range p.Permissions {
		d.Permissions = append(d.Permissions, rekey.Permission{Actions: nonNil(pj.Actions), NotActions: nonNil(pj.NotActions),
			DataActions: nonNil(pj.DataActions), NotDataActions: nonNil(pj.NotDataActions)})
	}
	if err := authz.ValidateDefinition(d); err != nil {
		code := "InvalidRoleDefinition"
		if strings.Contains(rekey.ErrorMessage(err), "The action") {
			code = "InvalidActionOrNotAction"
		} else if strings.Contains(rekey.ErrorMessage(err), "The scope") {
			code = "InvalidAssignableScope"
		}
		return errWire(http.StatusBadRequest, code, rekey.ErrorMessage(err))
	}
	for _, b := range authz.BuiltIn() {
		if strings.EqualFold(b.RoleName, d.RoleName) {
			return errWire(http.StatusConflict, "RoleDefinitionWithSameNameExists", "A role definition named '"+b.RoleName+"' exists (a built-in role). Choose another roleName.")
		}
	}
	prev, err := a.definition(r, d.ID)
	if err != nil {
		return err
	}
	var prevScopes []string
	if prev != nil {
		prevScopes = prev.AssignableScopes
	}
	if err := a.authorizeScopes(r, rekey.ActionRoleDefinitionWrite, d.AssignableScopes, prevScopes); err != nil {
		return err
	}
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		old, err := tx.RoleDefinitions()
		if err != nil {
			return err
		}
		now := findDefinition(old, d.ID)
		if now != nil && (prev == nil || !slices.Equal(now.AssignableScopes, prev.AssignableScopes)) {
			return errWire(http.StatusConflict, "Conflict", "The role definition '"+d.ID+"' changed while this request ran; send it again.")
		}
		if now != nil {
			d.Created, d.CreatedBy = now.Created, now.CreatedBy
		}
		_, err = tx.PutRoleDefinition(d)
		return err
	})
	if rekey.ErrorCode(err) == rekey.Conflict {
		return errWire(http.StatusConflict, "RoleDefinitionWithSameNameExists", "A custom role named '"+rekey.Clip(d.RoleName, 100)+"' exists with another id. Choose another roleName, or PUT to that role's id to change it.")
	}
	if err != nil {
		return err
	}
	return encode(w, http.StatusCreated, toDefinitionJSON(rt.scope, d))
}

// handleRoleDefinitionDelete handles DELETE {scope}/providers/Microsoft.Authorization/roleDefinitions/{id}:
// 200 with the deleted role, 204 when there is none, 409 while
// assignments use it.
func (a *api) handleRoleDefinitionDelete(w http.ResponseWriter, r *http.Request, rt authzRoute) error {
	if authz.IsBuiltIn(rt.name) {
		return errWire(http.StatusBadRequest, "CannotModifyBuiltInRole", "The role definition '"+rt.name+"' is a built-in role, which cannot be deleted.")
	}
	if prev, err := a.definition(r, rt.name); err != nil {
		return err
	} else if prev != nil {
		if err := a.authorizeScopes(r, rekey.ActionRoleDefinitionDelete, prev.AssignableScopes); err != nil {
			return err
		}
	}
	var gone *rekey.RoleDefinition
	err := a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		defs, err := tx.RoleDefinitions()
		if err != nil {
			return err
		}
		if gone = findDefinition(defs, rt.name); gone == nil {
			rekey.NoteStatus(r.Context(), http.StatusNoContent)
			return nil
		}
		as, err := tx.RoleAssignments()
		if err != nil {
			return err
		}
		for _, ra := range as {
			if strings.EqualFold(ra.RoleDefinitionID, gone.ID) {
				return errWire(http.StatusConflict, "RoleDefinitionHasAssignments", "There are existing role assignments referencing role '"+rekey.Clip(gone.RoleName, 100)+"'; delete them first (e.g. role assignment '"+ra.ID+"' at '"+rekey.Clip(ra.Scope, 200)+"').")
			}
		}
		return tx.DeleteRoleDefinition(gone.ID)
	})
	if err != nil {
		return err
	}
	if gone == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return encode(w, http.StatusOK, toDefinitionJSON(rt.scope, gone))
}

// definition loads the custom role with id, or nil.
func (a *api) definition(r *http.Request, id string) (*rekey.RoleDefinition, error) {
	var d *rekey.RoleDefinition
	err := a.Store.View(r.Context(), func(tx rekey.Tx) error {
		defs, err := tx.RoleDefinitions()
		d = findDefinition(defs, id)
		return err
	})
	return d, err
}
