package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"
)

const (
	testTenant   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	testSPID     = "0a1b2c3d-1234-4abc-8def-0123456789ab"
	testSPSecret = "e2e-client-secret-0123456789abcdef"
)

// startIdentityServer starts rekey with a known tenant and a service
// principal seeded from REKEY_SP_CLIENT_ID, also its managed identity.
func startIdentityServer(t *testing.T, extra ...string) *testServer {
	t.Helper()
	args := append([]string{"--tenant-id", testTenant, "--managed-identity", testSPID}, extra...)
	return startServerEnv(t, envOf("REKEY_SP_CLIENT_ID", testSPID, "REKEY_SP_CLIENT_SECRET", testSPSecret), "", args...)
}

// loopbackOnly is the credentials' transport: the server's CA, and a
// refusal of any address that is not loopback, so a credential chain that
// falls through to IMDS or login.microsoftonline.com fails at once
// instead of leaving the machine.
type loopbackOnly struct{ c *http.Client }

func (l loopbackOnly) Do(r *http.Request) (*http.Response, error) {
	if ip := net.ParseIP(r.URL.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, errors.New("test transport: refusing non-loopback host " + r.URL.Host)
	}
	return l.c.Do(r)
}

// rotateWith drives armmachinelearning with cred: create a workspace and
// an endpoint, regenerate its primary key, and check systemData names
// the service principal.
func rotateWith(t *testing.T, s *testServer, cred azcore.TokenCredential, name string) {
	t.Helper()
	// A new service principal may do nothing until it holds a role.
	assignRole(t, s, testSPID, "Contributor", "/subscriptions/"+testSub)
	ws, err := ml.NewWorkspacesClient(testSub, cred, s.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	ep, err := ml.NewOnlineEndpointsClient(testSub, cred, s.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	c := sdkClients{ws, ep}
	c.mustWorkspace(t, name)
	got := c.mustEndpoint(t, name, name+"-ep", ml.EndpointAuthModeKey)
	// Azure ML's systemData has createdAt, createdBy and lastModifiedAt only.
	if sd := got.SystemData; sd == nil || sd.CreatedBy == nil || *sd.CreatedBy != testSPID {
		t.Errorf("systemData = %+v, want createdBy %s (the appId)", sd, testSPID)
	}
	before, _ := c.keys(t, name, name+"-ep")
	c.regenerate(t, name, name+"-ep", ml.KeyTypePrimary, nil)
	after, _ := c.keys(t, name, name+"-ep")
	if before == after {
		t.Error("primary key unchanged after RegenerateKeys")
	}
}

// noSecretsLogged fails when the server's log holds a secret or token.
func noSecretsLogged(t *testing.T, s *testServer, secrets ...string) {
	t.Helper()
	logs := s.Logs.String()
	for i, v := range secrets {
		if v != "" && strings.Contains(logs, v) {
			t.Errorf("the server log holds secret #%d (a client secret or access token)", i)
		}
	}
	if strings.Contains(logs, "eyJ") {
		t.Error("the server log holds something shaped like a JWT")
	}
}

func TestSignInClientSecretCredential(t *testing.T) {
	s := startIdentityServer(t)
	cred, err := azidentity.NewClientSecretCredential(testTenant, testSPID, testSPSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.URL + "/"},
			Transport: loopbackOnly{s.httpClient()},
		},
		DisableInstanceDiscovery: true, // or MSAL asks login.microsoftonline.com about the authority
	})
	if err != nil {
		t.Fatal(err)
	}
	rotateWith(t, s, cred, "sp-secret")
	tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	noSecretsLogged(t, s, testSPSecret, tok.Token)

	// A wrong secret is Entra's AADSTS7000215, surfaced by azidentity.
	bad, _ := azidentity.NewClientSecretCredential(testTenant, testSPID, "wrong-secret-0123456789", &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.URL + "/"}, Transport: loopbackOnly{s.httpClient()}},
		DisableInstanceDiscovery: true,
	})
	_, err = bad.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	var af *azidentity.AuthenticationFailedError
	if !errors.As(err, &af) || af.RawResponse == nil || af.RawResponse.StatusCode != 401 || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("GetToken with a wrong secret = %v, want AuthenticationFailedError 401 AADSTS7000215", err)
	}
}

// DefaultAzureCredential with nothing but environment variables: the adfs
// tenant, where azidentity and MSAL skip instance discovery.
func TestSignInDefaultAzureCredential(t *testing.T) {
	s := startIdentityServer(t)
	t.Setenv("AZURE_TENANT_ID", "adfs")
	t.Setenv("AZURE_CLIENT_ID", testSPID)
	t.Setenv("AZURE_CLIENT_SECRET", testSPSecret)
	t.Setenv("AZURE_AUTHORITY_HOST", s.URL)
	// The CA is trusted through the transport: DefaultAzureCredential
	// passes ClientOptions to every credential of its chain.
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: loopbackOnly{s.httpClient()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rotateWith(t, s, cred, "sp-default")
	noSecretsLogged(t, s, testSPSecret)
}

// ManagedIdentityCredential, App Service style: IDENTITY_ENDPOINT and
// IDENTITY_HEADER from the server's banner and data directory.
func TestSignInManagedIdentityCredential(t *testing.T) {
	s := startIdentityServer(t)
	header, err := os.ReadFile(filepath.Join(s.DataDir, "identity-header"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(s.DataDir, "identity-header")); fi.Mode().Perm() != 0o600 {
		t.Errorf("identity-header mode = %v, want 0600", fi.Mode().Perm())
	}
	t.Setenv("IDENTITY_ENDPOINT", s.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", strings.TrimSpace(string(header)))
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: loopbackOnly{s.httpClient()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rotateWith(t, s, cred, "sp-msi")
	noSecretsLogged(t, s, strings.TrimSpace(string(header)))

	// A wrong header is refused with App Service's error shape.
	req, _ := http.NewRequestWithContext(context.Background(), "GET", s.URL+"/msi/token?api-version=2019-08-01&resource=https://management.azure.com/", nil)
	req.Header.Set("X-IDENTITY-HEADER", "wrong-header-value")
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong X-IDENTITY-HEADER: %d, want 401", resp.StatusCode)
	}
}
