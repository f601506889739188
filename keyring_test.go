package rekey_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
)

func keyring(t testing.TB, b byte) *rekey.Keyring {
	t.Helper()
	k, err := rekey.NewKeyring(bytes.Repeat([]byte{b}, rekey.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := keyring(t, 1)
	const res, key = "/subscriptions/s/x", "the-key-value-1234567890"
	sealed := k.Seal(res, rekey.Primary, key)
	if bytes.Contains(sealed, []byte(key)) {
		t.Fatalf("Seal output contains the plaintext")
	}
	if got, err := k.Open(res, rekey.Primary, sealed); err != nil || got != key {
		t.Fatalf("Open(Seal(key)) = %q, %v; want the key", got, err)
	}
	if bytes.Equal(sealed, k.Seal(res, rekey.Primary, key)) {
		t.Errorf("two seals of one key are equal; want a fresh nonce each time")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for name, open := range map[string]func() (string, error){
		"other slot":       func() (string, error) { return k.Open(res, rekey.Secondary, sealed) },
		"other resource":   func() (string, error) { return k.Open(res+"2", rekey.Primary, sealed) },
		"other master key": func() (string, error) { return keyring(t, 2).Open(res, rekey.Primary, sealed) },
		"tampered":         func() (string, error) { return k.Open(res, rekey.Primary, tampered) },
		"truncated":        func() (string, error) { return k.Open(res, rekey.Primary, sealed[:5]) },
	} {
		if _, err := open(); err != rekey.ErrSealBroken {
			t.Errorf("Open(%s) error = %v, want ErrSealBroken", name, err)
		}
	}
}

func TestDigest(t *testing.T) {
	k := keyring(t, 1)
	if !k.Digest("a").Equal(k.Digest("a")) || k.Digest("a").Equal(k.Digest("b")) {
		t.Errorf("Digest is not a function of the key alone")
	}
	if k.Digest("a").Equal(keyring(t, 2).Digest("a")) {
		t.Errorf("Digest does not depend on the master key")
	}
}

func TestNewKeyringRejectsShortKey(t *testing.T) {
	if _, err := rekey.NewKeyring(make([]byte, 16)); err == nil {
		t.Errorf("NewKeyring(16 bytes) = nil error, want one")
	}
}

func TestTokens(t *testing.T) {
	k := keyring(t, 1)
	now := time.Unix(1_700_000_000, 0)
	tok := k.IssueToken("endpoint-uid", now, 0)
	if got, err := k.VerifyToken(tok.Value, now.Add(time.Minute)); err != nil || got != "endpoint-uid" {
		t.Fatalf("VerifyToken(fresh) = %q, %v; want endpoint-uid", got, err)
	}
	// Azure ML's recorded tokens: expiry 86,340 s and refresh 43,170 s after issue.
	if got, want := tok.Expires.Sub(now), 86340*time.Second; got != want {
		t.Errorf("default lifetime = %v, want %v", got, want)
	}
	if got, want := tok.RefreshAfter.Sub(now), 43170*time.Second; got != want {
		t.Errorf("default refresh after = %v, want %v", got, want)
	}
	dot := strings.LastIndex(tok.Value, ".")
	for name, tc := range map[string]struct {
		token string
		at    time.Time
		k     *rekey.Keyring
	}{
		"expired":         {tok.Value, now.Add(rekey.DefaultTokenLifetime), k},
		"other keyring":   {tok.Value, now, keyring(t, 2)},
		"tampered claims": {tok.Value[:5] + "x" + tok.Value[6:], now, k},
		"no signature":    {tok.Value[:dot], now, k},
		"garbage":         {"Bearer xyz", now, k},
		"empty":           {"", now, k},
	} {
		if _, err := tc.k.VerifyToken(tc.token, tc.at); rekey.ErrorCode(err) != rekey.Unauthorized {
			t.Errorf("VerifyToken(%s) error = %v, want Unauthorized", name, err)
		}
	}
}

// TestTokenLifetime checks that a configured lifetime is issued and that
// verification honours it: a 48-hour token still works after a day, a
// 10-minute token not after 11 minutes.
func TestTokenLifetime(t *testing.T) {
	k := keyring(t, 1)
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		lifetime, at time.Duration
		ok           bool
	}{
		{48 * time.Hour, 25 * time.Hour, true},
		{48 * time.Hour, 48 * time.Hour, false},
		{10 * time.Minute, 9 * time.Minute, true},
		{10 * time.Minute, 11 * time.Minute, false},
	} {
		tok := k.IssueToken("uid", now, tc.lifetime)
		if got := tok.Expires.Sub(now); got != tc.lifetime {
			t.Errorf("IssueToken(%v) expires after %v", tc.lifetime, got)
		}
		if got := tok.RefreshAfter.Sub(now); got != tc.lifetime/2 {
			t.Errorf("IssueToken(%v) refresh after %v, want half", tc.lifetime, got)
		}
		_, err := k.VerifyToken(tok.Value, now.Add(tc.at))
		if (err == nil) != tc.ok {
			t.Errorf("VerifyToken(%v token at +%v) error = %v, want ok=%v", tc.lifetime, tc.at, err, tc.ok)
		}
	}
}

func TestNewKeyIsRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := rekey.NewKey()
		if len(k) != 43 || seen[k] {
			t.Fatalf("NewKey() = %d chars (repeat %v), want 43 fresh", len(k), seen[k])
		}
		if err := rekey.ValidateKeyValue("k", k); err != nil {
			t.Fatalf("generated key fails ValidateKeyValue: %v", err)
		}
		seen[k] = true
	}
}

