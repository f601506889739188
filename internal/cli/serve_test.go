package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"

	"github.com/rekey-dev/rekey/localca"
)

// TestServeOwnCertificate: --tls-cert/--tls-key replace the local CA.
func TestServeOwnCertificate(t *testing.T) {
	certs := t.TempDir()
	files, _, err := localca.Ensure(certs)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	s := startServerEnv(t, envOf("TEST_CA", files.CA), data, "--tls-cert", files.ServerCert, "--tls-key", files.ServerKey)
	if _, err := os.Stat(filepath.Join(data, "ca.pem")); err == nil {
		t.Errorf("a local CA was created although --tls-cert was given")
	}
	c := newSDK(t, s)
	c.mustWorkspace(t, "ws-own-cert")
}

// TestServeInsecureHTTPWithAdminTokenFromEnv: plain HTTP behind a proxy,
// with REKEY_ADMIN_TOKEN instead of the generated file. The SDK needs
// InsecureAllowCredentialWithHTTP for http:// endpoints.
func TestServeInsecureHTTPWithAdminTokenFromEnv(t *testing.T) {
	const token = "token-from-the-environment-0123"
	data := t.TempDir()
	s := startServerEnv(t, envOf("REKEY_ADMIN_TOKEN", token), data, "--insecure-http")
	if !strings.HasPrefix(s.URL, "http://") {
		t.Fatalf("URL = %s, want http://", s.URL)
	}
	if _, err := os.Stat(filepath.Join(data, "admin-token")); err == nil {
		t.Errorf("admin-token file written although REKEY_ADMIN_TOKEN was set")
	}
	opts := s.armOptions()
	opts.InsecureAllowCredentialWithHTTP = true
	ws, err := ml.NewWorkspacesClient(testSub, staticToken(token), opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ws.BeginCreateOrUpdate(t.Context(), testRG, "ws-http", ml.Workspace{Location: to.Ptr("eastus")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	// Any other token is refused.
	req, _ := http.NewRequest("GET", s.URL+"/subscriptions/"+testSub+"/providers/Microsoft.MachineLearningServices/workspaces?api-version=2024-04-01", nil)
	req.Header.Set("Authorization", "Bearer some-other-token-value")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token = %d, want 401", resp.StatusCode)
	}
}

// TestServeRestartKeepsState: the data directory carries everything across
// a graceful restart: database, master key (keys still open), CA, token.
func TestServeRestartKeepsState(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	c := newSDK(t, s)
	c.mustWorkspace(t, "ws-restart")
	c.mustEndpoint(t, "ws-restart", "ep-restart", ml.EndpointAuthModeKey)
	p0, s0 := c.keys(t, "ws-restart", "ep-restart")
	s.stop()

	s2 := startServer(t, data)
	if s2.Token != s.Token {
		t.Errorf("admin token changed across restarts")
	}
	p1, s1 := newSDK(t, s2).keys(t, "ws-restart", "ep-restart")
	if p1 != p0 || s1 != s0 {
		t.Errorf("keys changed across a restart")
	}
}
