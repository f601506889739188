package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"
)

// TestSDKGatewayRotation is the product's promise end to end: an endpoint
// and a deployment made with the official SDK in front of a real upstream;
// its scoringUri takes both keys and refuses others; a regeneration through
// the SDK cuts the old primary off as soon as the 202 arrives, while a
// client on the secondary key never fails.
func TestSDKGatewayRotation(t *testing.T) {
	var sawAuth atomic.Bool
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			sawAuth.Store(true)
		}
		io.WriteString(w, `{"result":"`+r.URL.Path+`"}`)
	}))
	defer up.Close()
	s := startServer(t, "")
	c := newSDK(t, s)
	ctx := t.Context()
	c.mustWorkspace(t, "ws1")
	c.mustEndpoint(t, "ws1", "scoring", ml.EndpointAuthModeKey)

	deployments, err := ml.NewOnlineDeploymentsClient(testSub, staticToken(s.Token), s.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	dp, err := deployments.BeginCreateOrUpdate(ctx, testRG, "ws1", "scoring", "blue", ml.OnlineDeployment{
		Location: to.Ptr("westeurope"),
		Properties: &ml.ManagedOnlineDeployment{
			EndpointComputeType: to.Ptr(ml.EndpointComputeTypeManaged),
			Properties:          map[string]*string{"rekey.upstream": to.Ptr(up.URL)},
		},
	}, nil)
	if err != nil {
		t.Fatalf("deployments.BeginCreateOrUpdate: %v", err)
	}
	created, err := dp.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("deployment PollUntilDone: %v", err)
	}
	if got := created.Properties.GetOnlineDeploymentProperties().ProvisioningState; *got != ml.DeploymentProvisioningStateSucceeded {
		t.Errorf("deployment provisioningState = %s, want Succeeded", *got)
	}
	// Send all traffic to blue, as "az ml online-endpoint update --traffic blue=100" does.
	ep, err := c.ep.BeginCreateOrUpdate(ctx, testRG, "ws1", "scoring", ml.OnlineEndpoint{Location: to.Ptr("westeurope"),
		Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(ml.EndpointAuthModeKey), Traffic: map[string]*int32{"blue": to.Ptr[int32](100)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	endpoint, err := ep.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	scoring := *endpoint.Properties.ScoringURI
	if !strings.HasPrefix(scoring, s.Gateway) || !strings.HasSuffix(scoring, "/endpoints/scoring/score") {
		t.Fatalf("scoringUri = %s, want %s/endpoints/scoring/score", scoring, s.Gateway)
	}

	score := func(key string) int {
		req, _ := http.NewRequest("POST", scoring, strings.NewReader(`{"data":[1]}`))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	primary, secondary := c.keys(t, "ws1", "scoring")
	for _, tt := range []struct {
		name, key string
		want      int
	}{{"primary", primary, 200}, {"secondary", secondary, 200}, {"wrong key", "not-a-key-of-this-endpoint", 401}, {"no header", "", 401}} {
		if got := score(tt.key); got != tt.want {
			t.Errorf("scoringUri with %s = %d, want %d", tt.name, got, tt.want)
		}
	}

	var (
		stop   = make(chan struct{})
		wg     sync.WaitGroup
		total  atomic.Int64
		failed atomic.Int64
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			total.Add(1)
			if score(secondary) != 200 {
				failed.Add(1)
			}
		}
	}()
	poller, err := c.ep.BeginRegenerateKeys(ctx, testRG, "ws1", "scoring", ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(ml.KeyTypePrimary)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := score(primary); got != 401 { // right after the 202, before polling
		t.Errorf("old primary right after the 202 = %d, want 401", got)
	}
	if _, err := poller.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	newPrimary, _ := c.keys(t, "ws1", "scoring")
	if got := score(newPrimary); got != 200 {
		t.Errorf("new primary = %d, want 200", got)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || total.Load() == 0 {
		t.Errorf("secondary-key requests during the rotation: %d of %d failed, want 0", failed.Load(), total.Load())
	}
	if sawAuth.Load() {
		t.Errorf("the upstream saw an Authorization header")
	}
	// Azure refuses to delete a deployment that still takes traffic.
	if _, err := deployments.BeginDelete(ctx, testRG, "ws1", "scoring", "blue", nil); err == nil || responseError(t, err).StatusCode != 400 {
		t.Errorf("deleting a deployment with traffic = %v, want 400", err)
	}
}
