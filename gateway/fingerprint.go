package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
)

// fingerprint identifies a key in the gateway's memory: SHA-256 of a
// secret drawn at process start followed by the key. Fingerprints never
// leave the process (the store keeps its own keyed HMAC digests), so the
// construction only has to make them unpredictable to outsiders; it is
// chosen for speed: with a 12-byte secret, a generated 43-character key
// fills exactly one SHA-256 block, hashed from a stack buffer with no
// allocation and no state to restore.
type fingerprint [sha256.Size]byte

// equal compares two fingerprints in constant time.
func (f *fingerprint) equal(o *fingerprint) bool {
	var diff uint64
	for i := 0; i < len(f); i += 8 {
		diff |= binary.LittleEndian.Uint64(f[i:]) ^ binary.LittleEndian.Uint64(o[i:])
	}
	return diff == 0
}

// fingerprinter computes fingerprints; safe for concurrent use.
type fingerprinter struct {
	secret [12]byte
}

// maxKey is the longest credential fingerprinted in a stack buffer; longer
// ones (which no key can be) are hashed from the heap.
const maxKey = 512

func newFingerprinter() *fingerprinter {
	var f fingerprinter
	if _, err := rand.Read(f.secret[:]); err != nil {
		panic("gateway: crypto/rand failed: " + err.Error())
	}
	return &f
}

func (f *fingerprinter) of(key string) fingerprint {
	if len(key) > maxKey {
		return sha256.Sum256(append(f.secret[:len(f.secret):len(f.secret)], key...))
	}
	var buf [len(fingerprinter{}.secret) + maxKey]byte
	n := copy(buf[:], f.secret[:])
	n += copy(buf[n:], key)
	return sha256.Sum256(buf[:n])
}