func TestValidateKeyValue(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{strings.Repeat("a", 16), true},
		{strings.Repeat("~", 256), true},
		{strings.Repeat("a", 15), false},
		{strings.Repeat("a", 257), false},
		{"abcdefgh ijklmnop", false},
		{"abcdefgh\tijklmnop", false},
		{"abcdefghéijklmnop", false},
	} {
		err := rekey.ValidateKeyValue("keyValue", tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateKeyValue(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), tt.in) {
			t.Errorf("ValidateKeyValue error repeats the value: %v", err)
		}
	}
}

func TestDigestMatchesHMAC(t *testing.T) {
	k := keyring(t, 1)
	// Concurrent use through the pool gives the same answers.
	want := k.Digest("some-key-value")
	done := make(chan bool)
	for range 4 {
		go func() {
			for range 1000 {
				if k.Digest("some-key-value") != want || k.Digest("other") == want {
					t.Error("Digest differs under concurrent use")
				}
			}
			done <- true
		}()
	}
	for range 4 {
		<-done
	}
	if n := testing.AllocsPerRun(100, func() { k.Digest("some-key-value") }); n != 0 && !raceEnabled {
		t.Errorf("Digest allocates %v times per call, want 0", n)
	}
}

func BenchmarkDigest(b *testing.B) {
	k := keyring(b, 1)
	key := rekey.NewKey()
	b.ReportAllocs()
	for b.Loop() {
		k.Digest(key)
	}
}

// TestTokenSpellings: a token has one spelling. The signature's last
// base64 character carries two unused bits, so before strict decoding
// four strings verified as one token.
func TestTokenSpellings(t *testing.T) {
	k := keyring(t, 1)
	now := time.Unix(1_700_000_000, 0)
	tok := k.IssueToken("endpoint-uid", now, 0).Value
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	if last < 0 || last&3 != 0 {
		t.Fatalf("the signature's last character %q has non-zero unused bits", tok[len(tok)-1])
	}
	if _, err := k.VerifyToken(tok, now); err != nil {
		t.Fatalf("the canonical token does not verify: %v", err)
	}
	dot := strings.LastIndexByte(tok, '.')
	for bits := 1; bits < 4; bits++ {
		variant := tok[:len(tok)-1] + string(alphabet[last|bits])
		if _, err := k.VerifyToken(variant, now); rekey.ErrorCode(err) != rekey.Unauthorized {
			t.Errorf("the token with unused bits %02b in its last character verifies, want Unauthorized", bits)
		}
	}
	for name, variant := range map[string]string{
		"line break in the signature": tok[:dot+5] + "\n" + tok[dot+5:],
		"line break in the claims":    tok[:8] + "\r\n" + tok[8:],
		"padding":                     tok + "=",
	} {
		if _, err := k.VerifyToken(variant, now); rekey.ErrorCode(err) != rekey.Unauthorized {
			t.Errorf("token with %s verifies, want Unauthorized", name)
		}
	}
}
