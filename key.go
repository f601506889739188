package rekey

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"
)

// Slot is one of a resource's two key slots. Two slots are what make
// rotation without downtime possible: clients move to one while the other
// is regenerated.
type Slot string

// The two slots.
const (
	Primary   Slot = "primary"
	Secondary Slot = "secondary"
)

// Slots lists both slots in order.
var Slots = []Slot{Primary, Secondary}

// ParseSlot matches the ARM keyType values Primary and Secondary
// case-insensitively.
func ParseSlot(s string) (Slot, error) {
	switch strings.ToLower(s) {
	case "primary":
		return Primary, nil
	case "secondary":
		return Secondary, nil
	}
	return "", Errorf(Invalid, "The keyType '%s' is not valid. Allowed values: Primary, Secondary.", clip(s))
}

// KeyPair is the plaintext of both slots, only ever held in memory.
type KeyPair struct {
	Primary   string
	Secondary string
}

// Get returns the key in slot s.
func (p KeyPair) Get(s Slot) string {
	if s == Secondary {
		return p.Secondary
	}
	return p.Primary
}

// Set replaces the key in slot s.
func (p *KeyPair) Set(s Slot, v string) {
	if s == Secondary {
		p.Secondary = v
	} else {
		p.Primary = v
	}
}

// StoredKey is a key as the store keeps it: sealed, with a digest for
// lookups and a version that grows with every change of the slot.
type StoredKey struct {
	Resource   string // the owning resource's Key()
	Slot       Slot
	Ciphertext []byte // nonce || AES-256-GCM sealed key
	Digest     Digest
	Version    int64
	UpdatedAt  time.Time
	// Previous and PreviousCiphertext are the digest and sealed value the
	// slot held before its last change, kept only while that key is still
	// valid: until PreviousValidUntil, fixed when the slot changed. They
	// are zero and nil for a first key and after a change without grace.
	Previous           Digest
	PreviousCiphertext []byte
	// PreviousValidUntil is when the replaced key stops being valid. The
	// caller of PutKey sets it (see Keyring.Rotate): a time after
	// UpdatedAt keeps the replaced key until then; anything else drops
	// it at once. Nothing read later (a changed grace period, a restart,
	// a flag) may extend it: a key's validity is decided when it is
	// rotated out, never re-derived from later settings.
	PreviousValidUntil time.Time
}

// PreviousValid reports whether the replaced key is still valid at now.
func (k *StoredKey) PreviousValid(now time.Time) bool {
	return len(k.PreviousCiphertext) > 0 && now.Before(k.PreviousValidUntil)
}

// NewKey returns a fresh random key: 32 bytes from crypto/rand, base64url
// encoded without padding (43 characters).
func NewKey() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("rekey: crypto/rand failed: " + err.Error()) // never happens on a working OS
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidateKeyValue checks a caller-chosen key: 16 to 256 printable ASCII
// characters without white space. The message never repeats the value.
func ValidateKeyValue(field, v string) error {
	if len(v) < 16 || len(v) > 256 {
		return Errorf(Invalid, "The %s must be 16 to 256 characters long (it has %d). Omit it to have a random key generated.", field, len(v))
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' {
			return Errorf(Invalid, "The %s may contain only printable ASCII characters without white space; the character at position %d is not allowed.", field, i+1)
		}
	}
	return nil
}
