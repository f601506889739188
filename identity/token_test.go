package identity_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/rekey-dev/rekey/identity"
)

func host(f *fixture) string { return strings.TrimPrefix(f.srv.URL, "https://") }

func TestDiscoveryGolden(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ name, path string }{
		{"discovery_v2", "/" + testTenant + "/v2.0/.well-known/openid-configuration"},
		{"discovery_v2_organizations", "/organizations/v2.0/.well-known/openid-configuration"},
		{"discovery_v1", "/" + testTenant + "/.well-known/openid-configuration"},
		{"discovery_adfs", "/adfs/.well-known/openid-configuration"},
		{"instance_discovery", "/common/discovery/instance?api-version=1.1&authorization_endpoint=" + url.QueryEscape(f.srv.URL+"/"+testTenant+"/oauth2/v2.0/authorize")},
		{"jwks", "/" + testTenant + "/discovery/v2.0/keys"},
		{"error_discovery_unknown_tenant", "/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"},
		{"error_instance_discovery_other_host", "/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.microsoftonline.com/common/oauth2/v2.0/authorize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.srv.URL+tc.path, nil)
			resp, body := f.do(t, req)
			golden(t, tc.name, dump(resp, body, host(f)))
		})
	}
}

// The issuer is built from the address the client used: MSAL refuses a
// discovery document whose issuer's scheme and host differ.
func TestDiscoveryIssuerFollowsHost(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest("GET", f.srv.URL+"/"+testTenant+"/v2.0/.well-known/openid-configuration", nil)
	req.Host = "rekey.example:7443"
	_, body := f.do(t, req)
	if got, want := body["issuer"], "https://rekey.example:7443/"+testTenant+"/v2.0"; got != want {
		t.Errorf("issuer = %v, want %v", got, want)
	}
	g := newFixture(t, func(c *identity.Config) { c.PublicURL = "https://public.example/" })
	req, _ = http.NewRequest("GET", g.srv.URL+"/adfs/.well-known/openid-configuration", nil)
	_, body = g.do(t, req)
	if got, want := body["issuer"], "https://public.example/adfs"; got != want {
		t.Errorf("issuer with PublicURL = %v, want %v", got, want)
	}
}

func TestTokenAnswersGolden(t *testing.T) {
	f := newFixture(t)
	base := url.Values{"grant_type": {"client_credentials"}, "client_id": {f.creds.AppID}, "client_secret": {f.creds.Password}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name, path string
		form       url.Values
		wantIss    string
		wantVer    string
	}{
		{"token_v2", "/" + testTenant + "/oauth2/v2.0/token", with("scope", "https://management.azure.com//.default openid offline_access profile", "claims", `{"access_token":{"xms_cc":{"values":["CP1"]}}}`), f.srv.URL + "/" + testTenant + "/", identity.V1},
		{"token_v2_app_resource", "/organizations/oauth2/v2.0/token", with("scope", "api://my-api/.default"), f.srv.URL + "/" + testTenant + "/v2.0", identity.V2},
		{"token_v1", "/" + testTenant + "/oauth2/token", with("resource", "https://management.core.windows.net/"), f.srv.URL + "/" + testTenant + "/", identity.V1},
		{"token_adfs", "/adfs/oauth2/token", with("scope", "https://management.azure.com//.default openid offline_access profile"), f.srv.URL + "/adfs", identity.V1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.post(t, tc.path, tc.form)
			golden(t, tc.name, dump(resp, body, host(f)))
			if resp.StatusCode != 200 {
				return
			}
			v := f.svc.Verifier(append([]string{"api://my-api"}, identity.ARMAudiences...))
			c, err := v.Verify(t.Context(), body["access_token"].(string))
			if err != nil {
				t.Fatalf("Verify(issued token) = %v", err)
			}
			if c.Issuer != tc.wantIss || c.Version != tc.wantVer || c.Client() != f.creds.AppID || c.IDType != "app" || c.TenantID != testTenant || c.ObjectID == "" || c.Subject != c.ObjectID {
				t.Errorf("claims = %+v; want iss %s, ver %s, the client's appid, idtyp app", c, tc.wantIss, tc.wantVer)
			}
			if c.Expires-c.IssuedAt != 3600 || c.NotBefore != c.IssuedAt {
				t.Errorf("lifetime = iat %d nbf %d exp %d; want exp = iat + 3600 = nbf + 3600", c.IssuedAt, c.NotBefore, c.Expires)
			}
		})
	}
}

