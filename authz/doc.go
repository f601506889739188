// Package authz decides, as Azure RBAC does, whether a principal may
// perform an action over a scope: role definitions (Actions minus
// NotActions, DataActions minus NotDataActions, ARM's case-insensitive
// wildcards), the union of the principal's assignments at the scope and
// above, and Azure's built-in roles restricted to what rekey serves.
//
// It is domain logic: it reads a rekey.Store and knows nothing of HTTP.
// The ARM dialect asks it about every management request and the gateway
// about every AADToken scoring request; decisions are cached until a role
// definition or assignment changes.
package authz
