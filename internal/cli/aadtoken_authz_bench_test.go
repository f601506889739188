package cli

import (
	"path/filepath"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/authz"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// BenchmarkAuthorizeScore is what the gateway's AADToken path adds per
// scoring request once a token has been seen: the token's principal from
// the per-token cache, and the authorizer's cached decision.
func BenchmarkAuthorizeScore(b *testing.B) {
	store, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "rekey.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	const ep = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg/providers/microsoft.machinelearningservices/workspaces/w/onlineendpoints/e"
	store.Update(b.Context(), func(tx rekey.Tx) error {
		return tx.PutRoleAssignment(&rekey.RoleAssignment{ID: "33333333-0000-4000-8000-000000000001", Scope: "/subscriptions/00000000-0000-0000-0000-000000000000",
			RoleDefinitionID: authz.AzureMLDataScientistID, PrincipalID: "p"})
	})
	a := aadTokens{authz: &authz.Authorizer{Store: store}, who: &tokenPrincipals{m: map[string]rekey.Principal{"token": {ID: "p", Name: "app"}}}}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := a.AuthorizeScore(b.Context(), "token", ep); !ok || err != nil {
			b.Fatal("refused")
		}
	}
}
