package cli

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	cs "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/cognitiveservices/armcognitiveservices/v2"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"
)

// TestKeysNeverAtRestOrInLogs: after creating, regenerating and listing
// keys, including rejected requests that carry key material, no key value
// appears in any file of the data directory (database, WAL, anything) nor
// in the server's log output.
func TestKeysNeverAtRestOrInLogs(t *testing.T) {
	s := startServer(t, "")
	c := newSDK(t, s)
	c.mustWorkspace(t, "ws1")
	initial := "initial-primary-key-7f3a9c1e55"
	p, err := c.ep.BeginCreateOrUpdate(t.Context(), testRG, "ws1", "secret", ml.OnlineEndpoint{
		Location: to.Ptr("westeurope"),
		Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(ml.EndpointAuthModeKey),
			Keys: &ml.EndpointAuthKeys{PrimaryKey: to.Ptr(initial)}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.keys(t, "ws1", "secret"); got != initial {
		t.Fatalf("primary key = given value: %v, want true", got == initial)
	}
	chosen := "chosen-secondary-key-b81d44e0aa"
	c.regenerate(t, "ws1", "secret", ml.KeyTypeSecondary, to.Ptr(chosen))
	c.regenerate(t, "ws1", "secret", ml.KeyTypePrimary, nil)
	primary, secondary := c.keys(t, "ws1", "secret")
	// A rejected request that carries a would-be key.
	rejected := "rejected key value with spaces 9d2f"
	c.ep.BeginRegenerateKeys(t.Context(), testRG, "ws1", "secret", ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(ml.KeyTypePrimary), KeyValue: to.Ptr(rejected)}, nil)
	// A QnAMaker account: subscription keys and QnA endpoint keys.
	accounts, err := cs.NewAccountsClient(testSub, staticToken(s.Token), s.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	ap, err := accounts.BeginCreate(t.Context(), testRG, "secret-qna", cs.Account{Location: to.Ptr("westus"), Kind: to.Ptr("QnAMaker"),
		SKU: &cs.SKU{Name: to.Ptr("S0")}, Properties: &cs.AccountProperties{APIProperties: &cs.APIProperties{
			QnaRuntimeEndpoint: to.Ptr("http://127.0.0.1:9"), QnaAzureSearchEndpointKey: to.Ptr("search-key-that-must-not-be-stored")}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ap.PollUntilDone(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	ak, err := accounts.ListKeys(t.Context(), testRG, "secret-qna", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, body := qnaCall(t, s, "PATCH", s.URL+"/qnamaker/v4.0/endpointkeys/PrimaryKey", *ak.Key1, nil, "")
	var dto struct{ PrimaryEndpointKey, SecondaryEndpointKey string }
	if err := json.Unmarshal(body, &dto); err != nil || dto.PrimaryEndpointKey == "" {
		t.Fatalf("refresh endpoint key: %s", body)
	}
	s.stop() // checkpoint and close, so every byte is on disk

	secrets := map[string]string{"initial primary": initial, "chosen secondary": chosen, "current primary": primary, "current secondary": secondary, "rejected value": rejected,
		"account key1": *ak.Key1, "account key2": *ak.Key2, "QnA primary endpoint key": dto.PrimaryEndpointKey, "QnA secondary endpoint key": dto.SecondaryEndpointKey,
		"search key in apiProperties": "search-key-that-must-not-be-stored"}
	filepath.WalkDir(s.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range secrets {
			if bytes.Contains(data, []byte(v)) {
				t.Errorf("the %s key appears in %s", name, filepath.Base(path))
			}
		}
		return nil
	})
	logs := s.Logs.String()
	if !strings.Contains(logs, "regenerateKeys") {
		t.Fatalf("server logs lack the access log; the check below would prove nothing")
	}
	secrets["admin token"] = s.Token
	for name, v := range secrets {
		if strings.Contains(logs, v) {
			t.Errorf("the %s appears in the server log", name)
		}
	}
}
