package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"

	"github.com/rekey-dev/rekey"
)

// auditJSON is GET /rekey/v1/audit's answer.
type auditJSON struct {
	Value []struct {
		Time          string `json:"time"`
		PrincipalID   string `json:"principalId"`
		AppID         string `json:"appId"`
		PrincipalName string `json:"principalName"`
		Action        string `json:"action"`
		ResourceID    string `json:"resourceId"`
		KeySlot       string `json:"keySlot"`
		Status        int    `json:"status"`
		ErrorCode     string `json:"errorCode"`
		RequestID     string `json:"requestId"`
		CorrelationID string `json:"correlationId"`
		ClientAddress string `json:"clientAddress"`
		UserAgent     string `json:"userAgent"`
	} `json:"value"`
	NextLink *string `json:"nextLink"`
}

// adminGet GETs an admin API URL with the admin token.
func adminGet(t *testing.T, s *testServer, target string) (int, []byte) {
	t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = s.URL + target
	}
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestAuditWhoRotated drives a real server over TLS with the official Go
// SDK, as the admin and as a service principal named ci-rotator, then asks
// the audit log, through the admin API and the CLI, who rotated the
// primary key of an endpoint and when; failed requests carry their status
// and error code; and no key, token or secret appears in the audit table
// (the raw SQLite file), the JSON-lines log, the API or the CLI output.
func TestAuditWhoRotated(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "audit.jsonl")
	s := startIdentityServer(t, "--audit-log", logFile)
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir, "REKEY_SUBSCRIPTION", testSub, "REKEY_RESOURCE_GROUP", testRG)
	out, _, err := cli(t, env, "sp", "create", "--name", "ci-rotator", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var creds struct{ AppID, Password string }
	if err := json.Unmarshal([]byte(out), &creds); err != nil || creds.Password == "" {
		t.Fatalf("sp create: %v", err)
	}
	if _, _, err := cli(t, env, "role", "assignment", "create", "--assignee", creds.AppID, "--role", "AzureML Data Scientist", "--scope", "/subscriptions/"+testSub); err != nil {
		t.Fatalf("role assignment create: %v", err)
	}
	cred, err := azidentity.NewClientSecretCredential(testTenant, creds.AppID, creds.Password, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.URL + "/"}, Transport: loopbackOnly{s.httpClient()}},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	// One more of the principal's tokens to search for; the ones its
	// requests carry are noted by bearerTokens below.
	spToken, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}})
	if err != nil {
		t.Fatal(err)
	}
	admin := newSDK(t, s)
	admin.mustWorkspace(t, "ws1")
	admin.mustEndpoint(t, "ws1", "ep1", ml.EndpointAuthModeKey)
	admin.mustEndpoint(t, "ws1", "ep2", ml.EndpointAuthModeKey)
	secrets := []string{s.Token, creds.Password, spToken.Token}
	p0, s0 := admin.keys(t, "ws1", "ep1")
	secrets = append(secrets, p0, s0)

	// The principal's clients note the bearer tokens they send, to search
	// for them below.
	sent := &bearerTokens{next: s.httpClient()}
	spOptions := s.armOptions()
	spOptions.Transport = sent
	epClient, err := ml.NewOnlineEndpointsClient(testSub, cred, spOptions)
	if err != nil {
		t.Fatal(err)
	}
	sp := sdkClients{ep: epClient}
	start := time.Now().UTC().Add(-time.Second)
	sp.regenerate(t, "ws1", "ep1", ml.KeyTypePrimary, nil)
	chosen := "chosen-key-value-0123456789abcdef"
	sp.regenerate(t, "ws1", "ep2", ml.KeyTypeSecondary, to.Ptr(chosen)) // another endpoint: not an answer
	p1, s1 := sp.keys(t, "ws1", "ep1")                                  // a key read by the principal
	secrets = append(secrets, p1, s1, chosen)
	if p1 == p0 {
		t.Fatal("the primary key did not change")
	}
	_, err = sp.ep.BeginRegenerateKeys(t.Context(), testRG, "ws1", "missing", ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(ml.KeyTypePrimary)}, nil)
	if re := responseError(t, err); re.StatusCode != 404 {
		t.Fatalf("regenerateKeys of a missing endpoint = %d, want 404", re.StatusCode)
	}

	// A refused request is recorded with ARM's code (the role cannot
	// delete workspaces).
	wsClient, err := ml.NewWorkspacesClient(testSub, cred, spOptions)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wsClient.BeginDelete(t.Context(), testRG, "ws1", nil)
	if re := responseError(t, err); re.StatusCode != 403 {
		t.Fatalf("workspace delete as AzureML Data Scientist = %d, want 403", re.StatusCode)
	}

	epID := "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.MachineLearningServices/workspaces/ws1/onlineEndpoints/ep1"
	q := url.Values{"resource": {epID}, "action": {string(rekey.ActionEndpointRegenerate)}, "$top": {"1"}}
	st, body := adminGet(t, s, "/rekey/v1/audit?"+q.Encode())
	apiOutput := string(body)
	var page auditJSON
	if st != 200 || json.Unmarshal(body, &page) != nil || len(page.Value) != 1 {
		t.Fatalf("GET audit = %d %s", st, body)
	}
	who := page.Value[0]
	when, err := time.Parse(time.RFC3339Nano, who.Time)
	if err != nil || when.Before(start) || when.After(time.Now().Add(time.Second)) {
		t.Errorf("the rotation's time %q (%v) is not the time it happened (after %s)", who.Time, err, start)
	}
	if who.AppID != creds.AppID || who.PrincipalName != "ci-rotator" || who.PrincipalID == "" || who.KeySlot != "primary" ||
		who.Status != 202 || who.ErrorCode != "" || who.RequestID == "" || who.ClientAddress != "127.0.0.1" || !strings.Contains(who.UserAgent, "azsdk-go") {
		t.Errorf("who rotated the primary key of ep1: %+v; want ci-rotator (%s), slot primary, 202", who, creds.AppID)
	}

	// Failed requests are recorded with their status and code.
	st, body = adminGet(t, s, "/rekey/v1/audit?principal=ci-rotator&resource="+url.QueryEscape(strings.Replace(epID, "ep1", "missing", 1)))
	apiOutput += string(body)
	page = auditJSON{}
	if st != 200 || json.Unmarshal(body, &page) != nil || len(page.Value) != 1 || page.Value[0].Status != 404 || page.Value[0].ErrorCode != "ResourceNotFound" {
		t.Errorf("the failed regenerateKeys in the audit log: %d %s; want one record, 404 ResourceNotFound", st, body)
	}

	st, body = adminGet(t, s, "/rekey/v1/audit?principal="+creds.AppID+"&action="+url.QueryEscape(string(rekey.ActionWorkspaceDelete)))
	apiOutput += string(body)
	page = auditJSON{}
	if st != 200 || json.Unmarshal(body, &page) != nil || len(page.Value) != 1 || page.Value[0].Status != 403 || page.Value[0].ErrorCode != "AuthorizationFailed" {
		t.Errorf("the refused workspace delete in the audit log: %d %s; want one record, 403 AuthorizationFailed", st, body)
	}

	// The CLI answers the same question, and keys usage says who rotated.
	out, _, err = cli(t, env, "audit", "list", "--workspace", "ws1", "--endpoint", "ep1", "--action", "*/regenerateKeys/action")
	if err != nil || !strings.Contains(out, "ci-rotator") || !strings.Contains(out, "primary") || !strings.Contains(out, "202") {
		t.Errorf("rekey audit list = %v:\n%s\nwant ci-rotator's primary rotation", err, out)
	}
	cliOutput := out
	out, _, err = cli(t, env, "audit", "list", "--since", "1h", "--output", "json", "--top", "500")
	cliOutput += out
	var all auditJSON
	if err != nil || json.Unmarshal([]byte(out), &all) != nil || len(all.Value) < 8 {
		t.Errorf("rekey audit list --output json = %v, %d records; want every write, read and failure", err, len(all.Value))
	}
	out, _, err = cli(t, env, "keys", "usage", "--workspace", "ws1", "--endpoint", "ep1")
	if err != nil || !strings.Contains(out, "just now by ci-rotator") {
		t.Errorf("rekey keys usage = %v:\n%s\nwant the primary slot rotated just now by ci-rotator", err, out)
	}
	st, body = adminGet(t, s, "/rekey/v1/keys/usage?resource="+url.QueryEscape(epID))
	var usage struct {
		Keys []struct {
			Slot          string     `json:"slot"`
			LastRotated   *time.Time `json:"lastRotated"`
			LastRotatedBy string     `json:"lastRotatedBy"`
		}
	}
	if st != 200 || json.Unmarshal(body, &usage) != nil || len(usage.Keys) != 2 ||
		usage.Keys[0].LastRotated == nil || usage.Keys[0].LastRotatedBy != "ci-rotator" || usage.Keys[1].LastRotated != nil {
		t.Errorf("keys usage = %d %s; want primary rotated by ci-rotator, secondary never", st, body)
	}

	st, body = adminGet(t, s, "/rekey/v1/audit?action=Microsoft.Authorization/roleAssignments/write")
	page = auditJSON{}
	if st != 200 || json.Unmarshal(body, &page) != nil || len(page.Value) != 1 || page.Value[0].Status != 201 || page.Value[0].PrincipalID != "admin" {
		t.Errorf("the role assignment in the audit log: %d %s; want one record, 201, by the admin", st, body)
	}
	// A reset removes the resources, not their history, and is recorded.
	if _, _, err := cli(t, env, "reset", "--yes"); err != nil {
		t.Fatalf("rekey reset: %v", err)
	}
	st, body = adminGet(t, s, "/rekey/v1/audit?$top=2")
	page = auditJSON{}
	if st != 200 || json.Unmarshal(body, &page) != nil || len(page.Value) != 2 || page.Value[0].Action != "rekey/reset/action" ||
		page.Value[0].Status != 204 || page.Value[0].PrincipalID != "admin" || page.Value[1].Action == "" {
		t.Errorf("the audit log after a reset = %d %s; want the reset (204, admin) and the records before it", st, body)
	}
	if strings.Contains(s.Logs.String(), "audit: a change was recorded with another status") {
		t.Error("a change's record names another status than its answer:\n" + s.Logs.String())
	}

	// Nothing secret anywhere the audit log is kept or shown.
	s.stop()
	places := map[string]string{"the API output": apiOutput, "the CLI output": cliOutput}
	logData, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(logData), `"principalName":"ci-rotator"`) {
		t.Fatalf("the JSON-lines log: %v; want ci-rotator's records", err)
	}
	places["the JSON-lines log"] = string(logData)
	for _, name := range []string{"rekey.db", "rekey.db-wal"} {
		b, err := os.ReadFile(filepath.Join(s.DataDir, name))
		if err == nil {
			places[name] = string(b)
		}
	}
	if !strings.Contains(places["rekey.db"]+places["rekey.db-wal"], "ci-rotator") {
		t.Fatal("the SQLite files do not hold the audit records; the search below would prove nothing")
	}
	secrets = append(secrets, sent.all()...)
	if len(sent.all()) == 0 {
		t.Fatal("the principal's clients sent no bearer token")
	}
	for place, data := range places {
		for i, v := range secrets {
			if strings.Contains(data, v) {
				t.Errorf("%s holds secret #%d (a key, token or client secret)", place, i)
			}
		}
	}
}

// bearerTokens is an SDK transport that notes every bearer token sent.
type bearerTokens struct {
	next *http.Client
	mu   sync.Mutex
	seen map[string]bool
}

func (b *bearerTokens) Do(r *http.Request) (*http.Response, error) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		b.mu.Lock()
		if b.seen == nil {
			b.seen = map[string]bool{}
		}
		b.seen[tok] = true
		b.mu.Unlock()
	}
	return b.next.Do(r)
}

func (b *bearerTokens) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for t := range b.seen {
		out = append(out, t)
	}
	return out
}