func TestBasicAuth(t *testing.T) {
	f := newFixture(t)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"https://management.azure.com/.default"}}
	resp, body := f.post(t, "/"+testTenant+"/oauth2/v2.0/token", form, func(r *http.Request) {
		r.SetBasicAuth(url.QueryEscape(f.creds.AppID), url.QueryEscape(f.creds.Password))
	})
	if resp.StatusCode != 200 || body["access_token"] == nil {
		t.Fatalf("Basic auth: %d %v, want 200 with a token", resp.StatusCode, body["error"])
	}
}

func TestTokenErrorsGolden(t *testing.T) {
	f := newFixture(t, func(c *identity.Config) { c.MaxBody = 4096 })
	good := func() url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {f.creds.AppID}, "client_secret": {f.creds.Password}, "scope": {"https://management.azure.com/.default"}}
	}
	v2 := "/" + testTenant + "/oauth2/v2.0/token"
	set := func(k, v string) url.Values { f := good(); f.Set(k, v); return f }
	del := func(k string) url.Values { f := good(); f.Del(k); return f }
	type tc struct {
		name   string
		path   string
		body   string
		mutate func(*http.Request)
		status int
		code   string
	}
	basic := func(r *http.Request) { r.SetBasicAuth(f.creds.AppID, f.creds.Password) }
	formCT := func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }
	for _, c := range []tc{
		{"error_bad_secret", v2, set("client_secret", "wrong-secret-0123456789").Encode(), nil, 401, "invalid_client"},
		{"error_unknown_client", v2, set("client_id", "00000000-0000-4000-8000-000000000000").Encode(), nil, 400, "unauthorized_client"},
		{"error_missing_client_id", v2, del("client_id").Encode(), nil, 400, "invalid_request"},
		{"error_missing_secret", v2, del("client_secret").Encode(), nil, 401, "invalid_client"},
		{"error_unsupported_grant", v2, set("grant_type", "password").Encode(), nil, 400, "unsupported_grant_type"},
		{"error_missing_grant", v2, del("grant_type").Encode(), nil, 400, "invalid_request"},
		{"error_bad_scope", v2, set("scope", "https://management.azure.com/user_impersonation").Encode(), nil, 400, "invalid_scope"},
		{"error_only_openid_scopes", v2, set("scope", "openid profile").Encode(), nil, 400, "invalid_scope"},
		{"error_two_resources", v2, set("scope", "https://a.example/.default https://b.example/.default").Encode(), nil, 400, "invalid_scope"},
		{"error_missing_scope", v2, del("scope").Encode(), nil, 400, "invalid_request"},
		{"error_missing_resource_v1", "/" + testTenant + "/oauth2/token", del("scope").Encode(), nil, 400, "invalid_request"},
		{"error_malformed_form", v2, "grant_type=client_credentials&client_id=%zz", nil, 400, "invalid_request"},
		{"error_not_a_form", v2, `{"grant_type":"client_credentials"}`, func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }, 400, "invalid_request"},
		{"error_oversized", v2, good().Encode() + "&pad=" + strings.Repeat("a", 5000), nil, 413, "invalid_request"},
		{"error_secret_twice", v2, good().Encode(), basic, 400, "invalid_request"},
		{"error_repeated_param", v2, good().Encode() + "&scope=x", nil, 400, "invalid_request"},
		{"error_client_assertion", v2, set("client_assertion", "x").Encode(), nil, 400, "invalid_request"},
		{"error_unknown_tenant", "/contoso.onmicrosoft.com/oauth2/v2.0/token", good().Encode(), nil, 400, "invalid_request"},
		{"error_common_tenant", "/common/oauth2/v2.0/token", good().Encode(), nil, 400, "invalid_request"},
		{"error_bad_resource", "/" + testTenant + "/oauth2/token", set("resource", "not a uri").Encode(), nil, 400, "invalid_resource"},
		{"error_get_token", v2, "", func(r *http.Request) { r.Method = "GET" }, 405, "invalid_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", f.srv.URL+c.path, strings.NewReader(c.body))
			formCT(req)
			if c.mutate != nil {
				c.mutate(req)
			}
			resp, body := f.do(t, req)
			if resp.StatusCode != c.status || body["error"] != c.code {
				t.Errorf("status %d error %v, want %d %s", resp.StatusCode, body["error"], c.status, c.code)
			}
			codes, _ := body["error_codes"].([]any)
			desc, _ := body["error_description"].(string)
			if len(codes) != 1 || !strings.HasPrefix(desc, "AADSTS") || body["trace_id"] == nil || body["correlation_id"] == nil || body["timestamp"] == nil {
				t.Errorf("body lacks Entra's fields: %v", body)
			}
			if strings.Contains(desc, f.creds.Password) {
				t.Errorf("error description repeats the client secret")
			}
			golden(t, c.name, dump(resp, body, host(f)))
		})
	}
}

