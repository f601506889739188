package cli

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"
)

// call sends a request with the admin token and returns the status, the
// headers and the body.
func (s *testServer) call(t *testing.T, method, url, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.Token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// addFault adds a fault through the admin API and returns its id.
func (s *testServer) addFault(t *testing.T, body string) string {
	t.Helper()
	st, _, out := s.call(t, "POST", s.URL+"/rekey/v1/faults", body)
	if st != http.StatusCreated {
		t.Fatalf("POST /rekey/v1/faults %s = %d %s, want 201", body, st, out)
	}
	var f struct{ ID string }
	json.Unmarshal([]byte(out), &f)
	return f.ID
}

func (s *testServer) metric(t *testing.T, series string) string {
	t.Helper()
	_, _, body := s.call(t, "GET", s.URL+"/metrics", "")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return "0"
}

const faultWS, faultEP = "faultws", "fault-ep"

func faultEndpointURL(s *testServer) string {
	return s.URL + "/subscriptions/" + testSub + "/resourceGroups/" + testRG +
		"/providers/Microsoft.MachineLearningServices/workspaces/" + faultWS + "/onlineEndpoints/" + faultEP
}

// TestFaultFailedRegenerateKeys: the official SDK sees the injected Failed
// operation as an *azcore.ResponseError with the chosen code, the key is
// not changed, the fault expires after its count, and the injection is
// logged and counted.
func TestFaultFailedRegenerateKeys(t *testing.T) {
	s := startServer(t, "")
	c := newSDK(t, s)
	c.mustWorkspace(t, faultWS)
	c.mustEndpoint(t, faultWS, faultEP, ml.EndpointAuthModeKey)
	before, _ := c.keys(t, faultWS, faultEP)

	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir)
	out, _, err := cli(t, env, "fault", "add", "--kind", "failed", "--operation", "regenerateKeys", "--resource", faultEP,
		"--code", "QuotaExceeded", "--message", "No quota left.", "--count", "1")
	if err != nil || !strings.Contains(out, "Added fault f-") {
		t.Fatalf("fault add = %q, %v", out, err)
	}
	id := strings.Fields(strings.TrimPrefix(out, "Added fault "))[0]
	id = strings.TrimSuffix(id, ":")

	p, err := c.ep.BeginRegenerateKeys(t.Context(), testRG, faultWS, faultEP, ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(ml.KeyTypePrimary)}, nil)
	if err != nil {
		t.Fatalf("BeginRegenerateKeys: %v, want the operation accepted", err)
	}
	_, err = p.PollUntilDone(t.Context(), nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.ErrorCode != "QuotaExceeded" {
		t.Fatalf("PollUntilDone = %v, want an *azcore.ResponseError with code QuotaExceeded", err)
	}
	if !strings.Contains(err.Error(), "No quota left.") {
		t.Errorf("error %q lacks the chosen message", err)
	}
	if after, _ := c.keys(t, faultWS, faultEP); after != before {
		t.Errorf("the primary key changed although its regenerateKeys operation failed")
	}

	// Count 1: the fault has expired, and the next rotation works.
	c.regenerate(t, faultWS, faultEP, ml.KeyTypePrimary, nil)
	if after, _ := c.keys(t, faultWS, faultEP); after == before {
		t.Errorf("the primary key did not change after the fault expired")
	}
	out, _, err = cli(t, env, "fault", "list")
	if err != nil || strings.Contains(out, id) {
		t.Errorf("fault list = %q, %v; want the expired fault gone", out, err)
	}

	logs := s.Logs.String()
	var line string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "fault injected") {
			line = l
		}
	}
	for _, want := range []string{"fault_id=" + id, "operation=regenerateKeys", "kind=failed"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, `request_id=""`) || !strings.Contains(line, "request_id=") {
		t.Errorf("log line %q has no request id", line)
	}
	if got := s.metric(t, `rekey_faults_injected_total{kind="failed",operation="regenerateKeys"}`); got != "1" {
		t.Errorf("rekey_faults_injected_total{failed,regenerateKeys} = %s, want 1", got)
	}
}

