package rekey

import (
	"context"
	"time"
)

// Store persists rekey's state. Every change runs inside Update, so a
// resource change and the operation that reports it commit together or not
// at all; a nil return from Update means the change is durable.
//
// Implementations: store/sqlite (embedded default) and store/postgres
// (PostgreSQL, shared by several replicas; --database). Every
// implementation passes store/storetest.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits it when fn
	// returns nil. An error from fn rolls everything back and is returned
	// as is. fn may run more than once: store/postgres runs a transaction
	// that PostgreSQL aborted as a serialization failure or deadlock
	// again, so fn must not act outside the transaction.
	Update(ctx context.Context, fn func(Tx) error) error
	// Watch registers fn to be called after every committed Update that
	// appended to the change feed, before Update returns. fn must be quick
	// and must not call Update.
	Watch(fn func())
	// Ready reports whether the store is open and migrated.
	Ready(ctx context.Context) error
	Close() error
}

// Notifier is implemented by stores that can say when the change feed may
// have grown, so that a gateway's table and the operation runner follow
// it at once rather than on their next poll. It is only a wake-up: a
// receiver reads the feed from where it stopped, so a lost or coalesced
// notification delays a change (until the receiver's fallback poll) but
// never loses it.
type Notifier interface {
	// Notify returns a channel that receives a value, coalesced, after a
	// change-feed append committed by this process or (for a store that
	// several processes share) by another, and after the store reconnects
	// to a database it lost. It stops when ctx is done.
	Notify(ctx context.Context) <-chan struct{}
}

