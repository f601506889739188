package identity

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/rekey-dev/rekey"
)

// discoveryDoc is an OpenID Provider configuration, with the fields
// Entra's has that clients read (MSAL reads issuer, authorization_endpoint
// and token_endpoint; JWT middleware reads issuer and jwks_uri).
type discoveryDoc struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
}

// serveDiscovery answers the OpenID configuration of a tenant. The
// issuer's scheme and host are those the client used (or --public-url):
// MSAL and @azure/identity refuse a document whose issuer is on another
// host than the authority they asked.
func (s *Service) serveDiscovery(version string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant := r.PathValue("tenant")
		kind := s.tenantOf(tenant)
		if kind == tenantUnknown {
			s.writeEntraError(w, r, entraErr(http.StatusBadRequest, "invalid_tenant", 90002, "Tenant '%s' not found. This rekey server's tenant is %s.", rekey.Clip(tenant, 64), s.cfg.Tenant))
			return
		}
		if kind == tenantADFS && version == V2 {
			s.writeEntraError(w, r, entraErr(http.StatusNotFound, "invalid_request", 90023, "The adfs tenant's configuration is at /adfs/.well-known/openid-configuration."))
			return
		}
		writeJSON(w, r, http.StatusOK, s.discovery(s.base(r), kind, strings.ToLower(tenant), version))
	})
}

func (s *Service) discovery(base string, kind tenantKind, tenant, version string) discoveryDoc {
	d := discoveryDoc{
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "client_secret_basic"},
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "id_token token"},
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		ClaimsSupported:                   []string{"aud", "iss", "iat", "nbf", "exp", "appid", "azp", "idtyp", "oid", "sub", "tid", "uti", "ver"},
		GrantTypesSupported:               []string{"client_credentials"},
		CloudInstanceName:                 "microsoftonline.com",
		CloudGraphHostName:                "graph.windows.net",
		MSGraphHost:                       "graph.microsoft.com",
	}
	// Multi-tenant names put Entra's placeholder in the issuer, as Entra
	// does; a tenant's own document names the tenant.
	tid := s.cfg.Tenant
	if kind == tenantOrganizations || kind == tenantCommon {
		tid = "{tenantid}"
	}
	switch {
	case kind == tenantADFS:
		d.Issuer = issuerADFS(base)
		d.TokenEndpoint = base + "/adfs/oauth2/token"
		d.AuthorizationEndpoint = base + "/adfs/oauth2/authorize"
		d.JWKSURI = base + "/adfs/discovery/keys"
	case version == V2:
		d.Issuer = issuerV2(base, tid)
		d.TokenEndpoint = base + "/" + tenant + "/oauth2/v2.0/token"
		d.AuthorizationEndpoint = base + "/" + tenant + "/oauth2/v2.0/authorize"
		d.JWKSURI = base + "/" + tenant + "/discovery/v2.0/keys"
	default:
		d.Issuer = issuerV1(base, tid)
		d.TokenEndpoint = base + "/" + tenant + "/oauth2/token"
		d.AuthorizationEndpoint = base + "/" + tenant + "/oauth2/authorize"
		d.JWKSURI = base + "/" + tenant + "/discovery/keys"
	}
	return d
}

// serveJWKS publishes the signing keys: the current one and retired ones
// whose tokens may still be valid.
func (s *Service) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if s.tenantOf(r.PathValue("tenant")) == tenantUnknown {
		s.writeEntraError(w, r, entraErr(http.StatusBadRequest, "invalid_tenant", 90002, "Tenant '%s' not found. This rekey server's tenant is %s.", rekey.Clip(r.PathValue("tenant"), 64), s.cfg.Tenant))
		return
	}
	set, err := s.keys.JWKS(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, set)
}

// instanceMetadata is one entry of MSAL's instance discovery answer.
type instanceMetadata struct {
	PreferredNetwork string   `json:"preferred_network"`
	PreferredCache   string   `json:"preferred_cache"`
	Aliases          []string `json:"aliases"`
}

// serveInstanceDiscovery answers MSAL's instance discovery for clients
// that ask it of the authority itself: the tenant discovery endpoint of
// the tenant named in authorization_endpoint, and this host as the only
// alias.
func (s *Service) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	base := s.base(r)
	host := strings.TrimPrefix(strings.TrimPrefix(base, "https://"), "http://")
	tenant := "common"
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		u, err := url.Parse(ae)
		if err != nil || !strings.EqualFold(u.Host, host) {
			s.writeEntraError(w, r, entraErr(http.StatusBadRequest, "invalid_instance", 50049, "Unknown or invalid instance: the authorization_endpoint is not on this rekey server (%s).", host))
			return
		}
		if seg, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/"); seg != "" {
			tenant = seg
		}
	}
	if s.tenantOf(tenant) == tenantUnknown {
		s.writeEntraError(w, r, entraErr(http.StatusBadRequest, "invalid_tenant", 90002, "Tenant '%s' not found. This rekey server's tenant is %s.", rekey.Clip(tenant, 64), s.cfg.Tenant))
		return
	}
	writeJSON(w, r, http.StatusOK, struct {
		TenantDiscoveryEndpoint string             `json:"tenant_discovery_endpoint"`
		APIVersion              string             `json:"api-version"`
		Metadata                []instanceMetadata `json:"metadata"`
	}{
		TenantDiscoveryEndpoint: base + "/" + strings.ToLower(tenant) + "/v2.0/.well-known/openid-configuration",
		APIVersion:              "1.1",
		Metadata:                []instanceMetadata{{PreferredNetwork: host, PreferredCache: host, Aliases: []string{host}}},
	})
}
