package rekey

import "time"

// RoleDefinition is a named set of permissions, as Azure RBAC defines one.
// Built-in roles (authz.BuiltIn) are not stored; custom ones are.
// ID is the definition's GUID (its ARM name).
type RoleDefinition struct {
	ID          string       `json:"id"`
	RoleName    string       `json:"roleName"`
	Description string       `json:"description"`
	BuiltIn     bool         `json:"builtIn"` // roleType BuiltInRole rather than CustomRole
	Permissions []Permission `json:"permissions"`
	// AssignableScopes are the scopes at and below which the role may be
	// assigned: "/", subscriptions or resource groups.
	AssignableScopes []string  `json:"assignableScopes"`
	Created          time.Time `json:"created,omitzero"`
	Updated          time.Time `json:"updated,omitzero"`
	CreatedBy        string    `json:"createdBy,omitempty"`
	UpdatedBy        string    `json:"updatedBy,omitempty"`
}

// Permission is one entry of a role's permissions: what it grants
// (Actions, DataActions) minus what it excludes (NotActions,
// NotDataActions), with ARM's case-insensitive wildcards.
type Permission struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

// RoleAssignment grants a principal a role at a scope and, as in Azure,
// at every scope below it. ID is the assignment's GUID (its ARM name).
type RoleAssignment struct {
	ID string `json:"id"`
	// Scope is "/", a subscription, a resource group or a resource id, as
	// the caller spelled it; scopes are compared case-insensitively.
	Scope            string    `json:"scope"`
	RoleDefinitionID string    `json:"roleDefinitionId"` // the definition's GUID
	PrincipalID      string    `json:"principalId"`      // the principal's object id
	PrincipalType    string    `json:"principalType"`    // ServicePrincipal, User, Group, ...
	Description      string    `json:"description,omitempty"`
	Created          time.Time `json:"created,omitzero"`
	Updated          time.Time `json:"updated,omitzero"`
	CreatedBy        string    `json:"createdBy,omitempty"`
	UpdatedBy        string    `json:"updatedBy,omitempty"`
}

// ChangedRoles is the change-feed kind for role definitions and
// assignments: Key is "definition/{id}", "assignment/{id}" or "principal/{objectId}"
// (a deleted principal's assignments). Processes
// that cache authorization decisions drop them when they see one.
const ChangedRoles ChangeKind = "roles"
