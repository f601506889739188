package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/rekey-dev/rekey"
)

// refreshEvery bounds how stale a process's view of the signing keys may
// be: a rotation made by another process (or the CLI through the admin
// API of another replica) takes effect here within this time.
const refreshEvery = 2 * time.Second

// Keys is the set of signing keys kept in the store. The newest key signs;
// older ones stay published while tokens they signed may still be valid.
// It caches the opened keys and reloads them at most every refreshEvery,
// or at once when asked for a kid it does not know (rate-limited).
type Keys struct {
	store    rekey.Store
	keyring  *rekey.Keyring
	lifetime time.Duration // longest token lifetime: how long a retired key stays
	now      func() time.Time

	mu        sync.Mutex
	loaded    time.Time // when the cache was filled; zero: never
	reloading bool      // a reload for staleness is under way
	forced    time.Time // last reload forced by an unknown kid
	signing   *signingKey
	opened    map[string]*rsa.PrivateKey // kids already unsealed and parsed
	byKID     map[string]*rsa.PublicKey
	jwks      jose.JSONWebKeySet
	rotateMu  sync.Mutex
}

type signingKey struct {
	kid    string
	signer jose.Signer
}

// NewKeys returns the key set over store. lifetime is the token lifetime:
// a retired key is published for that long (plus skew) after it stopped
// signing.
func NewKeys(store rekey.Store, keyring *rekey.Keyring, lifetime time.Duration, now func() time.Time) *Keys {
	if now == nil {
		now = time.Now
	}
	return &Keys{store: store, keyring: keyring, lifetime: lifetime, now: now}
}

// Ensure creates the first signing key when the store has none.
func (k *Keys) Ensure(ctx context.Context) error {
	k.rotateMu.Lock()
	defer k.rotateMu.Unlock()
	var none bool
	if err := k.store.View(ctx, func(tx rekey.Tx) error {
		list, err := tx.SigningKeys()
		none = len(list) == 0
		return err
	}); err != nil {
		return err
	}
	if none {
		if _, err := k.add(ctx); err != nil {
			return err
		}
	}
	return k.reload(ctx)
}

// Rotate makes a new key the signing key at once, retires the current one
// and deletes keys retired longer than a token lives. It returns the new
// kid.
func (k *Keys) Rotate(ctx context.Context) (string, error) {
	k.rotateMu.Lock()
	defer k.rotateMu.Unlock()
	kid, err := k.add(ctx)
	if err != nil {
		return "", err
	}
	return kid, k.reload(ctx)
}

// add generates a key, retires the others and prunes expired ones, in one
// transaction.
func (k *Keys) add(ctx context.Context) (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return "", err
	}
	// The kid is the public key's thumbprint, as Entra's kids are: stable
	// for the key, meaningless otherwise.
	sum := sha256.Sum256(pubDER)
	kid := base64.RawURLEncoding.EncodeToString(sum[:20])
	now := k.now().UTC()
	err = k.store.Update(ctx, func(tx rekey.Tx) error {
		list, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		for _, old := range list {
			switch {
			case old.Retired.IsZero():
				old.Retired = now
				if err := tx.PutSigningKey(old); err != nil {
					return err
				}
			case now.After(old.Retired.Add(k.retention())):
				if err := tx.DeleteSigningKey(old.KID); err != nil {
					return err
				}
			}
		}
		return tx.PutSigningKey(&rekey.SigningKey{KID: kid, Created: now, Sealed: k.keyring.SealSigningKey(kid, der)})
	})
	return kid, err
}

// retention is how long a retired key stays published: the longest a
// token it signed can live, plus the verifiers' clock skew.
func (k *Keys) retention() time.Duration { return k.lifetime + Skew }

// reload reads the keys from the store and opens them. Callers hold no lock.
func (k *Keys) reload(ctx context.Context) error {
	var list []*rekey.SigningKey
	if err := k.store.View(ctx, func(tx rekey.Tx) (err error) {
		list, err = tx.SigningKeys()
		return err
	}); err != nil {
		return err
	}
	now := k.now()
	byKID := make(map[string]*rsa.PublicKey, len(list))
	opened := make(map[string]*rsa.PrivateKey, len(list))
	var jwks jose.JSONWebKeySet
	var sign *signingKey
	for _, sk := range list {
		if !sk.Retired.IsZero() && now.After(sk.Retired.Add(k.retention())) {
			continue // its tokens have all expired
		}
		priv, err := k.open(sk)
		if err != nil {
			return err
		}
		opened[sk.KID] = priv
		byKID[sk.KID] = &priv.PublicKey
		jwks.Keys = append(jwks.Keys, jose.JSONWebKey{Key: &priv.PublicKey, KeyID: sk.KID, Algorithm: string(jose.RS256), Use: "sig"})
		if sk.Retired.IsZero() {
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: sk.KID}},
				(&jose.SignerOptions{}).WithType("JWT"))
			if err != nil {
				return err
			}
			sign = &signingKey{kid: sk.KID, signer: signer}
		}
	}
	k.mu.Lock()
	k.byKID, k.jwks, k.signing, k.loaded, k.opened = byKID, jwks, sign, now, opened
	k.mu.Unlock()
	return nil
}

// open unseals and parses a signing key, or returns the one already open:
// parsing an RSA key costs about a millisecond, and reload runs often.
func (k *Keys) open(sk *rekey.SigningKey) (*rsa.PrivateKey, error) {
	k.mu.Lock()
	priv := k.opened[sk.KID]
	k.mu.Unlock()
	if priv != nil {
		return priv, nil
	}
	der, err := k.keyring.OpenSigningKey(sk.KID, sk.Sealed)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", sk.KID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", sk.KID, err)
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s is not an RSA key", sk.KID)
	}
	return priv, nil
}

// fresh reloads the cache when it is older than refreshEvery. While one
// caller reloads, the others go on with the cache they have, so a busy
// server reloads once per interval, not once per request in flight.
func (k *Keys) fresh(ctx context.Context) error {
	k.mu.Lock()
	stale := k.loaded.IsZero() || k.now().Sub(k.loaded) >= refreshEvery
	if !stale || (k.reloading && !k.loaded.IsZero()) {
		k.mu.Unlock()
		return nil
	}
	k.reloading = true
	k.mu.Unlock()
	err := k.reload(ctx)
	k.mu.Lock()
	k.reloading = false
	k.mu.Unlock()
	return err
}

// signer returns the current signing key.
func (k *Keys) signer(ctx context.Context) (*signingKey, error) {
	if err := k.fresh(ctx); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.signing == nil {
		return nil, fmt.Errorf("no signing key: the token service was not started (Keys.Ensure)")
	}
	return k.signing, nil
}

// JWKS returns the published public keys.
func (k *Keys) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	if err := k.fresh(ctx); err != nil {
		return jose.JSONWebKeySet{}, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.jwks, nil
}

// PublicKey returns the published key with the given kid, reloading once
// (at most once a second) when kid is unknown: it may be a key another
// process just rotated in.
func (k *Keys) PublicKey(ctx context.Context, kid string) (*rsa.PublicKey, bool, error) {
	if err := k.fresh(ctx); err != nil {
		return nil, false, err
	}
	k.mu.Lock()
	pub, ok := k.byKID[kid]
	force := !ok && k.now().Sub(k.forced) >= time.Second
	if force {
		k.forced = k.now()
	}
	k.mu.Unlock()
	if ok || !force {
		return pub, ok, nil
	}
	if err := k.reload(ctx); err != nil {
		return nil, false, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	pub, ok = k.byKID[kid]
	return pub, ok, nil
}
