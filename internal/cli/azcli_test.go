package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// azCLI runs Debian's azure-cli (2.45) against one rekey server, with its
// own configuration directory and trust in the server's CA.
type azCLI struct {
	t       *testing.T
	bin     string
	env     []string
	secrets []string // replaced in anything the test prints
}

// newAzCLI finds az: outside CI a missing az skips the test, in CI it fails
// it (.ci/run installs azure-cli).
func newAzCLI(t *testing.T, s *testServer) *azCLI {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the Azure CLI; skipped with -short")
	}
	bin, err := exec.LookPath("az")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have the Azure CLI (.ci/run installs Debian's azure-cli): %v", err)
		}
		t.Skip("the Azure CLI (az) is not installed (apt-get install azure-cli); skipping")
	}
	dir := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LANG=C.UTF-8",
		"AZURE_CONFIG_DIR=" + filepath.Join(dir, "azure"), "AZURE_EXTENSION_DIR=" + filepath.Join(dir, "cliextensions"),
		"AZURE_CORE_COLLECT_TELEMETRY=false", "AZURE_CORE_NO_COLOR=true", "AZURE_CORE_ONLY_SHOW_ERRORS=true",
		"REQUESTS_CA_BUNDLE=" + filepath.Join(s.DataDir, "ca.pem"), "PYTHONDONTWRITEBYTECODE=1",
	}
	return &azCLI{t: t, bin: bin, env: env}
}

// The rekey CLI's default subscription and resource group: the server's
// default subscription is the one az login selects.
const (
	azSub = "00000000-0000-0000-0000-000000000000"
	azRG  = "rekey"
)

var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)

// redact removes secrets and anything shaped like a token.
func (a *azCLI) redact(s string) string {
	for _, v := range a.secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "<secret>")
		}
	}
	return jwtShape.ReplaceAllString(s, "<token>")
}

// run runs az with args (bounded to 2 minutes) and returns its stdout.
// what names the command in messages: args may hold a secret.
func (a *azCLI) run(what string, args ...string) string {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(a.t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.bin, args...)
	cmd.Env = a.env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	a.t.Logf("az %s: %v", what, time.Since(start).Round(time.Millisecond))
	if err != nil {
		a.t.Fatalf("az %s: %v\nstdout: %s\nstderr: %s", what, err, a.redact(stdout.String()), a.redact(stderr.String()))
	}
	return stdout.String()
}

// runJSON runs az and decodes its JSON output into v.
func (a *azCLI) runJSON(v any, what string, args ...string) {
	a.t.Helper()
	out := a.run(what, append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		a.t.Fatalf("az %s: output is not the JSON expected: %v", what, err)
	}
}