// Tx is a transaction. Its methods use the context Update or View was
// called with. Methods that return one resource return an error with code
// NotFound when it does not exist.
type Tx interface {
	Workspace(id WorkspaceID) (*Workspace, error)
	// PutWorkspace creates or replaces w and reports whether it was created.
	PutWorkspace(w *Workspace) (created bool, err error)
	// DeleteWorkspace removes the workspace, its endpoints and their keys.
	DeleteWorkspace(id WorkspaceID) error
	// Workspaces lists workspaces of a subscription, and of one resource
	// group when rg is not "", ordered by case-folded name.
	Workspaces(subscription, rg string) ([]*Workspace, error)

	Endpoint(id EndpointID) (*Endpoint, error)
	// PutEndpoint creates or replaces e. It fails with ParentNotFound when
	// the workspace does not exist and with Conflict when another
	// workspace on this server has an endpoint of the same name.
	PutEndpoint(e *Endpoint) (created bool, err error)
	// DeleteEndpoint removes the endpoint and its keys.
	DeleteEndpoint(id EndpointID) error
	// Endpoints lists a workspace's endpoints in creation order.
	Endpoints(ws WorkspaceID) ([]*Endpoint, error)
	// EndpointByName finds an endpoint by its server-unique name.
	EndpointByName(name string) (*Endpoint, error)
	// AllEndpoints lists every endpoint on the server.
	AllEndpoints() ([]*Endpoint, error)

	Deployment(id DeploymentID) (*Deployment, error)
	// PutDeployment creates or replaces d; ParentNotFound without its endpoint.
	PutDeployment(d *Deployment) (created bool, err error)
	DeleteDeployment(id DeploymentID) error
	// Deployments lists an endpoint's deployments in creation order.
	Deployments(ep EndpointID) ([]*Deployment, error)

	Account(id AccountID) (*Account, error)
	// PutAccount creates or replaces a and reports whether it was created.
	PutAccount(a *Account) (created bool, err error)
	// DeleteAccount removes the account and both of its key sets.
	DeleteAccount(id AccountID) error
	// Accounts lists accounts of a subscription, and of one resource group
	// when rg is not "", ordered by group and case-folded name.
	Accounts(subscription, rg string) ([]*Account, error)

	// Keys returns the stored keys of an owner (a resource Key(), or a
	// key set such as AccountID.EndpointKeys()), in slot order.
	Keys(resource string) ([]StoredKey, error)
	// PutKey sets one slot, raising its version by one, and returns the
	// new version. The key the slot held becomes k's previous key, valid
	// until k.PreviousValidUntil, when that is after k.UpdatedAt;
	// otherwise it is dropped (digest, ciphertext and time cleared).
	// PutKey may also drop any owner's previous key whose window ended
	// by k.UpdatedAt, so that no expired key stays at rest.
	PutKey(k StoredKey) (version int64, err error)
	// KeysByDigest returns every stored key with digest d (normally one).
	KeysByDigest(d Digest) ([]StoredKey, error)
	// ScanKeys calls fn for every stored key.
	ScanKeys(fn func(StoredKey) error) error
	// AllAccounts lists every account on the server.
	AllAccounts() ([]*Account, error)
	// Subscriptions lists, lower-cased and sorted, every subscription id
	// that holds a workspace or an account.
	Subscriptions() ([]string, error)

	// Changes returns up to limit change-feed entries after seq, oldest
	// first, and the oldest seq the feed still holds (older ones are
	// pruned; a reader further behind must reload everything).
	Changes(after int64, limit int) (changes []Change, oldest int64, err error)
	// LatestChange returns the newest seq, or 0.
	LatestChange() (int64, error)

	// AddKeyUsage adds counts to a slot's usage, keeping the later LastUsed.
	// Counts for an owner that has no keys (deleted since the requests were
	// counted) are dropped, so they cannot reappear on a new resource of
	// the same name. Deleting an owner deletes its usage with its keys.
	AddKeyUsage(u KeyUsage) error
	// KeyUsage returns the usage of an owner's slots (only those ever used).
	KeyUsage(owner string) ([]KeyUsage, error)
	// PruneKeyUsage deletes up to limit usage rows last used before t and
	// returns how many it deleted.
	PruneKeyUsage(before time.Time, limit int) (int, error)

	Operation(id string) (*Operation, error)
	// PutOperation inserts op or replaces the one with its ID.
	PutOperation(op *Operation) error
	// DueOperations returns up to limit InProgress operations whose
	// NotBefore is at or before now, oldest first.
	DueOperations(now time.Time, limit int) ([]*Operation, error)
	// NextOperation returns the earliest time an InProgress operation can
	// be claimed (the later of its NotBefore and its LeaseUntil), and false
	// when there is none.
	NextOperation() (time.Time, bool, error)
	// ClaimOperations leases up to limit due InProgress operations to
	// owner until now+lease, oldest first, and returns them with the
	// lease set. An operation is due when its NotBefore is at or before
	// now and it holds no lease that ends after now: an operation whose
	// runner died is claimed again once its lease ends. Two transactions
	// claiming at once never get the same operation (on a shared store,
	// the second skips the rows the first holds).
	ClaimOperations(owner string, now time.Time, lease time.Duration, limit int) ([]*Operation, error)
	// PruneOperations deletes up to limit terminal operations that ended
	// before t (an operation without EndedAt counts from CreatedAt) and
	// returns how many it deleted. InProgress operations are never pruned.
	PruneOperations(before time.Time, limit int) (int, error)

	// PrincipalByToken finds the principal whose token hashes to h.
	PrincipalByToken(h [32]byte) (*Principal, error)
	// PutPrincipal creates or replaces a principal and its token hash.
	PutPrincipal(p *Principal, h [32]byte) error

	// ServicePrincipal finds a service principal by its appId (client id),
	// matched case-insensitively as Entra matches GUIDs.
	ServicePrincipal(appID string) (*ServicePrincipal, error)
	// PutServicePrincipal creates or replaces sp. Two principals may not
	// share an appId or an objectId (Conflict).
	PutServicePrincipal(sp *ServicePrincipal) (created bool, err error)
	// DeleteServicePrincipal removes the principal and, in the same
	// transaction, every role assignment to its objectId.
	DeleteServicePrincipal(appID string) error
	// ServicePrincipals lists every service principal, oldest first.
	ServicePrincipals() ([]*ServicePrincipal, error)

	// RoleDefinitions lists the custom role definitions (built-in roles
	// are not stored), oldest first.
	RoleDefinitions() ([]*RoleDefinition, error)
	// PutRoleDefinition creates or replaces the custom role with d's ID
	// and reports whether it was created. Role names are unique among
	// custom roles, case-insensitively (Conflict).
	PutRoleDefinition(d *RoleDefinition) (created bool, err error)
	// DeleteRoleDefinition removes a custom role; NotFound when there is
	// none with that ID. Callers refuse while assignments use it.
	DeleteRoleDefinition(id string) error
	// RoleAssignments lists every role assignment, oldest first. Servers
	// hold few, so callers filter by scope and principal themselves.
	RoleAssignments() ([]*RoleAssignment, error)
	// PutRoleAssignment creates the assignment with a's ID; Conflict when
	// that ID exists. Assignments are never updated, as in ARM.
	PutRoleAssignment(a *RoleAssignment) error
	// DeleteRoleAssignment removes an assignment; NotFound without it.
	DeleteRoleAssignment(id string) error
	// Every change to role definitions and assignments, including those
	// DeleteServicePrincipal makes, appends a ChangedRoles entry to the
	// change feed.

	// SigningKeys lists the token service's signing keys, oldest first.
	SigningKeys() ([]*SigningKey, error)
	// PutSigningKey creates or replaces the key with k's kid.
	PutSigningKey(k *SigningKey) error
	DeleteSigningKey(kid string) error

	// AppendAudit appends r to the audit log and sets r.Seq, which grows
	// with every append. Call it in the transaction of the change r
	// describes, so that both commit or neither does.
	AppendAudit(r *AuditRecord) error
	// AuditRecords returns up to f.Limit (at most MaxAuditPage) records
	// that match f, newest first (by Seq, descending).
	AuditRecords(f AuditFilter) ([]AuditRecord, error)
	// PruneAudit deletes up to limit records older than before and
	// returns how many it deleted.
	PruneAudit(before time.Time, limit int) (int, error)

	// Reset removes every resource (workspaces, endpoints, deployments,
	// accounts), every key, usage count and operation, and the change
	// feed's history, and appends one ChangedAll entry, so that a gateway
	// following the feed drops everything it holds at once. It keeps the
	// server's identity: principals (the admin credential), service
	// principals, signing keys, settings such as the tenant, role
	// definitions and assignments; and the audit log, which records the
	// reset itself.
	Reset() error

	// Setting returns a server-wide setting (Setting* names); NotFound
	// when it was never set.
	Setting(name string) (string, error)
	PutSetting(name, value string) error
}
