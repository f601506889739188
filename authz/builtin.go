package authz

import (
	"strings"

	"github.com/rekey-dev/rekey"
)

// Azure's built-in role ids (the roleDefinitions name, the same in every
// tenant and subscription).
const (
	OwnerID                        = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	ContributorID                  = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	ReaderID                       = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	AzureMLDataScientistID         = "f6c7c914-8db3-469d-8ca1-694a8f32e121"
	CognitiveServicesContributorID = "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68"
	CognitiveServicesUserID        = "a97b65f3-24c7-4388-baec-2e87135dc908"
)

// BuiltIn lists the built-in roles rekey knows, with Azure's names,
// descriptions and ids. Their permission lists are Azure's, restricted to
// the providers rekey serves (Microsoft.MachineLearningServices,
// Microsoft.CognitiveServices, Microsoft.Authorization,
// Microsoft.Resources): entries for providers rekey has no resources of,
// such as Microsoft.Insights or Microsoft.Support, are left out.
// BuiltIn returns fresh copies; callers may modify them.
func BuiltIn() []*rekey.RoleDefinition {
	root := []string{"/"}
	def := func(id, name, desc string, p rekey.Permission) *rekey.RoleDefinition {
		for _, l := range []*[]string{&p.Actions, &p.NotActions, &p.DataActions, &p.NotDataActions} {
			if *l == nil {
				*l = []string{}
			}
		}
		return &rekey.RoleDefinition{ID: id, RoleName: name, Description: desc, BuiltIn: true,
			Permissions: []rekey.Permission{p}, AssignableScopes: root}
	}
	return []*rekey.RoleDefinition{
		def(OwnerID, "Owner", "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
			rekey.Permission{Actions: []string{"*"}}),
		def(ContributorID, "Contributor", "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
			rekey.Permission{Actions: []string{"*"}, NotActions: []string{
				"Microsoft.Authorization/*/Delete",
				"Microsoft.Authorization/*/Write",
				"Microsoft.Authorization/elevateAccess/Action",
			}}),
		def(ReaderID, "Reader", "View all resources, but does not allow you to make any changes.",
			rekey.Permission{Actions: []string{"*/read"}}),
		def(AzureMLDataScientistID, "AzureML Data Scientist", "Can perform all actions within an Azure Machine Learning workspace, except for creating or deleting compute resources and modifying the workspace itself.",
			rekey.Permission{
				Actions: []string{
					"Microsoft.MachineLearningServices/workspaces/*/read",
					"Microsoft.MachineLearningServices/workspaces/*/action",
					"Microsoft.MachineLearningServices/workspaces/*/delete",
					"Microsoft.MachineLearningServices/workspaces/*/write",
				},
				NotActions: []string{
					"Microsoft.MachineLearningServices/workspaces/delete",
					"Microsoft.MachineLearningServices/workspaces/write",
					"Microsoft.MachineLearningServices/workspaces/computes/*/write",
					"Microsoft.MachineLearningServices/workspaces/computes/*/delete",
					"Microsoft.MachineLearningServices/workspaces/computes/listKeys/action",
					"Microsoft.MachineLearningServices/workspaces/listKeys/action",
					"Microsoft.MachineLearningServices/workspaces/hubs/write",
					"Microsoft.MachineLearningServices/workspaces/hubs/delete",
					"Microsoft.MachineLearningServices/workspaces/featurestores/write",
					"Microsoft.MachineLearningServices/workspaces/featurestores/delete",
				},
			}),
		def(CognitiveServicesContributorID, "Cognitive Services Contributor", "Lets you create, read, update, delete and manage keys of Cognitive Services.",
			rekey.Permission{Actions: []string{
				"Microsoft.Authorization/*/read",
				"Microsoft.CognitiveServices/*",
				"Microsoft.Resources/subscriptions/read",
				"Microsoft.Resources/subscriptions/resourceGroups/read",
			}}),
		def(CognitiveServicesUserID, "Cognitive Services User", "Lets you read and list keys of Cognitive Services.",
			rekey.Permission{
				Actions: []string{
					"Microsoft.CognitiveServices/*/read",
					"Microsoft.CognitiveServices/accounts/listkeys/action",
					"Microsoft.Resources/subscriptions/read",
					"Microsoft.Resources/subscriptions/resourceGroups/read",
				},
				DataActions: []string{"Microsoft.CognitiveServices/*"},
			}),
	}
}

var builtInByID = func() map[string]*rekey.RoleDefinition {
	m := map[string]*rekey.RoleDefinition{}
	for _, d := range BuiltIn() {
		m[d.ID] = d
	}
	return m
}()

// IsBuiltIn reports whether id names a built-in role.
func IsBuiltIn(id string) bool { return builtInByID[strings.ToLower(id)] != nil }
