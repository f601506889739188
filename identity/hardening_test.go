package identity_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey/identity"
	"github.com/rekey-dev/rekey/throttle"
)

// TestTokenEndpointThrottled: guessing a client secret is throttled like
// guessing the admin token. After the limit, the right secret from the
// same address gets 429 without being judged.
func TestTokenEndpointThrottled(t *testing.T) {
	f := newFixture(t, func(c *identity.Config) { c.Throttle = throttle.New(5, time.Minute) })
	form := func(secret string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {f.creds.AppID}, "client_secret": {secret},
			"scope": {"https://management.azure.com/.default"}}
	}
	path := "/" + testTenant + "/oauth2/v2.0/token"
	for i := range 5 {
		if resp, _ := f.post(t, path, form("wrong-secret-0123456789")); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong secret #%d = %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp, body := f.post(t, path, form(f.creds.Password))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || body["error"] != "temporarily_unavailable" {
		t.Fatalf("right secret after 5 failures = %d %v (Retry-After %q), want 429 temporarily_unavailable with Retry-After",
			resp.StatusCode, body["error"], resp.Header.Get("Retry-After"))
	}
	if resp, _ := f.post(t, "/adfs/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {f.creds.AppID},
		"client_secret": {f.creds.Password}, "resource": {"https://management.azure.com/"}}); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("AD FS token endpoint during the penalty = %d, want 429", resp.StatusCode)
	}
}

// TestVerifyRefusesNonCanonicalSpellings: a token has one spelling. The
// unused low bits of a base64url segment's last character must be zero,
// so the same signature cannot be sent in several spellings.
func TestVerifyRefusesNonCanonicalSpellings(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "https://management.azure.com")
	v := f.svc.Verifier(identity.ARMAudiences)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("Verify(issued token) = %v", err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	parts := strings.Split(tok, ".")
	for i, part := range parts {
		unused := len(part) * 6 % 8 // bits of the last character that encode nothing
		if unused == 0 {
			continue
		}
		last := strings.IndexByte(alphabet, part[len(part)-1])
		for flip := 1; flip < 1<<unused; flip++ {
			variant := append([]string(nil), parts...)
			variant[i] = part[:len(part)-1] + string(alphabet[last^flip])
			spelled := strings.Join(variant, ".")
			if _, err := base64.RawURLEncoding.DecodeString(variant[i]); err != nil {
				continue // not even a lenient decoder takes it
			}
			if _, err := v.Verify(t.Context(), spelled); err == nil {
				t.Errorf("Verify accepted segment %d spelled with unused bits %b set", i, flip)
			}
		}
	}
}