// TestFaultFailedCreate: a failed PUT creates nothing; the SDK's poller
// reports the chosen code.
func TestFaultFailedCreate(t *testing.T) {
	s := startServer(t, "")
	c := newSDK(t, s)
	c.mustWorkspace(t, faultWS)
	s.addFault(t, `{"kind":"failed","operation":"arm","method":"PUT","path":"*/onlineEndpoints/*","code":"ResourceQuotaExceeded"}`)
	p, err := c.ep.BeginCreateOrUpdate(t.Context(), testRG, faultWS, faultEP, ml.OnlineEndpoint{
		Location: to.Ptr("westeurope"), Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(ml.EndpointAuthModeKey)}}, nil)
	if err != nil {
		t.Fatalf("BeginCreateOrUpdate: %v, want the operation accepted", err)
	}
	_, err = p.PollUntilDone(t.Context(), nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.ErrorCode != "ResourceQuotaExceeded" {
		t.Fatalf("PollUntilDone = %v, want code ResourceQuotaExceeded", err)
	}
	if st, _, _ := s.call(t, "GET", faultEndpointURL(s)+"?api-version=2024-04-01", ""); st != http.StatusNotFound {
		t.Errorf("GET of the endpoint whose creation failed = %d, want 404", st)
	}
}

// TestFaultThrottle: 429 with Retry-After in each dialect's envelope, and
// the Go SDK's retry absorbing a fault of count 1.
func TestFaultThrottle(t *testing.T) {
	s := startServer(t, "")
	c := newSDK(t, s)
	c.mustWorkspace(t, faultWS)
	c.mustEndpoint(t, faultWS, faultEP, ml.EndpointAuthModeKey)

	s.addFault(t, `{"kind":"throttle","operation":"listKeys","retryAfterSeconds":7,"count":1}`)
	st, h, body := s.call(t, "POST", faultEndpointURL(s)+"/listKeys?api-version=2024-04-01", "")
	if st != http.StatusTooManyRequests || h.Get("Retry-After") != "7" || h.Get("x-ms-error-code") != "TooManyRequests" ||
		h.Get("x-ms-request-id") == "" || !strings.Contains(body, `"code":"TooManyRequests"`) {
		t.Errorf("ARM throttle = %d Retry-After %q x-ms-error-code %q %s", st, h.Get("Retry-After"), h.Get("x-ms-error-code"), body)
	}

	// The SDK retries a 429 (after Retry-After): count 1 is absorbed.
	s.addFault(t, `{"kind":"throttle","operation":"listKeys","count":1}`)
	c.keys(t, faultWS, faultEP)
	if got := s.metric(t, `rekey_faults_injected_total{kind="throttle",operation="listKeys"}`); got != "2" {
		t.Errorf("throttle count = %s, want 2", got)
	}

	// A reset connection is retried too.
	s.addFault(t, `{"kind":"reset","operation":"listKeys","count":1}`)
	c.keys(t, faultWS, faultEP)
	if got := s.metric(t, `rekey_faults_injected_total{kind="reset",operation="listKeys"}`); got != "1" {
		t.Errorf("reset count = %s, want 1", got)
	}

	// Without a count every retry is throttled, and the SDK gives up
	// with the 429.
	s.addFault(t, `{"kind":"throttle","operation":"listKeys","resource":"`+faultEP+`"}`)
	_, err := c.ep.ListKeys(t.Context(), testRG, faultWS, faultEP, nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusTooManyRequests || re.ErrorCode != "TooManyRequests" {
		t.Errorf("ListKeys under a lasting throttle = %v, want a 429 TooManyRequests ResponseError", err)
	}
	if got := s.metric(t, `rekey_faults_injected_total{kind="throttle",operation="listKeys"}`); got != "6" {
		t.Errorf("throttle count = %s, want 6 (2 before, then the SDK's first try and 3 retries)", got)
	}

	s.addFault(t, `{"kind":"throttle","operation":"refresh"}`)
	st, h, body = s.call(t, "PATCH", s.URL+"/qnamaker/v4.0/endpointkeys/PrimaryKey", "")
	if st != http.StatusTooManyRequests || h.Get("Retry-After") != "1" || h.Get("apim-request-id") == "" || !strings.Contains(body, `"code":"QuotaExceeded"`) {
		t.Errorf("QnA throttle = %d Retry-After %q %s", st, h.Get("Retry-After"), body)
	}
}

// TestFaultErrorAndProbability: 500/503 in ARM's envelope; probability 0
// never fires, 1 always does.
func TestFaultErrorAndProbability(t *testing.T) {
	s := startServer(t, "")
	c := newSDK(t, s)
	c.mustWorkspace(t, faultWS)
	c.mustEndpoint(t, faultWS, faultEP, ml.EndpointAuthModeAMLToken)
	tokenURL := faultEndpointURL(s) + "/token?api-version=2024-04-01"

	never := s.addFault(t, `{"kind":"error","operation":"token","probability":0}`)
	for range 5 {
		if st, _, body := s.call(t, "POST", tokenURL, ""); st != http.StatusOK {
			t.Fatalf("token with a probability-0 fault = %d %s, want 200", st, body)
		}
	}
	if st, _, _ := s.call(t, "DELETE", s.URL+"/rekey/v1/faults/"+never, ""); st != http.StatusNoContent {
		t.Errorf("DELETE fault = %d, want 204", st)
	}
	if st, _, body := s.call(t, "DELETE", s.URL+"/rekey/v1/faults/"+never, ""); st != http.StatusNotFound || !strings.Contains(body, `"code":"NotFound"`) {
		t.Errorf("DELETE deleted fault = %d %s, want 404", st, body)
	}

	s.addFault(t, `{"kind":"error","operation":"token","status":503,"probability":1}`)
	for range 3 {
		st, h, body := s.call(t, "POST", tokenURL, "")
		if st != http.StatusServiceUnavailable || h.Get("x-ms-error-code") != "ServiceUnavailable" || !strings.Contains(body, `{"error":{"code":"ServiceUnavailable","message":`) {
			t.Fatalf("token with a probability-1 503 fault = %d %s", st, body)
		}
	}
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir)
	if out, _, err := cli(t, env, "fault", "clear"); err != nil || out != "Removed 1 fault(s).\n" {
		t.Errorf("fault clear = %q, %v", out, err)
	}
	if st, _, _ := s.call(t, "POST", tokenURL, ""); st != http.StatusOK {
		t.Errorf("token after clear = %d, want 200", st)
	}
}

