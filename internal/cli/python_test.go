package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPythonClients drives a real server with Azure's official Python
// clients (Debian's python3-azure; .ci/run installs it). Outside CI, the
// test skips when they are not installed.
func TestPythonClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Python clients; skipped with -short")
	}
	python := "/usr/bin/python3"
	probe := exec.Command(python, "-c", "import azure.mgmt.machinelearningservices, azure.mgmt.cognitiveservices, azure.cognitiveservices.knowledge.qnamaker")
	if out, err := probe.CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have Debian's python3-azure (.ci/run installs it): %v\n%s", err, out)
		}
		t.Skip("Azure's Python clients are not installed (apt-get install python3-azure); skipping")
	}
	// With an operation delay, creations are still running when the
	// clients first look, so their pollers must follow the operations.
	s := startServer(t, "", "--operation-delay", "200ms")
	cmd := exec.Command(python, filepath.Join("testdata", "python", "clients.py"), s.URL, s.Token)
	cmd.Env = append(os.Environ(), "REQUESTS_CA_BUNDLE="+filepath.Join(s.DataDir, "ca.pem"), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("python clients: %v", err)
	}
}

// TestPythonSignIn signs in with Debian's azure-identity (a
// ClientSecretCredential with rekey as the authority) and rotates a key
// with azure-mgmt-machinelearningservices.
func TestPythonSignIn(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Python clients; skipped with -short")
	}
	python := "/usr/bin/python3"
	probe := exec.Command(python, "-c", "import azure.identity, azure.mgmt.machinelearningservices")
	if out, err := probe.CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have Debian's python3-azure (.ci/run installs it): %v\n%s", err, out)
		}
		t.Skip("azure-identity is not installed (apt-get install python3-azure); skipping")
	}
	s := startIdentityServer(t)
	assignRole(t, s, testSPID, "Contributor", "/subscriptions/33333333-4444-5555-6666-777777777777")
	cmd := exec.Command(python, filepath.Join("testdata", "python", "signin.py"), s.URL, testTenant, testSPID, testSPSecret)
	cmd.Env = append(os.Environ(), "REQUESTS_CA_BUNDLE="+filepath.Join(s.DataDir, "ca.pem"), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("python sign-in: %v", err)
	}
	noSecretsLogged(t, s, testSPSecret)
}
