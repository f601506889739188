package rekeytest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"

	"github.com/rekey-dev/rekey/rekeytest"
)

const (
	sub = "00000000-0000-0000-0000-000000000000"
	rg  = "rekeytest"
)

// clients are the official SDK's clients for one server.
type clients struct {
	ws  *ml.WorkspacesClient
	ep  *ml.OnlineEndpointsClient
	dep *ml.OnlineDeploymentsClient
}

func newClients(t *testing.T, srv *rekeytest.Server) clients {
	t.Helper()
	f, err := ml.NewClientFactory(sub, srv.Credential(), srv.ARMClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	return clients{f.NewWorkspacesClient(), f.NewOnlineEndpointsClient(), f.NewOnlineDeploymentsClient()}
}

func (c clients) workspace(t *testing.T, name string) {
	t.Helper()
	p, err := c.ws.BeginCreateOrUpdate(t.Context(), rg, name, ml.Workspace{Location: to.Ptr("eastus")}, nil)
	if err != nil {
		t.Fatalf("workspace: %v", err)
	}
	if _, err := p.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatalf("workspace: %v", err)
	}
}

// scoringEndpoint makes workspace ws1 and endpoint name with a deployment
// in front of upstream, taking all the traffic.
func (c clients) scoringEndpoint(t *testing.T, name, upstream string) {
	t.Helper()
	ctx := t.Context()
	c.workspace(t, "ws1")
	put := func(traffic map[string]*int32) {
		p, err := c.ep.BeginCreateOrUpdate(ctx, rg, "ws1", name, ml.OnlineEndpoint{Location: to.Ptr("eastus"),
			Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(ml.EndpointAuthModeKey), Traffic: traffic}}, nil)
		if err != nil {
			t.Fatalf("endpoint: %v", err)
		}
		if _, err := p.PollUntilDone(ctx, nil); err != nil {
			t.Fatalf("endpoint: %v", err)
		}
	}
	put(nil)
	p, err := c.dep.BeginCreateOrUpdate(ctx, rg, "ws1", name, "blue", ml.OnlineDeployment{Location: to.Ptr("eastus"),
		Properties: &ml.ManagedOnlineDeployment{EndpointComputeType: to.Ptr(ml.EndpointComputeTypeManaged),
			Properties: map[string]*string{"rekey.upstream": to.Ptr(upstream)}}}, nil)
	if err != nil {
		t.Fatalf("deployment: %v", err)
	}
	if _, err := p.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("deployment: %v", err)
	}
	put(map[string]*int32{"blue": to.Ptr[int32](100)})
}

func upstream(t *testing.T) string {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok":true}`) }))
	t.Cleanup(up.Close)
	return up.URL
}

