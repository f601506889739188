package cli

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tokenFor asks the token endpoint for a token, as a plain HTTP client.
func tokenFor(t *testing.T, s *testServer, appID, secret, scope string) (int, map[string]any) {
	t.Helper()
	resp, err := s.httpClient().PostForm(s.URL+"/"+testTenant+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {secret}, "scope": {scope}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// armGet calls the ARM API with a bearer token.
func armGet(t *testing.T, s *testServer, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/subscriptions/"+testSub+"/resourceGroups/"+testRG+"/providers/Microsoft.MachineLearningServices/workspaces?api-version=2024-04-01", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestSPCommands(t *testing.T) {
	s := startIdentityServer(t)
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir)
	out, _, err := cli(t, env, "sp", "create", "--name", "ci", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var creds struct{ AppID, Password, Tenant, DisplayName string }
	if err := json.Unmarshal([]byte(out), &creds); err != nil || creds.Password == "" || creds.Tenant != testTenant || creds.DisplayName != "ci" || len(creds.AppID) != 36 {
		t.Fatalf("sp create --output json: want appId, password, tenant %s, displayName ci (err %v)", testTenant, err)
	}
	code, body := tokenFor(t, s, creds.AppID, creds.Password, "https://management.azure.com/.default")
	if code != 200 {
		t.Fatalf("token with the created credentials: %d %v", code, body["error"])
	}
	oldToken := body["access_token"].(string)
	if resp, _ := armGet(t, s, oldToken); resp.StatusCode != 403 {
		t.Errorf("ARM with the token of a principal without roles: %d, want 403", resp.StatusCode)
	}
	assignRole(t, s, creds.AppID, "Reader", "/subscriptions/"+testSub)
	if resp, _ := armGet(t, s, oldToken); resp.StatusCode != 200 {
		t.Fatalf("ARM with the service principal's token: %d", resp.StatusCode)
	}
	// The admin API is the admin's alone.
	req, _ := http.NewRequest("GET", s.URL+"/rekey/v1/servicePrincipals", nil)
	req.Header.Set("Authorization", "Bearer "+oldToken)
	if resp, err := s.httpClient().Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("admin API with a service principal's token: %v %v, want 401", resp.StatusCode, err)
	}

	out, _, err = cli(t, env, "sp", "list")
	if err != nil || !strings.Contains(out, creds.AppID) || !strings.Contains(out, "ci") || strings.Contains(out, creds.Password) {
		t.Errorf("sp list = %v; want the principal, never its secret:\n%s", err, strings.ReplaceAll(out, creds.Password, "<secret>"))
	}
	out, _, err = cli(t, env, "sp", "show", "--id", creds.AppID, "--output", "json")
	if err != nil || !strings.Contains(out, `"appId": "`+creds.AppID) || strings.Contains(out, creds.Password) {
		t.Errorf("sp show = %v; want the principal, never its secret", err)
	}

	out, _, err = cli(t, env, "sp", "credential", "reset", "--id", creds.AppID, "--output", "json")
	var reset struct{ Password string }
	if err != nil || json.Unmarshal([]byte(out), &reset) != nil || reset.Password == "" || reset.Password == creds.Password {
		t.Fatalf("sp credential reset = %v; want a new password", err)
	}
	if code, _ := tokenFor(t, s, creds.AppID, creds.Password, "https://management.azure.com/.default"); code != 401 {
		t.Errorf("token with the reset (old) secret: %d, want 401", code)
	}
	if code, _ := tokenFor(t, s, creds.AppID, reset.Password, "https://management.azure.com/.default"); code != 200 {
		t.Errorf("token with the new secret: %d, want 200", code)
	}

	// Rotation: new tokens carry the new kid, the old token still works.
	out, _, err = cli(t, env, "signing-key", "rotate", "--output", "json")
	var rot struct{ Kid string }
	if err != nil || json.Unmarshal([]byte(out), &rot) != nil || rot.Kid == "" {
		t.Fatalf("signing-key rotate = %v, %q", err, out)
	}
	_, body = tokenFor(t, s, creds.AppID, reset.Password, "https://management.azure.com/.default")
	if kid := jwtKID(t, body["access_token"].(string)); kid != rot.Kid {
		t.Errorf("token after rotation has kid %s, want %s", kid, rot.Kid)
	}
	if resp, _ := armGet(t, s, oldToken); resp.StatusCode != 200 {
		t.Errorf("ARM with a token of the rotated-out key: %d, want 200 until it expires", resp.StatusCode)
	}

	out, _, err = cli(t, env, "sp", "delete", "--id", creds.AppID)
	if err != nil || !strings.Contains(out, "Deleted") {
		t.Errorf("sp delete = %v, %q", err, out)
	}
	if code, body := tokenFor(t, s, creds.AppID, reset.Password, "https://management.azure.com/.default"); code != 400 || body["error"] != "unauthorized_client" {
		t.Errorf("token for a deleted principal: %d %v, want 400 unauthorized_client", code, body["error"])
	}
	if _, _, err := cli(t, env, "sp", "show", "--id", creds.AppID); err == nil {
		t.Error("sp show of a deleted principal succeeded")
	}
	noSecretsLogged(t, s, creds.Password, reset.Password, oldToken)
}

func jwtKID(t *testing.T, tok string) string {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64URL(h)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct{ Kid string }
	json.Unmarshal(b, &hdr)
	return hdr.Kid
}

// ARM answers a refused token with its own codes and a WWW-Authenticate
// challenge naming the authority.
func TestARMRefusesTokens(t *testing.T) {
	s := startIdentityServer(t)
	_, body := tokenFor(t, s, testSPID, testSPSecret, "https://ml.azure.com/.default")
	mlToken := body["access_token"].(string)
	other := startServerEnv(t, envOf("REKEY_SP_CLIENT_ID", testSPID, "REKEY_SP_CLIENT_SECRET", testSPSecret), "", "--tenant-id", testTenant)
	_, body = tokenFor(t, other, testSPID, testSPSecret, "https://management.azure.com/.default")
	foreign := body["access_token"].(string)
	for _, tc := range []struct{ name, token, code string }{
		{"wrong audience", mlToken, "InvalidAuthenticationTokenAudience"},
		{"another server's token", foreign, "InvalidAuthenticationToken"},
		{"garbage JWT", "eyJhbGciOiJub25lIn0.e30.", "InvalidAuthenticationToken"},
		{"unknown opaque token", "not-the-admin-token-0123456789", "InvalidAuthenticationToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := armGet(t, s, tc.token)
			var env struct{ Error struct{ Code string } }
			json.Unmarshal([]byte(body), &env)
			if resp.StatusCode != 401 || env.Error.Code != tc.code {
				t.Errorf("%d %s, want 401 %s", resp.StatusCode, env.Error.Code, tc.code)
			}
			wa := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(wa, `Bearer authorization_uri="`+s.URL+"/"+testTenant+`", error="invalid_token", error_description="`) {
				t.Errorf("WWW-Authenticate = %q", wa)
			}
		})
	}
	if resp, _ := armGet(t, s, s.Token); resp.StatusCode != 200 {
		t.Errorf("ARM with the admin token: %d, want 200", resp.StatusCode)
	}
}

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// REKEY_SP_CLIENT_ID alone creates the principal with a secret generated
// into the data directory (0600), kept across restarts;
// REKEY_SP_CLIENT_SECRET sets a secret only when it creates the principal.
func TestSeededServicePrincipal(t *testing.T) {
	dir := t.TempDir()
	s := startServerEnv(t, envOf("REKEY_SP_CLIENT_ID", testSPID), dir, "--tenant-id", testTenant)
	path := filepath.Join(dir, "sp-client-secret")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode = %v, want 0600", path, fi.Mode().Perm())
	}
	generated := strings.TrimSpace(string(data))
	if code, body := tokenFor(t, s, testSPID, generated, "https://management.azure.com/.default"); code != 200 {
		t.Fatalf("token with the generated secret: %d %v", code, body["error"])
	}
	noSecretsLogged(t, s, generated)
	s.stop()

	s = startServerEnv(t, envOf("REKEY_SP_CLIENT_ID", testSPID), dir, "--tenant-id", testTenant)
	if code, _ := tokenFor(t, s, testSPID, generated, "https://management.azure.com/.default"); code != 200 {
		t.Errorf("after a restart, the generated secret: %d, want 200", code)
	}
	s.stop()

	// REKEY_SP_CLIENT_SECRET sets the secret only when it creates the
	// principal: a restart must not replace the secret in force, which
	// may have been reset because the old one leaked (found in review).
	s = startServerEnv(t, envOf("REKEY_SP_CLIENT_ID", testSPID, "REKEY_SP_CLIENT_SECRET", testSPSecret), dir, "--tenant-id", testTenant)
	if code, _ := tokenFor(t, s, testSPID, testSPSecret, "https://management.azure.com/.default"); code != 401 {
		t.Errorf("REKEY_SP_CLIENT_SECRET for a principal that exists: %d, want 401 (not applied)", code)
	}
	if code, _ := tokenFor(t, s, testSPID, generated, "https://management.azure.com/.default"); code != 200 {
		t.Errorf("the secret in force after a restart with another REKEY_SP_CLIENT_SECRET: %d, want 200", code)
	}
	s.stop()

	// The tenant is kept; another --tenant-id for this data directory is refused.
	_, _, err = cli(t, envOf(), "serve", "--data", dir, "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--tenant-id", "00000000-0000-4000-8000-000000000009")
	if err == nil || !strings.Contains(err.Error(), "tenant") {
		t.Errorf("serve with another --tenant-id = %v, want a refusal naming the tenant", err)
	}
}
