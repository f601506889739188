package arm

import (
	"net/http"
	"slices"
	"strings"

	"github.com/rekey-dev/rekey"
)

// DefaultSubscription is the subscription every rekey server knows,
// whether or not anything has been created in it: the one rekey's CLI and
// examples use.
const DefaultSubscription = "00000000-0000-0000-0000-000000000000"

// Published api-versions of ARM's subscriptions and tenants (the
// Microsoft.Resources SubscriptionClient); the Azure CLI 2.45 uses
// 2019-11-01 (2016-06-01 in its Azure Stack profiles).
var subscriptionVersions = []string{
	"2014-04-01-preview", "2015-11-01", "2016-06-01", "2018-06-01", "2019-06-01",
	"2019-11-01", "2020-01-01", "2021-01-01", "2022-12-01",
}

// Versions of GET /metadata/endpoints: 2015-01-01 answers one object (what
// `az cloud register --endpoint-resource-manager` reads), the later ones a
// list of clouds.
var metadataVersions = []string{"2015-01-01", "2019-05-01", "2020-06-01", "2022-09-01"}

// Audiences are the resource ids whose tokens ARM accepts, in the order
// ARM's metadata lists them; the first is the one the Azure CLI requests.
var Audiences = []string{"https://management.core.windows.net/", "https://management.azure.com/"}

// subscriptionBody is a subscription as ARM's Subscriptions API shows it.
type subscriptionBody struct {
	ID                   string   `json:"id"`
	AuthorizationSource  string   `json:"authorizationSource"`
	ManagedByTenants     []string `json:"managedByTenants"`
	SubscriptionID       string   `json:"subscriptionId"`
	TenantID             string   `json:"tenantId"`
	DisplayName          string   `json:"displayName"`
	State                string   `json:"state"`
	SubscriptionPolicies struct {
		LocationPlacementID string `json:"locationPlacementId"`
		QuotaID             string `json:"quotaId"`
		SpendingLimit       string `json:"spendingLimit"`
	} `json:"subscriptionPolicies"`
}

type listCount struct {
	Type  string `json:"type"`
	Value int    `json:"value"`
}

func (a *api) subscriptionBody(id string) subscriptionBody {
	s := subscriptionBody{
		ID: "/subscriptions/" + id, AuthorizationSource: "RoleBased", ManagedByTenants: []string{},
		SubscriptionID: id, TenantID: a.Tenant, DisplayName: "rekey " + id, State: "Enabled",
	}
	s.SubscriptionPolicies.LocationPlacementID = "Public_2014-09-01"
	s.SubscriptionPolicies.QuotaID = "PayAsYouGo_2014-09-01"
	s.SubscriptionPolicies.SpendingLimit = "Off"
	return s
}

// knownSubscriptions lists the subscriptions this server knows: the
// default one, those configured, and every one that holds a resource,
// lower-cased and sorted.
func (a *api) knownSubscriptions(r *http.Request) ([]string, error) {
	subs := []string{DefaultSubscription}
	for _, s := range a.Subscriptions {
		subs = append(subs, strings.ToLower(s))
	}
	err := a.Store.View(r.Context(), func(tx rekey.Tx) error {
		used, err := tx.Subscriptions()
		subs = append(subs, used...)
		return err
	})
	slices.Sort(subs)
	return slices.Compact(subs), err
}

// handleSubscriptionList handles GET /subscriptions, which `az login`
// calls to find what the signed-in principal can use.
func (a *api) handleSubscriptionList(w http.ResponseWriter, r *http.Request) error {
	subs, err := a.knownSubscriptions(r)
	if err != nil {
		return err
	}
	var page struct {
		Value []subscriptionBody `json:"value"`
		Count listCount          `json:"count"`
	}
	page.Value = make([]subscriptionBody, 0, len(subs))
	for _, s := range subs {
		page.Value = append(page.Value, a.subscriptionBody(s))
	}
	page.Count = listCount{Type: "Total", Value: len(subs)}
	return encode(w, http.StatusOK, page)
}