// TestFaultLatency: the request is served, after the added delay.
func TestFaultLatency(t *testing.T) {
	s := startServer(t, "")
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir)
	if _, _, err := cli(t, env, "fault", "add", "--kind", "latency", "--latency", "300ms", "--operation", "arm", "--method", "GET", "--path", "*/workspaces"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, body := armGet(t, s, s.Token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET workspaces = %d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("GET workspaces took %v, want at least the injected 300ms", d)
	}
}

// TestFaultReset: the connection is reset with no answer.
func TestFaultReset(t *testing.T) {
	s := startServer(t, "")
	s.addFault(t, `{"kind":"reset","operation":"arm","path":"/subscriptions/*"}`)
	req, _ := http.NewRequest("GET", s.URL+"/subscriptions/"+testSub+"/providers/Microsoft.MachineLearningServices/workspaces?api-version=2024-04-01", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := s.httpClient().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET with a reset fault = %d, want a connection error", resp.StatusCode)
	}
	if !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "EOF") {
		t.Errorf("error = %v, want a reset connection", err)
	}
	// The admin API is not affected.
	if st, _, _ := s.call(t, "GET", s.URL+"/rekey/v1/faults", ""); st != http.StatusOK {
		t.Errorf("GET faults = %d", st)
	}
}

