package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"
)

// startGateway runs "rekey serve --role gateway" on dataDir and returns
// its URL.
func startGateway(t *testing.T, dataDir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--role", "gateway", "--data", dataDir, "--gateway-listen", "127.0.0.1:0"}, args...), envOf(), nil, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway role returned %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "data-plane gateway on "); ok {
			go io.Copy(io.Discard, pr)
			return after
		}
	}
	t.Fatalf("the gateway role did not start: %v", <-done)
	return ""
}

// TestRolesSplit: a management process and a gateway process share one
// data directory; the gateway follows the management side's changes
// through the change feed.
func TestRolesSplit(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	s := startServer(t, "", "--role", "management")
	if s.Gateway != "" {
		t.Fatalf("management role started a gateway on %s", s.Gateway)
	}
	gw := startGateway(t, s.DataDir, "--sync-interval", "50ms")

	c := newSDK(t, s)
	c.mustWorkspace(t, "ws1")
	c.mustEndpoint(t, "ws1", "split", ml.EndpointAuthModeKey)
	deployments, _ := ml.NewOnlineDeploymentsClient(testSub, staticToken(s.Token), s.armOptions())
	dp, err := deployments.BeginCreateOrUpdate(t.Context(), testRG, "ws1", "split", "blue", ml.OnlineDeployment{Location: to.Ptr("westeurope"),
		Properties: &ml.ManagedOnlineDeployment{EndpointComputeType: to.Ptr(ml.EndpointComputeTypeManaged), Properties: map[string]*string{"rekey.upstream": to.Ptr(up.URL)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	ep, err := c.ep.BeginCreateOrUpdate(t.Context(), testRG, "ws1", "split", ml.OnlineEndpoint{Location: to.Ptr("westeurope"),
		Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(ml.EndpointAuthModeKey), Traffic: map[string]*int32{"blue": to.Ptr[int32](100)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ep.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	status := func(key string) int {
		req, _ := http.NewRequest("POST", gw+"/endpoints/split/score", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5s", what)
			}
		}
	}
	p, _ := c.keys(t, "ws1", "split")
	eventually("the gateway process learns of the new endpoint", func() bool { return status(p) == 200 })
	c.regenerate(t, "ws1", "split", ml.KeyTypePrimary, nil)
	newP, _ := c.keys(t, "ws1", "split")
	eventually("the gateway process refuses the old key", func() bool { return status(p) == 401 && status(newP) == 200 })
	resp, err := http.Get(gw + "/metrics")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("GET /metrics on a gateway-only process = %v, %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// TestGatewayTLSAndMetrics: --gateway-tls serves the data plane over HTTPS
// with the local CA, and the management listener's /metrics reports its
// traffic without any key in it.
func TestGatewayTLSAndMetrics(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	s := startServer(t, "", "--gateway-tls")
	if !strings.HasPrefix(s.Gateway, "https://") {
		t.Fatalf("gateway URL = %s, want https", s.Gateway)
	}
	out, stderr, err := cli(t, envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir), "workspace", "create", "--name", "ws1")
	if err != nil {
		t.Fatalf("%v %s %s", err, out, stderr)
	}
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir)
	for _, args := range [][]string{
		{"endpoint", "create", "--workspace", "ws1", "--name", "tls"},
		{"deployment", "create", "--workspace", "ws1", "--endpoint", "tls", "--name", "blue", "--upstream", up.URL},
		{"endpoint", "traffic", "--workspace", "ws1", "--name", "tls", "--set", "blue=100"},
	} {
		if _, stderr, err := cli(t, env, args...); err != nil {
			t.Fatalf("rekey %v: %v %s", args, err, stderr)
		}
	}
	keysJSON, _, err := cli(t, env, "keys", "list", "--workspace", "ws1", "--endpoint", "tls", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var keys struct{ PrimaryKey string }
	json.Unmarshal([]byte(keysJSON), &keys)
	p := keys.PrimaryKey
	req, _ := http.NewRequest("POST", s.Gateway+"/endpoints/tls/score", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+p)
	resp, err := s.httpClient().Do(req) // trusts only the generated CA
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scoring over the gateway's TLS = %v, %v", resp, err)
	}
	resp.Body.Close()
	resp, err = s.httpClient().Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `rekey_gateway_requests_total{endpoint="tls",deployment="blue",slot="primary",code="200"} 1`) {
		t.Errorf("/metrics lacks the scoring request:\n%s", body)
	}
	if strings.Contains(string(body), p) {
		t.Errorf("/metrics contains a key")
	}
}