// The correlation id is the client's client-request-id, as MSAL sends.
func TestCorrelationID(t *testing.T) {
	f := newFixture(t)
	const cid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	_, body := f.post(t, "/"+testTenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"x"}}, func(r *http.Request) { r.Header.Set("client-request-id", cid) })
	if body["correlation_id"] != cid {
		t.Errorf("correlation_id = %v, want %s", body["correlation_id"], cid)
	}
}

func TestVerifyRefuses(t *testing.T) {
	f := newFixture(t)
	other := newFixture(t) // another rekey server: same tenant id, other key
	tok := f.token(t, "https://management.azure.com/")
	parts := strings.Split(tok, ".")
	v := f.svc.Verifier(identity.ARMAudiences)

	// Tokens signed by hand, to build the attacks a library must refuse.
	claims := func() map[string]any {
		now := f.clock.Now().Unix()
		return map[string]any{"aud": "https://management.azure.com/", "iss": f.srv.URL + "/" + testTenant + "/", "tid": testTenant,
			"oid": "x", "sub": "x", "appid": "x", "idtyp": "app", "ver": "1.0", "iat": now, "nbf": now, "exp": now + 3600}
	}
	encode := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	kid := func() string {
		var h map[string]any
		b, _ := base64.RawURLEncoding.DecodeString(parts[0])
		json.Unmarshal(b, &h)
		return h["kid"].(string)
	}()
	jwks, _ := f.svc.Keys().JWKS(t.Context())
	pubDER, _ := x509.MarshalPKIXPublicKey(jwks.Keys[0].Key)
	hsSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: pubDER, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs256, _ := jwt.Signed(hsSigner).Claims(claims()).Serialize()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	esSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: ecKey, KeyID: kid}}, nil)
	es256, _ := jwt.Signed(esSigner).Claims(claims()).Serialize()
	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
	strangerSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: stranger, KeyID: kid}}, nil)
	sameKid, _ := jwt.Signed(strangerSigner).Claims(claims()).Serialize()
	flipped := []byte(parts[2])
	flipped[10] ^= 1
	if flipped[10] == '-' || flipped[10] == '_' || flipped[10] > 'z' {
		flipped[10] = 'A'
	}
	payload := claims()
	payload["aud"] = "https://management.core.windows.net/"

	for _, tc := range []struct {
		name   string
		token  string
		reason identity.Reason
		at     time.Duration // clock offset when verifying
	}{
		{"garbage", "not-a-jwt", identity.Malformed, 0},
		{"alg none", encode(map[string]string{"alg": "none", "typ": "JWT"}) + "." + encode(claims()) + ".", identity.BadSignature, 0},
		{"HS256 with the public key", hs256, identity.BadSignature, 0},
		{"ES256, an algorithm never issued", es256, identity.BadSignature, 0},
		{"tampered header", encode(map[string]string{"alg": "RS256", "kid": kid, "typ": "at+jwt"}) + "." + parts[1] + "." + parts[2], identity.BadSignature, 0},
		{"tampered payload", parts[0] + "." + encode(payload) + "." + parts[2], identity.BadSignature, 0},
		{"tampered signature", parts[0] + "." + parts[1] + "." + string(flipped), identity.BadSignature, 0},
		{"another key with our kid", sameKid, identity.BadSignature, 0},
		{"another rekey server", other.token(t, "https://management.azure.com/"), identity.BadSignature, 0},
		{"expired", tok, identity.Expired, time.Hour + identity.Skew},
		{"not yet valid", tok, identity.NotYetValid, -identity.Skew - time.Second},
		{"wrong audience", f.token(t, "https://ml.azure.com"), identity.BadAudience, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.clock.Add(tc.at)
			defer f.clock.Add(-tc.at)
			_, err := v.Verify(t.Context(), tc.token)
			got, ok := identity.ErrReason(err)
			if !ok || got != tc.reason {
				t.Errorf("Verify = %v (reason %d), want reason %d", err, got, tc.reason)
			}
		})
	}
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Errorf("Verify(good token) = %v", err)
	}
	// Within the skew, an expired token still passes.
	f.clock.Add(time.Hour + identity.Skew/2)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Errorf("Verify(expired within skew) = %v", err)
	}
}