// TestFaultGateway: a scoring request of the chosen endpoint gets the
// gateway's own {"message"} envelope; other endpoints are untouched.
func TestFaultGateway(t *testing.T) {
	s := startServer(t, "")
	s.addFault(t, `{"kind":"throttle","operation":"gateway","resource":"`+faultEP+`","retryAfterSeconds":2}`)
	resp, err := http.Post(s.Gateway+"/endpoints/"+faultEP+"/score", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" || resp.Header.Get("x-request-id") == "" ||
		!strings.HasPrefix(string(body), `{"message":"Too many requests`) {
		t.Errorf("gateway throttle = %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, err = http.Post(s.Gateway+"/endpoints/other/score", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		t.Errorf("another endpoint got the fault")
	}
	if got := s.metric(t, `rekey_faults_injected_total{kind="throttle",operation="gateway"}`); got != "1" {
		t.Errorf("gateway fault count = %s, want 1", got)
	}
}

// TestFaultAPI: admin only, and a bad fault is refused whole with every
// problem named.
func TestFaultAPI(t *testing.T) {
	s := startServer(t, "")
	req, _ := http.NewRequest("GET", s.URL+"/rekey/v1/faults", nil)
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET faults without a token = %d, want 401", resp.StatusCode)
	}
	st, _, body := s.call(t, "POST", s.URL+"/rekey/v1/faults", `{"kind":"boom","operation":"token","probability":2}`)
	if st != http.StatusBadRequest || !strings.Contains(body, "'kind' must be one of") || !strings.Contains(body, "'probability'") {
		t.Errorf("POST bad fault = %d %s", st, body)
	}
	st, _, body = s.call(t, "POST", s.URL+"/rekey/v1/faults", `{"kind":"reset","operation":"token","bogus":1}`)
	if st != http.StatusBadRequest || !strings.Contains(body, `unknown field \"bogus\"`) {
		t.Errorf("POST unknown field = %d %s", st, body)
	}
	if st, _, body := s.call(t, "GET", s.URL+"/rekey/v1/faults", ""); st != http.StatusOK || body != "{\"value\":[]}\n" {
		t.Errorf("GET faults = %d %s, want an empty list", st, body)
	}
}

// TestFaultFailedSynchronous: on a request that starts no long-running
// operation, a failed fault is an immediate error in the dialect's
// envelope, with the chosen status and code.
func TestFaultFailedSynchronous(t *testing.T) {
	s := startServer(t, "")
	s.addFault(t, `{"kind":"failed","operation":"regenerateKey","status":409,"code":"ScopeLocked","message":"Locked."}`)
	acc := s.URL + "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.CognitiveServices/accounts/acc"
	st, h, body := s.call(t, "POST", acc+"/regenerateKey?api-version=2023-05-01", `{"keyName":"Key1"}`)
	if st != http.StatusConflict || h.Get("x-ms-error-code") != "ScopeLocked" || !strings.Contains(body, `{"error":{"code":"ScopeLocked","message":"Locked."}}`) {
		t.Errorf("account regenerateKey with a failed fault = %d %q %s", st, h.Get("x-ms-error-code"), body)
	}
	s.addFault(t, `{"kind":"failed","operation":"refresh","status":503}`)
	st, h, body = s.call(t, "PATCH", s.URL+"//qnamaker/v5.0-preview.2/endpointkeys/SecondaryKey", "")
	if st != http.StatusServiceUnavailable || h.Get("apim-request-id") == "" || !strings.Contains(body, `"code":"ServiceError"`) {
		t.Errorf("QnA refresh with a failed fault = %d %s", st, body)
	}
}
