package identity_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey/identity"
)

// FuzzVerify feeds arbitrary bearer tokens to the Verifier: it must never
// panic, and nothing but the token the service issued may verify.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	good := fx.token(f, "https://management.azure.com/")
	v := fx.svc.Verifier(identity.ARMAudiences)
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.c2ln")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(t.Context(), tok)
		if err == nil && tok != good && !sameJWS(tok, good) {
			t.Fatalf("a token other than the issued one verified: claims %+v", c)
		}
		if err != nil {
			if _, ok := identity.ErrReason(err); !ok {
				t.Fatalf("Verify error is not a TokenError: %v", err)
			}
		}
	})
}

// sameJWS reports whether a and b differ only in ways that decode to the
// same bytes (base64url's unused trailing bits).
func sameJWS(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	return len(pa) == 3 && len(pb) == 3 && pa[0] == pb[0] && pa[1] == pb[1]
}

// FuzzTokenRequest sends arbitrary form bodies to the token endpoint: the
// answer is a 2xx or an Entra error, never a server error.
func FuzzTokenRequest(f *testing.F) {
	fx := newFixture(f)
	f.Add("grant_type=client_credentials&client_id=" + fx.creds.AppID + "&client_secret=x&scope=https%3A%2F%2Fmanagement.azure.com%2F.default")
	f.Add("grant_type=client_credentials&resource=%zz")
	f.Add("grant_type=password&username=a&password=b")
	f.Add("&&&==&")
	f.Fuzz(func(t *testing.T, body string) {
		req, _ := http.NewRequest("POST", fx.srv.URL+"/"+testTenant+"/oauth2/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, out := fx.do(t, req)
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for a client's form", resp.StatusCode)
		}
		if resp.StatusCode >= 400 && (out["error"] == nil || out["error_codes"] == nil) {
			t.Fatalf("status %d without Entra's error body", resp.StatusCode)
		}
	})
}
