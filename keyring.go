package rekey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"sync"
	"unsafe"
)

// MasterKeySize is the length of the master key in bytes (AES-256).
const MasterKeySize = 32

// Digest is a keyed HMAC-SHA256 of a key. Digests are fixed-length, so
// comparing two of them in constant time leaks nothing about the key, and
// keyed, so a stolen database does not allow offline guessing of short
// caller-chosen keys without the master key too.
type Digest [sha256.Size]byte

// Equal compares two digests in constant time.
func (d Digest) Equal(o Digest) bool { return subtle.ConstantTimeCompare(d[:], o[:]) == 1 }

// Keyring holds the keys derived from the master key: one to seal keys at
// rest, one to digest them, one to sign endpoint tokens. It is safe for
// concurrent use.
type Keyring struct {
	aead      cipher.AEAD
	signAEAD  cipher.AEAD // seals the token service's signing keys
	digestKey []byte
	tokenKey  []byte
	secretKey []byte    // digests service principals' client secrets
	digests   sync.Pool // of *digester: HMAC state reused, so Digest does not allocate
}

// digester is a reusable keyed HMAC with room for its output.
type digester struct {
	h   hash.Hash
	out [sha256.Size]byte
}

// NewKeyring derives a Keyring from a 32-byte master key.
func NewKeyring(master []byte) (*Keyring, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("master key must be %d bytes, got %d", MasterKeySize, len(master))
	}
	aead, err := newAEAD(derive(master, "rekey seal v1"))
	if err != nil {
		return nil, err
	}
	signAEAD, err := newAEAD(derive(master, "rekey signing-key seal v1"))
	if err != nil {
		return nil, err
	}
	return &Keyring{
		aead:      aead,
		signAEAD:  signAEAD,
		digestKey: derive(master, "rekey digest v1"),
		tokenKey:  derive(master, "rekey token v1"),
		secretKey: derive(master, "rekey client secret v1"),
	}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// SealSigningKey encrypts a token signing key's private key (PKCS #8 DER)
// under its own subkey of the master key, bound to its kid.
func (k *Keyring) SealSigningKey(kid string, der []byte) []byte {
	nonce := make([]byte, k.signAEAD.NonceSize(), k.signAEAD.NonceSize()+len(der)+k.signAEAD.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("rekey: crypto/rand failed: " + err.Error())
	}
	return k.signAEAD.Seal(nonce, nonce, der, []byte("rekey/signing-key/v1|"+kid))
}

// OpenSigningKey decrypts what SealSigningKey sealed for kid.
func (k *Keyring) OpenSigningKey(kid string, sealed []byte) ([]byte, error) {
	n := k.signAEAD.NonceSize()
	if len(sealed) < n {
		return nil, ErrSealBroken
	}
	der, err := k.signAEAD.Open(nil, sealed[:n], sealed[n:], []byte("rekey/signing-key/v1|"+kid))
	if err != nil {
		return nil, ErrSealBroken
	}
	return der, nil
}

// SecretDigest returns the digest under which a client secret is stored:
// HMAC-SHA256 under a subkey of the master key. Generated secrets carry
// 256 random bits, so a slow password hash would add nothing but latency;
// the key means a copy of the database alone cannot even test a guess at a
// shorter operator-chosen secret.
func (k *Keyring) SecretDigest(secret string) Digest {
	m := hmac.New(sha256.New, k.secretKey)
	m.Write([]byte(secret))
	return Digest(m.Sum(nil))
}

// derive returns a purpose-bound subkey, so no two uses share a key.
func derive(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// additionalData binds a ciphertext to its resource and slot: a sealed key
// copied to another row or slot fails to open.
func additionalData(resource string, slot Slot) []byte {
	return []byte("rekey/key/v1|" + resource + "|" + string(slot))
}

// Seal encrypts key for the given resource Key() and slot.
func (k *Keyring) Seal(resource string, slot Slot, key string) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(key)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("rekey: crypto/rand failed: " + err.Error())
	}
	return k.aead.Seal(nonce, nonce, []byte(key), additionalData(resource, slot))
}

// ErrSealBroken reports a ciphertext that fails to open: tampered with,
// moved to another row, or sealed under another master key.
var ErrSealBroken = errors.New("sealed key does not open under this master key and binding")

// Open decrypts a key sealed for resource and slot.
func (k *Keyring) Open(resource string, slot Slot, sealed []byte) (string, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return "", ErrSealBroken
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], additionalData(resource, slot))
	if err != nil {
		return "", ErrSealBroken
	}
	return string(plain), nil
}

// Digest returns the keyed digest of key. It does not allocate: the
// gateway computes one per request.
func (k *Keyring) Digest(key string) Digest {
	dg, _ := k.digests.Get().(*digester)
	if dg == nil {
		dg = &digester{h: hmac.New(sha256.New, k.digestKey)}
	}
	dg.h.Reset()
	// Write does not keep the slice, so the string's bytes are hashed in
	// place instead of being copied to the heap.
	dg.h.Write(unsafe.Slice(unsafe.StringData(key), len(key)))
	d := Digest(dg.h.Sum(dg.out[:0]))
	k.digests.Put(dg)
	return d
}

// StoredKey seals key into a StoredKey for resource and slot.
func (k *Keyring) StoredKey(resource string, slot Slot, key string) StoredKey {
	return StoredKey{Resource: resource, Slot: slot, Ciphertext: k.Seal(resource, slot, key), Digest: k.Digest(key)}
}

// OpenPair opens both slots of a resource's stored keys.
func (k *Keyring) OpenPair(keys []StoredKey) (KeyPair, error) {
	var p KeyPair
	for _, sk := range keys {
		v, err := k.Open(sk.Resource, sk.Slot, sk.Ciphertext)
		if err != nil {
			return KeyPair{}, fmt.Errorf("open %s key of %s: %w", sk.Slot, sk.Resource, err)
		}
		p.Set(sk.Slot, v)
	}
	return p, nil
}
