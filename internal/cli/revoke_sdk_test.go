package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	cs "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/cognitiveservices/armcognitiveservices/v2"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"
)

// gatewayStatus sends a POST with the Authorization header auth to the
// gateway and returns the status.
func gatewayStatus(t *testing.T, url, auth string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"question":"hi"}`))
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestSDKRevokedKeyStaysRevoked: a primary key regenerated through the SDK
// without a grace period stays refused at the gateway when the endpoint
// gains rekey.keyGracePeriod afterwards, and when the server restarts
// with --propagation-delay 1h, which must not refuse the key in force
// either, nor a key replaced while a grace period was in force.
func TestSDKRevokedKeyStaysRevoked(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok":true}`) }))
	defer up.Close()
	dataDir := t.TempDir()
	s := startServer(t, dataDir)
	c := newSDK(t, s)
	ctx := t.Context()
	c.mustWorkspace(t, "ws1")
	c.mustEndpoint(t, "ws1", "revoked", ml.EndpointAuthModeKey)
	deployBlue(t, s, "revoked", up.URL)
	putEndpoint := func(props map[string]*string) {
		t.Helper()
		p, err := c.ep.BeginCreateOrUpdate(ctx, testRG, "ws1", "revoked", ml.OnlineEndpoint{Location: to.Ptr("westeurope"),
			Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(ml.EndpointAuthModeKey), Traffic: map[string]*int32{"blue": to.Ptr[int32](100)},
				Properties: props}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.PollUntilDone(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	putEndpoint(nil)
	score := func(gw, key string) int { return gatewayStatus(t, gw+"/endpoints/revoked/score", "Bearer "+key) }
	old, _ := c.keys(t, "ws1", "revoked")
	if st := score(s.Gateway, old); st != 200 {
		t.Fatalf("primary before the rotation = %d, want 200", st)
	}
	c.regenerate(t, "ws1", "revoked", ml.KeyTypePrimary, nil)
	current, _ := c.keys(t, "ws1", "revoked")
	if st := score(s.Gateway, old); st != 401 {
		t.Fatalf("old primary after regenerateKeys without grace = %d, want 401", st)
	}
	putEndpoint(map[string]*string{"rekey.keyGracePeriod": to.Ptr("1h")})
	if st := score(s.Gateway, old); st != 401 {
		t.Errorf("old primary after the endpoint gained a 1h grace period = %d, want 401", st)
	}
	if st := score(s.Gateway, current); st != 200 {
		t.Errorf("current primary = %d, want 200", st)
	}
	// With the grace period in force at a rotation, the replaced key
	// keeps working. (properties.properties entries cannot be removed or
	// altered, so shortening is tested with a QnA account's tag.)
	graced := current
	c.regenerate(t, "ws1", "revoked", ml.KeyTypePrimary, nil)
	current, _ = c.keys(t, "ws1", "revoked")
	if st := score(s.Gateway, graced); st != 200 {
		t.Errorf("primary replaced under a 1h grace period = %d, want 200", st)
	}

	s.stop()
	s = startServer(t, dataDir, "--propagation-delay", "1h")
	for _, tt := range []struct {
		name, key string
		want      int
	}{{"the primary revoked without grace", old, 401}, {"the primary replaced under grace", graced, 200}, {"the current primary", current, 200}} {
		if st := score(s.Gateway, tt.key); st != tt.want {
			t.Errorf("after a restart with --propagation-delay 1h, %s = %d, want %d", tt.name, st, tt.want)
		}
	}
}

// TestSDKQnARevokedKeyStaysRevoked: a QnA endpoint key refreshed without a
// grace period stays refused at the QnA runtime when the account gains
// the rekey.keyGracePeriod tag afterwards; a key refreshed under that tag
// keeps its window when the tag is removed again.
func TestSDKQnARevokedKeyStaysRevoked(t *testing.T) {
	runtime := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"answers":[]}`) }))
	defer runtime.Close()
	s := startServer(t, "")
	ctx := t.Context()
	accounts, err := cs.NewAccountsClient(testSub, staticToken(s.Token), s.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	poller, err := accounts.BeginCreate(ctx, testRG, "qna-revoked", cs.Account{
		Location: to.Ptr("westus"), Kind: to.Ptr("QnAMaker"), SKU: &cs.SKU{Name: to.Ptr("S0")},
		Properties: &cs.AccountProperties{APIProperties: &cs.APIProperties{QnaRuntimeEndpoint: to.Ptr(runtime.URL)}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	created, err := poller.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := accounts.ListKeys(ctx, testRG, "qna-revoked", nil)
	if err != nil {
		t.Fatal(err)
	}
	authoring := strings.TrimSuffix(*created.Properties.Endpoint, "/") + "/qnamaker/v4.0/endpointkeys"
	var dto struct{ PrimaryEndpointKey string }
	st, body := qnaCall(t, s, "GET", authoring, *keys.Key1, nil, "")
	if st != 200 || json.Unmarshal(body, &dto) != nil || dto.PrimaryEndpointKey == "" {
		t.Fatalf("GET endpointkeys = %d", st)
	}
	old := dto.PrimaryEndpointKey
	runtimeURL := s.Gateway + "/qnamaker/knowledgebases/kb-1/generateAnswer"
	if st := gatewayStatus(t, runtimeURL, "EndpointKey "+old); st != 200 {
		t.Fatalf("generateAnswer with the endpoint key = %d, want 200", st)
	}
	if st, _ := qnaCall(t, s, "PATCH", authoring+"/PrimaryKey", *keys.Key1, nil, ""); st != 200 {
		t.Fatalf("refresh PrimaryKey = %d", st)
	}
	if st := gatewayStatus(t, runtimeURL, "EndpointKey "+old); st != 401 {
		t.Fatalf("old endpoint key after a refresh without grace = %d, want 401", st)
	}
	up, err := accounts.BeginUpdate(ctx, testRG, "qna-revoked", cs.Account{Tags: map[string]*string{"rekey.keyGracePeriod": to.Ptr("1h")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if st := gatewayStatus(t, runtimeURL, "EndpointKey "+old); st != 401 {
		t.Errorf("old endpoint key after the account gained a 1h grace tag = %d, want 401", st)
	}

	st, body = qnaCall(t, s, "GET", authoring, *keys.Key1, nil, "")
	if st != 200 || json.Unmarshal(body, &dto) != nil {
		t.Fatalf("GET endpointkeys = %d", st)
	}
	graced := dto.PrimaryEndpointKey
	if st, _ := qnaCall(t, s, "PATCH", authoring+"/PrimaryKey", *keys.Key1, nil, ""); st != 200 {
		t.Fatalf("refresh PrimaryKey = %d", st)
	}
	if st := gatewayStatus(t, runtimeURL, "EndpointKey "+graced); st != 200 {
		t.Errorf("endpoint key refreshed under a 1h grace tag = %d, want 200", st)
	}
	up, err = accounts.BeginUpdate(ctx, testRG, "qna-revoked", cs.Account{Tags: map[string]*string{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if acc, err := accounts.Get(ctx, testRG, "qna-revoked", nil); err != nil || acc.Tags["rekey.keyGracePeriod"] != nil {
		t.Fatalf("the grace tag was not removed (%v)", err)
	}
	if st := gatewayStatus(t, runtimeURL, "EndpointKey "+graced); st != 200 {
		t.Errorf("endpoint key refreshed under a 1h grace tag, the tag since removed = %d, want 200", st)
	}
}

// TestSDKAMLTokenStaysRevoked: an AMLToken refused because its endpoint
// left AMLToken mode is not accepted again when the endpoint returns to
// it; a token issued after the return works.
func TestSDKAMLTokenStaysRevoked(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok":true}`) }))
	defer up.Close()
	s := startServer(t, "")
	c := newSDK(t, s)
	ctx := t.Context()
	c.mustWorkspace(t, "ws1")
	c.mustEndpoint(t, "ws1", "tok", ml.EndpointAuthModeAMLToken)
	deployBlue(t, s, "tok", up.URL)
	setMode := func(mode ml.EndpointAuthMode) {
		t.Helper()
		p, err := c.ep.BeginCreateOrUpdate(ctx, testRG, "ws1", "tok", ml.OnlineEndpoint{Location: to.Ptr("westeurope"),
			Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(mode), Traffic: map[string]*int32{"blue": to.Ptr[int32](100)}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.PollUntilDone(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	token := func() string {
		t.Helper()
		resp, err := c.ep.GetToken(ctx, testRG, "ws1", "tok", nil)
		if err != nil {
			t.Fatal(err)
		}
		return *resp.AccessToken
	}
	setMode(ml.EndpointAuthModeAMLToken)
	score := func(tok string) int { return gatewayStatus(t, s.Gateway+"/endpoints/tok/score", "Bearer "+tok) }
	first := token()
	if st := score(first); st != 200 {
		t.Fatalf("a fresh AMLToken = %d, want 200", st)
	}
	setMode(ml.EndpointAuthModeKey)
	if st := score(first); st != 401 {
		t.Fatalf("the AMLToken after the switch to Key = %d, want 401", st)
	}
	setMode(ml.EndpointAuthModeAMLToken)
	if st := score(first); st != 401 {
		t.Errorf("the AMLToken issued before the switch, once AMLToken is back = %d, want 401", st)
	}
	if st := score(token()); st != 200 {
		t.Errorf("a token issued after the return to AMLToken = %d, want 200", st)
	}
}

// deployBlue creates deployment blue of endpoint ws1/ep with upstream up,
// through the SDK, and waits for it.
func deployBlue(t *testing.T, s *testServer, ep, up string) {
	t.Helper()
	deployments, err := ml.NewOnlineDeploymentsClient(testSub, staticToken(s.Token), s.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	dp, err := deployments.BeginCreateOrUpdate(t.Context(), testRG, "ws1", ep, "blue", ml.OnlineDeployment{Location: to.Ptr("westeurope"),
		Properties: &ml.ManagedOnlineDeployment{EndpointComputeType: to.Ptr(ml.EndpointComputeTypeManaged),
			Properties: map[string]*string{"rekey.upstream": to.Ptr(up)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
}
