package rekey

import "time"

// Workspace is an Azure Machine Learning workspace: the parent of online
// endpoints. rekey keeps only what its resource body shows.
type Workspace struct {
	ID           WorkspaceID
	UID          string // workspaceId: a GUID fixed at creation
	Location     string
	Tags         map[string]string // or nil
	Kind         string
	FriendlyName string
	Description  string
	SKU          *SKU      // or nil
	Identity     *Identity // or nil
	SystemData   SystemData
}

// SystemData records who created and last changed a resource, and when.
type SystemData struct {
	CreatedBy      string
	CreatedAt      time.Time
	LastModifiedBy string
	LastModifiedAt time.Time
}

// SKU is ARM's sku object, kept as given.
type SKU struct {
	Name     string
	Tier     string
	Size     string
	Family   string
	Capacity *int32 // or nil
}

// Identity is ARM's managed service identity as rekey keeps it: the type
// and the ids of user-assigned identities. rekey issues no real identities,
// so principal and tenant ids are derived, stable GUIDs.
type Identity struct {
	Type         string
	UserAssigned []string // ARM ids; sorted
	PrincipalID  string
	TenantID     string
}
