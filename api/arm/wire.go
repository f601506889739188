package arm

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
)

// Wire models: the JSON ARM clients send and receive. They are kept apart
// from the domain structs so the wire can follow Azure exactly.

type systemDataJSON struct {
	CreatedBy          string    `json:"createdBy,omitempty"`
	CreatedByType      string    `json:"createdByType,omitempty"`
	CreatedAt          time.Time `json:"createdAt"`
	LastModifiedBy     string    `json:"lastModifiedBy,omitempty"`
	LastModifiedByType string    `json:"lastModifiedByType,omitempty"`
	LastModifiedAt     time.Time `json:"lastModifiedAt"`
}

type skuJSON struct {
	Name     string `json:"name"`
	Tier     string `json:"tier,omitempty"`
	Size     string `json:"size,omitempty"`
	Family   string `json:"family,omitempty"`
	Capacity *int32 `json:"capacity,omitempty"`
}

type identityJSON struct {
	Type                   string                      `json:"type"`
	PrincipalID            string                      `json:"principalId,omitempty"`
	TenantID               string                      `json:"tenantId,omitempty"`
	UserAssignedIdentities map[string]userIdentityJSON `json:"userAssignedIdentities,omitempty"`
}

type userIdentityJSON struct {
	PrincipalID string `json:"principalId,omitempty"`
	ClientID    string `json:"clientId,omitempty"`
}

// identityIn is the identity of a request body; user-assigned entries are
// {} in requests and their values are ignored.
type identityIn struct {
	Type                   *string        `json:"type"`
	UserAssignedIdentities map[string]any `json:"userAssignedIdentities"`
}

// mlSystemDataJSON is systemData as Azure ML's resource provider sends it
// for online endpoints and deployments (recorded): no *ByType fields and
// no lastModifiedBy.
type mlSystemDataJSON struct {
	CreatedAt      time.Time `json:"createdAt"`
	CreatedBy      string    `json:"createdBy,omitempty"`
	LastModifiedAt time.Time `json:"lastModifiedAt"`
}

func mlSystemData(sd rekey.SystemData) *mlSystemDataJSON {
	return &mlSystemDataJSON{CreatedAt: sd.CreatedAt.UTC(), CreatedBy: sd.CreatedBy, LastModifiedAt: sd.LastModifiedAt.UTC()}
}

func systemData(sd rekey.SystemData, byType string) *systemDataJSON {
	return &systemDataJSON{
		CreatedBy: sd.CreatedBy, CreatedByType: byType, CreatedAt: sd.CreatedAt.UTC(),
		LastModifiedBy: sd.LastModifiedBy, LastModifiedByType: byType, LastModifiedAt: sd.LastModifiedAt.UTC(),
	}
}

func skuOut(s *rekey.SKU) *skuJSON {
	if s == nil {
		return nil
	}
	return &skuJSON{Name: s.Name, Tier: s.Tier, Size: s.Size, Family: s.Family, Capacity: s.Capacity}
}

var skuTiers = []string{"Free", "Basic", "Standard", "Premium"}

func skuIn(s *skuJSON) (*rekey.SKU, error) {
	if s == nil {
		return nil, nil
	}
	if s.Name == "" {
		return nil, rekey.Errorf(rekey.Invalid, "The property 'sku.name' is required when 'sku' is given.")
	}
	tier := s.Tier
	if tier != "" {
		tier = matchEnum(tier, skuTiers)
		if tier == "" {
			return nil, rekey.Errorf(rekey.Invalid, "The value of 'sku.tier' is not valid. Allowed values: %s.", strings.Join(skuTiers, ", "))
		}
	}
	return &rekey.SKU{Name: s.Name, Tier: tier, Size: s.Size, Family: s.Family, Capacity: s.Capacity}, nil
}

var identityTypes = []string{"None", "SystemAssigned", "UserAssigned", "SystemAssigned,UserAssigned"}

