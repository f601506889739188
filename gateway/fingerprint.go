package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding"
	"hash"
	"sync"
	"unsafe"
)

// fingerprint identifies a key in the gateway's memory: SHA-256 of a
// 64-byte secret drawn at process start, followed by the key. The state
// after the secret block is computed once, so a fingerprint costs one
// compression for keys of up to 55 bytes, about half of the HMAC the
// store keeps. Fingerprints never leave the process: the store keeps its
// own keyed HMAC digests.
type fingerprint [sha256.Size]byte

// equal compares in constant time.
func (f *fingerprint) equal(o *fingerprint) bool { return subtle.ConstantTimeCompare(f[:], o[:]) == 1 }

// fingerprinter computes fingerprints; safe for concurrent use.
type fingerprinter struct {
	state []byte    // marshalled SHA-256 state after the secret block
	pool  sync.Pool // of *fpState
}

type fpState struct {
	h   hash.Hash
	out [sha256.Size]byte
}

func newFingerprinter() *fingerprinter {
	secret := make([]byte, sha256.BlockSize)
	if _, err := rand.Read(secret); err != nil {
		panic("gateway: crypto/rand failed: " + err.Error())
	}
	h := sha256.New()
	h.Write(secret)
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic("gateway: sha256 state cannot be saved: " + err.Error())
	}
	return &fingerprinter{state: state}
}

func (f *fingerprinter) of(key string) fingerprint {
	s, _ := f.pool.Get().(*fpState)
	if s == nil {
		s = &fpState{h: sha256.New()}
	}
	s.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(f.state)
	// Write does not keep the slice: hash the string's bytes in place.
	s.h.Write(unsafe.Slice(unsafe.StringData(key), len(key)))
	fp := fingerprint(s.h.Sum(s.out[:0]))
	f.pool.Put(s)
	return fp
}