// handleSubscriptionGet handles GET /subscriptions/{subscriptionId}.
func (a *api) handleSubscriptionGet(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("subscriptionId")
	subs, err := a.knownSubscriptions(r)
	if err != nil {
		return err
	}
	if !slices.Contains(subs, strings.ToLower(id)) {
		return errWire(http.StatusNotFound, "SubscriptionNotFound", "The subscription '"+rekey.Clip(id, 60)+"' could not be found.")
	}
	return encode(w, http.StatusOK, a.subscriptionBody(strings.ToLower(id)))
}

// handleTenantList handles GET /tenants: the one tenant of this server.
func (a *api) handleTenantList(w http.ResponseWriter, r *http.Request) error {
	type tenant struct {
		ID             string   `json:"id"`
		TenantID       string   `json:"tenantId"`
		TenantCategory string   `json:"tenantCategory"`
		CountryCode    string   `json:"countryCode"`
		DisplayName    string   `json:"displayName"`
		Domains        []string `json:"domains"`
		DefaultDomain  string   `json:"defaultDomain"`
		TenantType     string   `json:"tenantType"`
	}
	return encode(w, http.StatusOK, struct {
		Value []tenant  `json:"value"`
		Count listCount `json:"count"`
	}{
		Value: []tenant{{ID: "/tenants/" + a.Tenant, TenantID: a.Tenant, TenantCategory: "Home", CountryCode: "US",
			DisplayName: "rekey", Domains: []string{"rekey.local"}, DefaultDomain: "rekey.local", TenantType: "AAD"}},
		Count: listCount{Type: "Total", Value: 1},
	})
}

// handleMetadata handles GET /metadata/endpoints, unauthenticated as in
// ARM: the cloud description from which `az cloud register
// --endpoint-resource-manager URL` learns where to sign in. Its login
// endpoint is this server's `/adfs` authority, for which the identity
// libraries (MSAL, and so the Azure CLI) skip instance discovery, which
// would otherwise ask login.microsoftonline.com.
func (a *api) handleMetadata(w http.ResponseWriter, r *http.Request) error {
	base := a.baseURL(r)
	login := base + "/adfs"
	if apiVersion(r) == "2015-01-01" {
		type auth struct {
			LoginEndpoint string   `json:"loginEndpoint"`
			Audiences     []string `json:"audiences"`
		}
		return encode(w, http.StatusOK, struct {
			GalleryEndpoint string `json:"galleryEndpoint"`
			GraphEndpoint   string `json:"graphEndpoint"`
			PortalEndpoint  string `json:"portalEndpoint"`
			Authentication  auth   `json:"authentication"`
		}{base + "/", "https://graph.windows.net/", base + "/", auth{login, Audiences}})
	}
	type auth struct {
		LoginEndpoint    string   `json:"loginEndpoint"`
		Audiences        []string `json:"audiences"`
		Tenant           string   `json:"tenant"`
		IdentityProvider string   `json:"identityProvider"`
	}
	type cloud struct {
		Name            string            `json:"name"`
		Portal          string            `json:"portal"`
		Gallery         string            `json:"gallery"`
		Graph           string            `json:"graph"`
		GraphAudience   string            `json:"graphAudience"`
		ResourceManager string            `json:"resourceManager"`
		Authentication  auth              `json:"authentication"`
		Suffixes        map[string]string `json:"suffixes"`
	}
	return encode(w, http.StatusOK, []cloud{{
		Name: "rekey", Portal: base + "/", Gallery: base + "/", Graph: "https://graph.windows.net/",
		GraphAudience: "https://graph.windows.net/", ResourceManager: base + "/",
		Authentication: auth{LoginEndpoint: login, Audiences: Audiences, Tenant: "adfs", IdentityProvider: "ADFS"},
		Suffixes:       map[string]string{},
	}})
}
