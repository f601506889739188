package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
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
	s.stop() // checkpoint and close, so every byte is on disk

	secrets := map[string]string{"initial primary": initial, "chosen secondary": chosen, "current primary": primary, "current secondary": secondary, "rejected value": rejected}
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
