package arm

import (
	"net/http"

	"github.com/rekey-dev/rekey"
)

// The account body differs by api-version. Each shape follows recorded
// Azure traffic: azure-mgmt-cognitiveservices 11.0.0b1 at 2017-04-18
// (Azure/azure-sdk-for-python, tests/recordings), azure-cli 2.50 at
// 2023-05-01 and azure-cli 2.78 at 2026-05-15-preview (Azure/azure-cli,
// cognitiveservices/tests/latest/recordings). docs/decisions.md lists
// the fields per version.

// accountShape says which optional parts an api-version's account body has.
type accountShape struct {
	// systemData: defined from 2021-04-30 on.
	systemData bool
	// isMigrated, privateEndpointConnections and endpoints: from
	// 2021-04-30 on (absent from the 2017-04-18 recording).
	current bool
	// alwaysAPIProperties: 2017-04-18 answered "apiProperties": {} even
	// when the caller sent none; later versions only echo what was sent.
	alwaysAPIProperties bool
	// allowProjectManagement: from 2025-04-01-preview on.
	projectManagement bool
}

// accountShapeFor returns the shape of api-version v (a known version, as
// servedVersion returns).
func accountShapeFor(v string) accountShape {
	current := compareVersions(v, "2021-04-30") >= 0
	return accountShape{
		systemData:          current,
		current:             current,
		alwaysAPIProperties: !current,
		projectManagement:   compareVersions(v, "2025-04-01-preview") >= 0,
	}
}

type accountJSON struct {
	ID         string               `json:"id"`
	Name       string               `json:"name"`
	Type       string               `json:"type"`
	Etag       string               `json:"etag"`
	Location   string               `json:"location"`
	SKU        *skuJSON             `json:"sku,omitempty"`
	Kind       string               `json:"kind"`
	Tags       map[string]string    `json:"tags,omitempty"`
	Properties accountPropsJSON     `json:"properties"`
	SystemData *systemDataJSON      `json:"systemData,omitempty"`
	Identity   *accountIdentityJSON `json:"identity,omitempty"`
}

type accountPropsJSON struct {
	Endpoint                   string            `json:"endpoint"`
	InternalID                 string            `json:"internalId"`
	DateCreated                string            `json:"dateCreated"`
	CustomSubDomainName        string            `json:"customSubDomainName,omitempty"`
	APIProperties              *map[string]any   `json:"apiProperties,omitempty"` // {} when sent empty
	CallRateLimit              callRateLimitJSON `json:"callRateLimit"`
	BackupUpperLimit           *int              `json:"backupUpperLimit,omitempty"` // QnAMaker only
	IsMigrated                 *bool             `json:"isMigrated,omitempty"`
	AllowProjectManagement     *bool             `json:"allowProjectManagement,omitempty"`
	PrivateEndpointConnections *[]struct{}       `json:"privateEndpointConnections,omitempty"`
	PublicNetworkAccess        string            `json:"publicNetworkAccess"`
	Capabilities               []capabilityJSON  `json:"capabilities"`
	Endpoints                  map[string]string `json:"endpoints,omitempty"`
	ProvisioningState          string            `json:"provisioningState"`
}

type callRateLimitJSON struct {
	Rules []callRateRuleJSON `json:"rules"`
}

type callRateRuleJSON struct {
	Key                      string             `json:"key"`
	RenewalPeriod            int                `json:"renewalPeriod"`
	Count                    int                `json:"count"`
	DynamicThrottlingEnabled *bool              `json:"dynamicThrottlingEnabled,omitempty"`
	MatchPatterns            []matchPatternJSON `json:"matchPatterns"`
}

type matchPatternJSON struct {
	Path   string `json:"path"`
	Method string `json:"method"`
}

type capabilityJSON struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// accountIdentityJSON is an account's identity. Unlike Machine Learning,
// Cognitive Services sends userAssignedIdentities: {} when there are none.
type accountIdentityJSON struct {
	PrincipalID            string                      `json:"principalId,omitempty"`
	TenantID               string                      `json:"tenantId,omitempty"`
	Type                   string                      `json:"type"`
	UserAssignedIdentities map[string]userIdentityJSON `json:"userAssignedIdentities"`
}

