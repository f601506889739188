package rekey

import "strings"

// AuthMode is how clients authenticate to an online endpoint's scoring URI.
type AuthMode string

// The auth modes of the 2024-04-01 contract.
const (
	AuthKey      AuthMode = "Key"      // two static keys: primary and secondary
	AuthAMLToken AuthMode = "AMLToken" // expiring tokens from the token operation
	AuthAADToken AuthMode = "AADToken" // Entra ID tokens
)

// ParseAuthMode matches s case-insensitively, as ARM matches enum values.
func ParseAuthMode(s string) (AuthMode, error) {
	for _, m := range []AuthMode{AuthKey, AuthAMLToken, AuthAADToken} {
		if strings.EqualFold(s, string(m)) {
			return m, nil
		}
	}
	return "", Errorf(Invalid, "The value '%s' of properties.authMode is not valid. Allowed values: Key, AMLToken, AADToken.", clip(s))
}

// ProvisioningState is the lifecycle state of a resource.
type ProvisioningState string

// The provisioning states rekey uses.
const (
	Creating  ProvisioningState = "Creating"
	Updating  ProvisioningState = "Updating"
	Deleting  ProvisioningState = "Deleting"
	Succeeded ProvisioningState = "Succeeded"
	Failed    ProvisioningState = "Failed"
)

// Endpoint is an Azure ML online endpoint. Its keys live apart from it
// (see Keys) so that no resource body can ever carry them.
type Endpoint struct {
	ID                  EndpointID
	UID                 string // fixed at creation; binds tokens to this incarnation
	Location            string
	Tags                map[string]string // or nil
	Kind                string
	SKU                 *SKU      // or nil
	Identity            *Identity // or nil
	AuthMode            AuthMode
	Description         string
	Properties          map[string]string // or nil; may grow, never shrink
	Compute             string
	Traffic             map[string]int32 // or nil
	MirrorTraffic       map[string]int32 // or nil
	PublicNetworkAccess string
	ProvisioningState   ProvisioningState
	SystemData          SystemData
}

// Validate checks the rules the published contract states for an endpoint
// body. The traffic maps must name deployments, and rekey has none yet, so
// a non-empty traffic map is refused rather than accepted and ignored.
func (e *Endpoint) Validate() error {
	if err := e.ID.Validate(); err != nil {
		return err
	}
	if strings.TrimSpace(e.Location) == "" {
		return Errorf(Invalid, "The 'location' property is required for an online endpoint.")
	}
	switch e.PublicNetworkAccess {
	case "Enabled", "Disabled":
	default:
		return Errorf(Invalid, "The value '%s' of properties.publicNetworkAccess is not valid. Allowed values: Enabled, Disabled.", clip(e.PublicNetworkAccess))
	}
	if sumWeights(e.Traffic) != 0 && sumWeights(e.Traffic) != 100 {
		return Errorf(Invalid, "The traffic values of properties.traffic must add up to 100 (they add up to %d).", sumWeights(e.Traffic))
	}
	if sumWeights(e.MirrorTraffic) > 50 {
		return Errorf(Invalid, "The values of properties.mirrorTraffic must add up to at most 50 (they add up to %d).", sumWeights(e.MirrorTraffic))
	}
	for name, w := range e.Traffic {
		if w < 0 || w > 100 {
			return Errorf(Invalid, "The traffic weight of deployment '%s' must be between 0 and 100.", clip(name))
		}
		if w > 0 {
			return Errorf(Invalid, "properties.traffic names deployment '%s', which does not exist in endpoint '%s'. Create the deployment first.", clip(name), e.ID.Name)
		}
	}
	for name := range e.MirrorTraffic {
		return Errorf(Invalid, "properties.mirrorTraffic names deployment '%s', which does not exist in endpoint '%s'. Create the deployment first.", clip(name), e.ID.Name)
	}
	return nil
}

func sumWeights(m map[string]int32) int64 {
	var n int64
	for _, w := range m {
		n += int64(w)
	}
	return n
}
