package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	cs "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/cognitiveservices/armcognitiveservices/v2"
)

// qnaCall sends a QnA authoring request the way the published clients do:
// URL built as {endpoint}/qnamaker/{version}/..., Accept: application/json,
// and the subscription key header.
func qnaCall(t *testing.T, s *testServer, method, url, key string, body io.Reader, contentType string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Ocp-Apim-Subscription-Key", key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// TestSDKQnAMakerAccount: the official armcognitiveservices/v2 client
// creates a QnAMaker account on a real server over TLS, lists and
// regenerates its keys; the QnA authoring API, reached through the
// account's endpoint as a client would, follows every rotation.
func TestSDKQnAMakerAccount(t *testing.T) {
	s := startServer(t, "")
	ctx := t.Context()
	accounts, err := cs.NewAccountsClient(testSub, staticToken(s.Token), s.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	poller, err := accounts.BeginCreate(ctx, testRG, "my-qna", cs.Account{
		Location: to.Ptr("westus"), Kind: to.Ptr("QnAMaker"), SKU: &cs.SKU{Name: to.Ptr("S0")},
		Properties: &cs.AccountProperties{APIProperties: &cs.APIProperties{QnaRuntimeEndpoint: to.Ptr("https://my-qna.azurewebsites.net")}},
	}, nil)
	if err != nil {
		t.Fatalf("BeginCreate: %v", err)
	}
	created, err := poller.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("PollUntilDone: %v", err)
	}
	endpoint := *created.Properties.Endpoint
	if *created.Properties.ProvisioningState != cs.ProvisioningStateSucceeded || !strings.HasSuffix(endpoint, "/") ||
		*created.Properties.APIProperties.QnaRuntimeEndpoint != "https://my-qna.azurewebsites.net" || *created.Kind != "QnAMaker" {
		t.Errorf("created = state %v, endpoint %q, runtime %v, kind %v", *created.Properties.ProvisioningState, endpoint,
			*created.Properties.APIProperties.QnaRuntimeEndpoint, *created.Kind)
	}
	if _, err := accounts.Get(ctx, testRG, "MY-QNA", nil); err != nil {
		t.Errorf("Get (other case): %v", err)
	}
	pager := accounts.NewListByResourceGroupPager(testRG, nil)
	page, err := pager.NextPage(ctx)
	if err != nil || len(page.Value) != 1 || *page.Value[0].Name != "my-qna" {
		t.Errorf("ListByResourceGroup = %v, %v; want my-qna", page.Value, err)
	}
	subPage, err := accounts.NewListPager(nil).NextPage(ctx)
	if err != nil || len(subPage.Value) != 1 {
		t.Errorf("List (subscription) = %v, %v; want one account", subPage.Value, err)
	}

	keys, err := accounts.ListKeys(ctx, testRG, "my-qna", nil)
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	key1, key2 := *keys.Key1, *keys.Key2

	qna := func(version string) string { return endpoint + "qnamaker/" + version } // "…//qnamaker/…", as clients build it
	var dto struct{ PrimaryEndpointKey, SecondaryEndpointKey string }
	for _, v := range []string{"v4.0", "v5.0-preview.1", "v5.0-preview.2"} {
		st, body := qnaCall(t, s, "GET", qna(v)+"/endpointkeys", key1, nil, "")
		if st != 200 || json.Unmarshal(body, &dto) != nil || dto.PrimaryEndpointKey == "" {
			t.Fatalf("GET %s/endpointkeys = %d %s", v, st, body)
		}
	}
	// Refresh as the Python client does (no body, no Content-Type) and as
	// the v4.0 example does (octet-stream).
	before := dto
	st, body := qnaCall(t, s, "PATCH", qna("v5.0-preview.1")+"/endpointkeys/PrimaryKey", key1, nil, "")
	json.Unmarshal(body, &dto)
	if st != 200 || dto.PrimaryEndpointKey == before.PrimaryEndpointKey || dto.SecondaryEndpointKey != before.SecondaryEndpointKey {
		t.Errorf("refresh PrimaryKey = %d; primary changed %v, secondary kept %v", st, dto.PrimaryEndpointKey != before.PrimaryEndpointKey, dto.SecondaryEndpointKey == before.SecondaryEndpointKey)
	}
	before = dto
	st, body = qnaCall(t, s, "PATCH", qna("v4.0")+"/endpointkeys/SecondaryKey", key2, strings.NewReader(""), "application/octet-stream")
	json.Unmarshal(body, &dto)
	if st != 200 || dto.SecondaryEndpointKey == before.SecondaryEndpointKey || dto.PrimaryEndpointKey != before.PrimaryEndpointKey {
		t.Errorf("refresh SecondaryKey with key2 = %d; secondary changed %v, primary kept %v", st, dto.SecondaryEndpointKey != before.SecondaryEndpointKey, dto.PrimaryEndpointKey == before.PrimaryEndpointKey)
	}

	// Regenerating Key1 cuts off the old key1 on the very next call; key2 keeps working.
	regen, err := accounts.RegenerateKey(ctx, testRG, "my-qna", cs.RegenerateKeyParameters{KeyName: to.Ptr(cs.KeyNameKey1)}, nil)
	if err != nil {
		t.Fatalf("RegenerateKey: %v", err)
	}
	if *regen.Key1 == key1 || *regen.Key2 != key2 {
		t.Errorf("RegenerateKey(Key1): key1 changed %v, key2 kept %v", *regen.Key1 != key1, *regen.Key2 == key2)
	}
	if st, body := qnaCall(t, s, "GET", qna("v5.0-preview.2")+"/endpointkeys", key1, nil, ""); st != 401 || !strings.Contains(string(body), `"code":"Unauthorized"`) {
		t.Errorf("old key1 after regeneration = %d %s, want 401 Unauthorized", st, body)
	}
	if st, _ := qnaCall(t, s, "GET", qna("v5.0-preview.2")+"/endpointkeys", key2, nil, ""); st != 200 {
		t.Errorf("key2 after regenerating Key1 = %d, want 200", st)
	}
	if st, _ := qnaCall(t, s, "GET", qna("v5.0-preview.2")+"/endpointkeys", *regen.Key1, nil, ""); st != 200 {
		t.Errorf("new key1 = %d, want 200", st)
	}

	dp, err := accounts.BeginDelete(ctx, testRG, "my-qna", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := qnaCall(t, s, "GET", qna("v4.0")+"/endpointkeys", key2, nil, ""); st != 401 {
		t.Errorf("key2 of a deleted account = %d, want 401", st)
	}
}
