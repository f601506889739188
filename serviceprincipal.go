package rekey

import (
	"regexp"
	"strings"
	"time"
)

// ServicePrincipal is an application that signs in to rekey's token
// service with a client secret, as an Entra app registration and its
// service principal do. AppID is the client id callers send; ObjectID is
// the principal's own id (the oid claim). Only a keyed digest of the
// secret is kept (see Keyring.SecretDigest).
type ServicePrincipal struct {
	AppID       string    `json:"appId"`
	ObjectID    string    `json:"objectId"`
	DisplayName string    `json:"displayName"`
	Created     time.Time `json:"created"`
	// SecretDigest is the keyed digest of the one current client secret.
	SecretDigest Digest `json:"secretDigest"`
	// SecretHint is the secret's first three characters, as Entra shows
	// (hint) so that an operator can tell which secret a client holds.
	SecretHint    string    `json:"secretHint"`
	SecretCreated time.Time `json:"secretCreated"`
}

// Principal is the caller a service principal's tokens authenticate as.
func (sp *ServicePrincipal) Principal() Principal {
	return Principal{ID: sp.ObjectID, Name: sp.AppID, Type: "Application"}
}

// SigningKey is an RS256 key of the token service. The private key (PKCS
// #8 DER) is kept sealed under the master key (Keyring.SealSigningKey).
// The newest key signs; a retired key stays published, and tokens it
// signed stay valid, until Retired plus the longest token lifetime.
type SigningKey struct {
	KID     string    `json:"kid"`
	Created time.Time `json:"created"`
	Retired time.Time `json:"retired,omitzero"` // zero while it signs
	Sealed  []byte    `json:"sealed"`
}

// Settings the store keeps for the server as a whole.
const (
	SettingTenantID = "tenant-id"
)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsGUID reports whether s is a GUID in its 8-4-4-4-12 form.
func IsGUID(s string) bool { return guidRE.MatchString(s) }

// MinClientSecret is the shortest client secret rekey accepts from an
// operator (REKEY_SP_CLIENT_SECRET); generated ones are 43 characters.
const MinClientSecret = 16

// NewClientSecret returns a client secret of 256 random bits, base64url
// without padding: 43 characters that need no escaping in a form, a shell
// or an environment variable.
func NewClientSecret() string { return NewKey() }

// ValidateDisplayName checks a service principal's display name.
func ValidateDisplayName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > 120 {
		return Errorf(Invalid, "The display name must be 1 to 120 characters and not blank.")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return Errorf(Invalid, "The display name must not contain control characters.")
		}
	}
	return nil
}
