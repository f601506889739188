// Command sdk rotates an online endpoint's key with the official Azure SDK
// for Go, pointed at a local rekey server. Start the server first
// (go run ./cmd/rekey serve), then: go run ./examples/sdk
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"
)

// adminToken hands rekey's admin token to the SDK's bearer-token policy.
type adminToken string

func (t adminToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(t), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func main() {
	dataDir := os.Getenv("REKEY_DATA") // the server's data directory
	if dataDir == "" {
		dataDir = "./rekey-data"
	}
	token, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		log.Fatal(err)
	}
	// The running server writes its URL and CA to server.json in its data
	// directory, so this program finds it on any --listen.
	server, caFile := os.Getenv("REKEY_SERVER"), filepath.Join(dataDir, "ca.pem")
	if data, err := os.ReadFile(filepath.Join(dataDir, "server.json")); err == nil {
		var info struct{ ManagementURL, CAFile string }
		if err := json.Unmarshal(data, &info); err != nil {
			log.Fatal(err)
		}
		if server == "" {
			server = info.ManagementURL
		}
		if _, err := os.Stat(info.CAFile); err == nil && info.CAFile != "" {
			caFile = info.CAFile
		}
	}
	if server == "" {
		server = "https://127.0.0.1:7443"
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)

	opts := &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: server, Audience: "https://management.core.windows.net/"},
			}},
			Transport: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}},
		},
		DisableRPRegistration: true,
	}
	const sub, rg = "00000000-0000-0000-0000-000000000000", "rekey"
	cred := adminToken(strings.TrimSpace(string(token)))
	ctx := context.Background()

	workspaces, _ := ml.NewWorkspacesClient(sub, cred, opts)
	wp, err := workspaces.BeginCreateOrUpdate(ctx, rg, "ws1", ml.Workspace{Location: to.Ptr("eastus")}, nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := wp.PollUntilDone(ctx, nil); err != nil {
		log.Fatal(err)
	}

	endpoints, _ := ml.NewOnlineEndpointsClient(sub, cred, opts)
	ep, err := endpoints.BeginCreateOrUpdate(ctx, rg, "ws1", "my-endpoint", ml.OnlineEndpoint{
		Location:   to.Ptr("eastus"),
		Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(ml.EndpointAuthModeKey)},
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := ep.PollUntilDone(ctx, nil); err != nil {
		log.Fatal(err)
	}

	before, err := endpoints.ListKeys(ctx, rg, "ws1", "my-endpoint", nil)
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	poller, err := endpoints.BeginRegenerateKeys(ctx, rg, "ws1", "my-endpoint",
		ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(ml.KeyTypePrimary)}, nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := poller.PollUntilDone(ctx, nil); err != nil {
		log.Fatal(err)
	}
	after, err := endpoints.ListKeys(ctx, rg, "ws1", "my-endpoint", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("regenerated the primary key in %v: primary changed %v, secondary unchanged %v\n",
		time.Since(start).Round(time.Millisecond), *after.PrimaryKey != *before.PrimaryKey, *after.SecondaryKey == *before.SecondaryKey)
}