// Call rate limits and capabilities as Azure reports them. rekey enforces
// no rate limit; the fields are there because clients read them. A
// QnAMaker account's are recorded (2022-03-01: 100 calls a minute, a
// backupUpperLimit of 20, one capability); other kinds get the single
// default rule, the two capabilities recorded for QnAMaker.v2 and
// FormRecognizer accounts, and the Container capability that names the
// kind ("FormRecognizer.*", as recorded), not their kind-specific lists.
var (
	qnaCallRateLimit = callRateLimitJSON{Rules: []callRateRuleJSON{
		{Key: "default", RenewalPeriod: 60, Count: 100, DynamicThrottlingEnabled: new(bool), MatchPatterns: []matchPatternJSON{{Path: "*", Method: "*"}}},
	}}
	qnaCapabilities     = []capabilityJSON{{Name: "VirtualNetworks"}}
	qnaBackupUpperLimit = 20

	defaultCallRateLimit = callRateLimitJSON{Rules: []callRateRuleJSON{
		{Key: "default", RenewalPeriod: 60, Count: 600, MatchPatterns: []matchPatternJSON{{Path: "*", Method: "*"}}},
	}}
	defaultCapabilities = []capabilityJSON{{Name: "VirtualNetworks"}, {Name: "CustomerManagedKey"}}
)

func (a *api) accountOut(r *http.Request, acc *rekey.Account) accountJSON {
	shape := accountShapeFor(servedVersion(r))
	var api *map[string]any
	if acc.APIProperties != nil || acc.QnARuntimeEndpoint != "" || shape.alwaysAPIProperties {
		m := apiPropertiesOut(acc) // the allow-listed fields only
		if m == nil {
			m = map[string]any{}
		}
		api = &m
	}
	// The QnA authoring base URL, ending in '/' as Azure's do.
	endpoint := a.baseURL(r) + "/"
	out := accountJSON{
		ID: acc.ID.String(), Name: acc.ID.Name, Type: rekey.TypeAccount, Etag: acc.ETag, Location: acc.Location,
		SKU: skuOut(acc.SKU), Kind: acc.Kind, Tags: acc.Tags, Identity: accountIdentityOut(acc.Identity),
		Properties: accountPropsJSON{
			Endpoint:            endpoint,
			InternalID:          acc.UID,
			DateCreated:         acc.SystemData.CreatedAt.UTC().Format("2006-01-02T15:04:05.0000000Z"),
			CustomSubDomainName: acc.CustomSubDomainName,
			APIProperties:       api,
			CallRateLimit:       defaultCallRateLimit,
			PublicNetworkAccess: acc.PublicNetworkAccess,
			Capabilities:        append(defaultCapabilities[:len(defaultCapabilities):len(defaultCapabilities)], capabilityJSON{Name: "Container", Value: acc.Kind + ".*"}),
			ProvisioningState:   string(acc.State()),
		},
	}
	if acc.IsQnAMaker() {
		limit := qnaBackupUpperLimit
		out.Properties.CallRateLimit, out.Properties.Capabilities, out.Properties.BackupUpperLimit = qnaCallRateLimit, qnaCapabilities, &limit
	}
	if shape.systemData {
		out.SystemData = systemData(acc.SystemData, rekey.PrincipalFrom(r.Context()).Type)
	}
	if shape.current {
		no := false
		out.Properties.IsMigrated = &no
		out.Properties.PrivateEndpointConnections = &[]struct{}{}
		out.Properties.Endpoints = map[string]string{acc.Kind: endpoint}
	}
	if shape.projectManagement {
		no := false
		out.Properties.AllowProjectManagement = &no
	}
	return out
}

func accountIdentityOut(id *rekey.Identity) *accountIdentityJSON {
	if id == nil {
		return nil
	}
	out := &accountIdentityJSON{Type: id.Type, PrincipalID: id.PrincipalID, TenantID: id.TenantID, UserAssignedIdentities: map[string]userIdentityJSON{}}
	for _, u := range id.UserAssigned {
		out.UserAssignedIdentities[u] = userIdentityJSON{PrincipalID: derivedGUID(u, "principal"), ClientID: derivedGUID(u, "client")}
	}
	return out
}

// keepEmptyAPIProperties records that the caller sent "apiProperties": {}
// (or only properties rekey drops), so the body echoes {} as Azure does.
func keepEmptyAPIProperties(acc *rekey.Account, sent map[string]any) {
	if sent != nil && acc.APIProperties == nil {
		acc.APIProperties = map[string]any{}
	}
}