// A token of another tenant's server (signed with a key this server
// publishes is impossible, so: same key, another tenant id) is refused.
func TestVerifyOtherTenant(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "https://management.azure.com/")
	v := f.svc.Verifier(identity.ARMAudiences)
	v.Tenant = "00000000-0000-4000-8000-000000000001"
	if _, err := v.Verify(t.Context(), tok); err == nil {
		t.Fatal("Verify with another tenant = nil")
	} else if r, _ := identity.ErrReason(err); r != identity.BadIssuer {
		t.Errorf("reason = %d, want BadIssuer", r)
	}
}

func TestRotation(t *testing.T) {
	f := newFixture(t)
	v := f.svc.Verifier(identity.ARMAudiences)
	old := f.token(t, "https://management.azure.com/")
	kid, err := f.svc.RotateSigningKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fresh := f.token(t, "https://management.azure.com/")
	if got := headerKID(t, fresh); got != kid {
		t.Errorf("token after rotation signed by %s, want the new key %s", got, kid)
	}
	for name, tok := range map[string]string{"old": old, "new": fresh} {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Errorf("Verify(%s) after rotation = %v", name, err)
		}
	}
	jwks, _ := f.svc.Keys().JWKS(t.Context())
	if len(jwks.Keys) != 2 {
		t.Errorf("JWKS has %d keys after rotation, want 2 (old one still published)", len(jwks.Keys))
	}
	// Once every token of the old key has expired, the key is gone.
	f.clock.Add(time.Hour + identity.Skew + time.Second)
	jwks, _ = f.svc.Keys().JWKS(t.Context())
	if len(jwks.Keys) != 1 || jwks.Keys[0].KeyID != kid {
		t.Errorf("JWKS after the old key's tokens expired: %d keys, want only %s", len(jwks.Keys), kid)
	}
}

// A rotation by another process reaches this one through the store.
func TestRotationAcrossProcesses(t *testing.T) {
	f := newFixture(t)
	other := identity.NewKeys(f.store, keyringOf(t), time.Hour, f.clock.Now)
	kid, err := other.Rotate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(3 * time.Second) // past the cache's refresh interval
	if got := headerKID(t, f.token(t, "https://management.azure.com/")); got != kid {
		t.Errorf("token signed by %s, want %s rotated in by another process", got, kid)
	}
}

func headerKID(t *testing.T, tok string) string {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Headers[0].KeyID
}

// BenchmarkVerify is the steady state: the same token again, as a client
// sends it for its lifetime.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	tok := f.token(b, "https://management.azure.com/")
	v := f.svc.Verifier(identity.ARMAudiences)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyFirstSight is a token's first verification (a new
// Verifier each time, so nothing is cached): parse, RS256, claims.
func BenchmarkVerifyFirstSight(b *testing.B) {
	f := newFixture(b)
	tok := f.token(b, "https://management.azure.com/")
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.svc.Verifier(identity.ARMAudiences).Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// A verified token is cached, but its lifetime is checked on every use.
func TestVerifyCacheRechecksLifetime(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "https://management.azure.com/")
	v := f.svc.Verifier(identity.ARMAudiences)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Hour + identity.Skew)
	if _, err := v.Verify(t.Context(), tok); err == nil {
		t.Fatal("an expired token verified from the cache")
	} else if r, _ := identity.ErrReason(err); r != identity.Expired {
		t.Errorf("reason = %d, want Expired", r)
	}
	// A tampered copy is not the cached token.
	f.clock.Add(-time.Hour - identity.Skew)
	if _, err := v.Verify(t.Context(), tok+"x"); err == nil {
		t.Error("a tampered copy of a cached token verified")
	}
}