// TestAzureCLI is the README's "With the Azure CLI" section, run with
// Debian's azure-cli: register rekey as a cloud from its management URL
// alone, sign in as a service principal created with rekey sp create,
// rotate a Cognitive Services account's keys and an ML endpoint's keys,
// and score an AADToken endpoint with a token from az.
func TestAzureCLI(t *testing.T) {
	s := startServer(t, "")
	az := newAzCLI(t, s)
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir)
	out, _, err := cli(t, env, "sp", "create", "--name", "az", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var creds struct{ AppID, Password, Tenant string }
	if err := json.Unmarshal([]byte(out), &creds); err != nil || creds.Password == "" {
		t.Fatalf("sp create: no credentials (%v)", err)
	}
	az.secrets = append(az.secrets, creds.Password, s.Token)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"scored":true}`)
	}))
	defer up.Close()
	for _, args := range [][]string{
		{"account", "create", "--name", "face1", "--kind", "Face", "--sku", "F0"},
		{"workspace", "create", "--name", "ws1"},
		{"endpoint", "create", "--workspace", "ws1", "--name", "keyed"},
		{"endpoint", "create", "--workspace", "ws1", "--name", "aad", "--auth-mode", "AADToken"},
		{"deployment", "create", "--workspace", "ws1", "--endpoint", "aad", "--name", "blue", "--upstream", up.URL},
		{"endpoint", "traffic", "--workspace", "ws1", "--name", "aad", "--set", "blue=100"},
		// A new service principal may do nothing until it holds a role.
		{"role", "assignment", "create", "--assignee", creds.AppID, "--role", "Contributor", "--scope", "/subscriptions/" + azSub},
	} {
		if _, stderr, err := cli(t, env, args...); err != nil {
			t.Fatalf("rekey %s: %v\n%s", strings.Join(args[:2], " "), err, az.redact(stderr))
		}
	}

	az.run("cloud register", "cloud", "register", "-n", "rekey", "--endpoint-resource-manager", s.URL+"/")
	az.run("cloud set", "cloud", "set", "-n", "rekey")
	// In AD FS mode (loginEndpoint ends in /adfs) az signs in to the adfs
	// tenant whatever --tenant says; the tenant GUID is what it records.
	var tenants []string
	az.runJSON(&tenants, "login --service-principal", "login", "--service-principal",
		"-u", creds.AppID, "-p", creds.Password, "--tenant", creds.Tenant, "--query", "[].tenantId")
	if len(tenants) == 0 || tenants[0] != creds.Tenant {
		t.Errorf("az login: subscriptions in tenants %v, want %s", tenants, creds.Tenant)
	}
	var account struct{ ID, TenantID, User, Type, Cloud string }
	az.runJSON(&account, "account show", "account", "show",
		"--query", "{id:id, tenantId:tenantId, user:user.name, type:user.type, cloud:environmentName}")
	if account.ID != azSub || account.TenantID != creds.Tenant || account.User != creds.AppID || account.Type != "servicePrincipal" || account.Cloud != "rekey" {
		t.Errorf("az account show = %+v; want subscription %s, tenant %s, user %s (servicePrincipal), cloud rekey", account, azSub, creds.Tenant, creds.AppID)
	}

	// Cognitive Services account keys.
	var k0, k1 struct{ Key1, Key2 string }
	az.runJSON(&k0, "cognitiveservices account keys list", "cognitiveservices", "account", "keys", "list", "-g", azRG, "-n", "face1")
	az.secrets = append(az.secrets, k0.Key1, k0.Key2)
	az.runJSON(&k1, "cognitiveservices account keys regenerate", "cognitiveservices", "account", "keys", "regenerate", "-g", azRG, "-n", "face1", "--key-name", "key1")
	az.secrets = append(az.secrets, k1.Key1)
	if k0.Key1 == "" || k1.Key1 == k0.Key1 || k1.Key2 != k0.Key2 {
		t.Error("az cognitiveservices account keys regenerate --key-name key1: want a new key1 and the same key2")
	}

	// ML endpoint keys with az rest: the management token comes from the
	// sign-in, since the URL is under the cloud's resource manager.
	ep := s.URL + "/subscriptions/" + azSub + "/resourceGroups/" + azRG + "/providers/Microsoft.MachineLearningServices/workspaces/ws1/onlineEndpoints/keyed"
	var e0 struct{ PrimaryKey, SecondaryKey string }
	az.runJSON(&e0, "rest listKeys", "rest", "--method", "post", "--url", ep+"/listKeys?api-version=2024-04-01")
	az.secrets = append(az.secrets, e0.PrimaryKey, e0.SecondaryKey)
	az.run("rest regenerateKeys", "rest", "--method", "post", "--url", ep+"/regenerateKeys?api-version=2024-04-01",
		"--body", `{"keyType":"Primary"}`, "--output", "none")
	var e1 struct{ PrimaryKey, SecondaryKey string }
	for range 10 { // regenerateKeys answers 202; the operation finishes at once, but poll to be sure
		az.runJSON(&e1, "rest listKeys", "rest", "--method", "post", "--url", ep+"/listKeys?api-version=2024-04-01")
		az.secrets = append(az.secrets, e1.PrimaryKey)
		if e1.PrimaryKey != e0.PrimaryKey {
			break
		}
	}
	if e0.PrimaryKey == "" || e1.PrimaryKey == e0.PrimaryKey || e1.SecondaryKey != e0.SecondaryKey {
		t.Error("az rest regenerateKeys Primary: want a new primary key and the same secondary key")
	}

	// An AADToken endpoint scored with az's token for Azure ML.
	tok := strings.TrimSpace(az.run("account get-access-token", "account", "get-access-token", "--resource", "https://ml.azure.com", "--query", "accessToken", "--output", "tsv"))
	az.secrets = append(az.secrets, tok)
	score := func(auth string) (int, string) {
		req, _ := http.NewRequest("POST", s.Gateway+"/endpoints/aad/score", strings.NewReader("{}"))
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := score("Bearer " + tok); code != 200 || !strings.Contains(body, "scored") {
		t.Errorf("scoring an AADToken endpoint with az's token for https://ml.azure.com = %d %s, want 200 from the upstream", code, az.redact(body))
	}
	mgmt := strings.TrimSpace(az.run("account get-access-token", "account", "get-access-token", "--query", "accessToken", "--output", "tsv"))
	az.secrets = append(az.secrets, mgmt)
	if code, body := score("Bearer " + mgmt); code != 401 || !strings.Contains(body, "aad_token_auth_access_denied") {
		t.Errorf("scoring with a management token = %d %s, want 401 aad_token_auth_access_denied", code, az.redact(body))
	}
	noSecretsLogged(t, s, append([]string{creds.Password}, az.secrets...)...)
}