func score(t *testing.T, srv *rekeytest.Server, endpoint, key string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.GatewayURL()+"/endpoints/"+endpoint+"/score", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestRotateWithTheSDK is what rekeytest is for: the official SDK
// regenerates a key, and the gateway refuses the old one from then on.
func TestRotateWithTheSDK(t *testing.T) {
	srv := rekeytest.Start(t)
	c := newClients(t, srv)
	c.scoringEndpoint(t, "scoring", upstream(t))
	keys, err := c.ep.ListKeys(t.Context(), rg, "ws1", "scoring", nil)
	if err != nil {
		t.Fatal(err)
	}
	old := *keys.PrimaryKey
	if got := score(t, srv, "scoring", old); got != http.StatusOK {
		t.Fatalf("gateway with the primary key = %d, want 200", got)
	}
	p, err := c.ep.BeginRegenerateKeys(t.Context(), rg, "ws1", "scoring", ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(ml.KeyTypePrimary)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	keys, err = c.ep.ListKeys(t.Context(), rg, "ws1", "scoring", nil)
	if err != nil {
		t.Fatal(err)
	}
	if *keys.PrimaryKey == old {
		t.Fatal("the primary key did not change")
	}
	if got := score(t, srv, "scoring", old); got != http.StatusUnauthorized {
		t.Errorf("gateway with the rotated-out key = %d, want 401", got)
	}
	if got := score(t, srv, "scoring", *keys.PrimaryKey); got != http.StatusOK {
		t.Errorf("gateway with the new primary key = %d, want 200", got)
	}
}

// TestReset: after Reset the server is empty, the old key is refused at
// the gateway, and the same clients keep working.
func TestReset(t *testing.T) {
	srv := rekeytest.Start(t)
	c := newClients(t, srv)
	c.scoringEndpoint(t, "scoring", upstream(t))
	keys, err := c.ep.ListKeys(t.Context(), rg, "ws1", "scoring", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Reset()
	if got := score(t, srv, "scoring", *keys.PrimaryKey); got == http.StatusOK {
		t.Errorf("gateway with a key from before Reset = %d, want it refused", got)
	}
	_, err = c.ws.Get(t.Context(), rg, "ws1", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
		t.Errorf("workspace after Reset: %v, want 404", err)
	}
	c.workspace(t, "ws1") // the same credential and options still work
}

// TestWithOperationDelay: the option reaches the server, so a poller sees
// the operation running.
func TestWithOperationDelay(t *testing.T) {
	srv := rekeytest.Start(t, rekeytest.WithOperationDelay(time.Hour))
	c := newClients(t, srv)
	c.workspace(t, "ws1")
	p, err := c.ep.BeginCreateOrUpdate(t.Context(), rg, "ws1", "slow", ml.OnlineEndpoint{Location: to.Ptr("eastus"),
		Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(ml.EndpointAuthModeKey)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p.Done() {
		t.Errorf("an operation delayed by an hour is done at once")
	}
}

// TestServersAreSeparate: two servers in one test share nothing, and
// WithArgs reaches the server.
func TestServersAreSeparate(t *testing.T) {
	a := rekeytest.Start(t)
	b := rekeytest.Start(t, rekeytest.WithArgs("--tenant-id", "72f988bf-86f1-41af-91ab-2d7cd011db47"))
	if a.URL() == b.URL() || a.GatewayURL() == b.GatewayURL() || a.DataDir() == b.DataDir() || a.Token() == b.Token() {
		t.Fatalf("two servers share a URL, directory or token")
	}
	newClients(t, a).workspace(t, "only-in-a")
	_, err := newClients(t, b).ws.Get(t.Context(), rg, "only-in-a", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
		t.Errorf("server b sees server a's workspace: %v", err)
	}
	resp, err := b.HTTPClient().Get(b.URL() + "/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "72f988bf-86f1-41af-91ab-2d7cd011db47") {
		t.Errorf("the tenant given WithArgs: openid-configuration = %d %s", resp.StatusCode, body)
	}
}

// rotateKeys stands for the code under test in the README's example.
func rotateKeys(ctx context.Context, endpoints *ml.OnlineEndpointsClient, rg, ws, name string) error {
	p, err := endpoints.BeginRegenerateKeys(ctx, rg, ws, name, ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(ml.KeyTypePrimary)}, nil)
	if err != nil {
		return err
	}
	_, err = p.PollUntilDone(ctx, nil)
	return err
}

// TestREADMEExample is the README's example, as written there (with the
// package ml for armmachinelearning), so that it keeps compiling and
// working.
func TestREADMEExample(t *testing.T) {
	ctx, subscriptionID := t.Context(), sub
	srv := rekeytest.Start(t, rekeytest.WithOperationDelay(50*time.Millisecond))
	f, _ := ml.NewClientFactory(subscriptionID, srv.Credential(), srv.ARMClientOptions())
	ws, _ := f.NewWorkspacesClient().BeginCreateOrUpdate(ctx, "rg", "ws1", ml.Workspace{Location: to.Ptr("eastus")}, nil)
	ws.PollUntilDone(ctx, nil)
	ep, _ := f.NewOnlineEndpointsClient().BeginCreateOrUpdate(ctx, "rg", "ws1", "my-endpoint", ml.OnlineEndpoint{Location: to.Ptr("eastus"),
		Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(ml.EndpointAuthModeKey)}}, nil)
	ep.PollUntilDone(ctx, nil)
	before, err := f.NewOnlineEndpointsClient().ListKeys(ctx, "rg", "ws1", "my-endpoint", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = rotateKeys(ctx, f.NewOnlineEndpointsClient(), "rg", "ws1", "my-endpoint") // the code under test
	if err != nil {
		t.Fatal(err)
	}
	if got := score(t, srv, "my-endpoint", *before.PrimaryKey); got != http.StatusUnauthorized {
		t.Errorf("old key at the gateway = %d, want 401", got)
	}
}

// TestServicePrincipalCredential: the route the package documentation
// gives for the Entra flow works: a service principal from WithEnv, and
// azidentity's ClientSecretCredential pointed at URL() over the CA.
func TestServicePrincipalCredential(t *testing.T) {
	const appID, secret = "5f0c6a8e-3b1d-4c2a-9e7f-0a1b2c3d4e5f", "a-secret-of-enough-length-0123456789"
	srv := rekeytest.Start(t, rekeytest.WithEnv("REKEY_SP_CLIENT_ID", appID), rekeytest.WithEnv("REKEY_SP_CLIENT_SECRET", secret))
	srv.AssignRole(appID, "Contributor", "/subscriptions/"+sub)
	cred, err := azidentity.NewClientSecretCredential("adfs", appID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: srv.ARMClientOptions().ClientOptions,
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := ml.NewClientFactory(sub, cred, srv.ARMClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	c := clients{f.NewWorkspacesClient(), f.NewOnlineEndpointsClient(), f.NewOnlineDeploymentsClient()}
	c.workspace(t, "ws1")
}
