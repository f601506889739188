package rekey

import (
	"strconv"
	"strings"
)

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
	ID  EndpointID
	UID string // fixed at creation; binds tokens to this incarnation
	// TokenEpoch grows each time AuthMode changes. AMLTokens name it with
	// the UID (see TokenSubject), so a token that stopped working when
	// the endpoint left AMLToken mode never works again when it returns.
	TokenEpoch          int
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
	Operation           OperationRef // the last create or update
}

// TokenSubject is what an AMLToken names: the endpoint incarnation's UID
// and, once the auth mode has changed, the epoch of the current mode.
func (e *Endpoint) TokenSubject() string {
	if e.TokenEpoch == 0 {
		return e.UID
	}
	return e.UID + "." + strconv.Itoa(e.TokenEpoch)
}

// Validate checks the rules the published contract states for an endpoint
// body, with deployments naming the endpoint's existing deployments:
// traffic names existing deployments and adds up to 100 (or is all zero),
// mirrorTraffic names existing deployments without live traffic and adds
// up to at most 50. Names in both maps are set to the deployments' own
// spelling.
func (e *Endpoint) Validate(deployments []string) error {
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
	canon := func(field string, m map[string]int32) (map[string]int32, error) {
		if len(m) == 0 {
			return m, nil
		}
		out := make(map[string]int32, len(m))
		for name, w := range m {
			if w < 0 || w > 100 {
				return nil, Errorf(Invalid, "The %s weight of deployment '%s' must be between 0 and 100.", field, clip(name))
			}
			i := slicesIndexFold(deployments, name)
			if i < 0 {
				return nil, Errorf(Invalid, "properties.%s names deployment '%s', which does not exist in endpoint '%s'. Create the deployment first.", field, clip(name), e.ID.Name)
			}
			out[deployments[i]] += w
		}
		return out, nil
	}
	var err error
	if e.Traffic, err = canon("traffic", e.Traffic); err != nil {
		return err
	}
	if e.MirrorTraffic, err = canon("mirrorTraffic", e.MirrorTraffic); err != nil {
		return err
	}
	if sum := sumWeights(e.Traffic); sum != 0 && sum != 100 {
		return Errorf(Invalid, "The values of properties.traffic must add up to 100 (they add up to %d).", sum)
	}
	if sum := sumWeights(e.MirrorTraffic); sum > 50 {
		return Errorf(Invalid, "The values of properties.mirrorTraffic must add up to at most 50 (they add up to %d).", sum)
	}
	for name, w := range e.MirrorTraffic {
		if w > 0 && e.Traffic[name] > 0 {
			return Errorf(Invalid, "Deployment '%s' cannot receive mirrored traffic while it receives live traffic.", name)
		}
	}
	return nil
}

func slicesIndexFold(list []string, s string) int {
	for i, v := range list {
		if strings.EqualFold(v, s) {
			return i
		}
	}
	return -1
}

func sumWeights(m map[string]int32) int64 {
	var n int64
	for _, w := range m {
		n += int64(w)
	}
	return n
}