// identityFrom validates a request identity and derives the stable ids
// rekey shows for it (it issues no real Entra ID identities).
func identityFrom(in *identityIn, owner, subscription string) (*rekey.Identity, error) {
	if in == nil {
		return nil, nil
	}
	if in.Type == nil {
		return nil, rekey.Errorf(rekey.Invalid, "The property 'identity.type' is required when 'identity' is given. Allowed values: %s.", strings.Join(identityTypes, ", "))
	}
	t := matchEnum(strings.ReplaceAll(*in.Type, " ", ""), identityTypes)
	if t == "" {
		return nil, rekey.Errorf(rekey.Invalid, "The value of 'identity.type' is not valid. Allowed values: %s.", strings.Join(identityTypes, ", "))
	}
	id := &rekey.Identity{Type: t}
	hasUser := strings.Contains(t, "UserAssigned")
	if len(in.UserAssignedIdentities) > 0 && !hasUser {
		return nil, rekey.Errorf(rekey.Invalid, "'identity.userAssignedIdentities' may only be given when identity.type includes UserAssigned.")
	}
	if hasUser && len(in.UserAssignedIdentities) == 0 {
		return nil, rekey.Errorf(rekey.Invalid, "identity.type '%s' needs at least one entry in 'identity.userAssignedIdentities'.", t)
	}
	for k := range in.UserAssignedIdentities {
		if _, err := rekey.ParseResourceID(k); err != nil {
			return nil, rekey.Errorf(rekey.Invalid, "The key '%s' of identity.userAssignedIdentities is not an ARM resource id of a user-assigned identity.", rekey.Clip(k, 60))
		}
		id.UserAssigned = append(id.UserAssigned, k)
	}
	sort.Strings(id.UserAssigned)
	if strings.Contains(t, "SystemAssigned") {
		id.PrincipalID = derivedGUID(owner, "principal")
		id.TenantID = derivedGUID(subscription, "tenant")
	}
	return id, nil
}

func identityOut(id *rekey.Identity) *identityJSON {
	if id == nil {
		return nil
	}
	out := &identityJSON{Type: id.Type, PrincipalID: id.PrincipalID, TenantID: id.TenantID}
	if len(id.UserAssigned) > 0 {
		out.UserAssignedIdentities = map[string]userIdentityJSON{}
		for _, u := range id.UserAssigned {
			out.UserAssignedIdentities[u] = userIdentityJSON{PrincipalID: derivedGUID(u, "principal"), ClientID: derivedGUID(u, "client")}
		}
	}
	return out
}

// derivedGUID returns a GUID that is stable for (seed, purpose).
func derivedGUID(seed, purpose string) string {
	b := sha256.Sum256([]byte(strings.ToLower(seed) + "|" + purpose))
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// matchEnum returns the canonical spelling of v among allowed, matched
// case-insensitively, or "".
func matchEnum(v string, allowed []string) string {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	return ""
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// tagsAndSKU checks a body's tags and sku, in that order, and returns the
// sku as the domain keeps it (nil when absent).
func tagsAndSKU(tags map[string]string, s *skuJSON) (*rekey.SKU, error) {
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	return skuIn(s)
}

// validateTags applies ARM's tag limits: at most 50 tags, names up to 512
// and values up to 256 characters.
func validateTags(tags map[string]string) error {
	if len(tags) > 50 {
		return rekey.Errorf(rekey.Invalid, "A resource may have at most 50 tags; this request has %d.", len(tags))
	}
	for k, v := range tags {
		if k == "" || len(k) > 512 || strings.ContainsAny(k, "<>%&\\?/") {
			return rekey.Errorf(rekey.Invalid, "The tag name '%s' is invalid: it must be 1 to 512 characters and must not contain < > %% & \\ ? /.", rekey.Clip(k, 60))
		}
		if len(v) > 256 {
			return rekey.Errorf(rekey.Invalid, "The value of tag '%s' is longer than 256 characters.", rekey.Clip(k, 60))
		}
	}
	return nil
}
