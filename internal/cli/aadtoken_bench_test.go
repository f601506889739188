package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkGatewayAuth measures a scoring request through a real server's
// gateway to a local upstream, with a key and with an AADToken token (for
// https://ml.azure.com, already verified once, as a client reusing its
// token): the difference is what AADToken verification adds per request.
//
//	go test ./cmd/rekey -run '^$' -bench GatewayAuth -benchtime 3000x
func BenchmarkGatewayAuth(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok":true}`) }))
	defer up.Close()
	s := startServerEnv(b, envOf("REKEY_SP_CLIENT_ID", testSPID, "REKEY_SP_CLIENT_SECRET", testSPSecret), "", "--tenant-id", testTenant,
		"--gateway-access-log=false")
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir)
	mustCLI := func(args ...string) string {
		var out, stderr strings.Builder
		if err := run(b.Context(), args, env, nil, &out, &stderr); err != nil {
			b.Fatalf("rekey %s: %v %s", strings.Join(args[:2], " "), err, stderr.String())
		}
		return out.String()
	}
	mustCLI("workspace", "create", "--name", "ws1")
	mustCLI("role", "assignment", "create", "--assignee", testSPID, "--role", "AzureML Data Scientist", "--scope", "/subscriptions/00000000-0000-0000-0000-000000000000")
	for _, ep := range []struct{ name, mode string }{{"keyed", "Key"}, {"aad", "AADToken"}} {
		mustCLI("endpoint", "create", "--workspace", "ws1", "--name", ep.name, "--auth-mode", ep.mode)
		mustCLI("deployment", "create", "--workspace", "ws1", "--endpoint", ep.name, "--name", "blue", "--upstream", up.URL)
		mustCLI("endpoint", "traffic", "--workspace", "ws1", "--name", ep.name, "--set", "blue=100")
	}
	var keys struct{ PrimaryKey string }
	json.Unmarshal([]byte(mustCLI("keys", "list", "--workspace", "ws1", "--endpoint", "keyed", "--output", "json")), &keys)
	resp, err := s.httpClient().PostForm(s.URL+"/adfs/oauth2/token", map[string][]string{"grant_type": {"client_credentials"},
		"client_id": {testSPID}, "client_secret": {testSPSecret}, "resource": {"https://ml.azure.com"}})
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if keys.PrimaryKey == "" || tok.AccessToken == "" {
		b.Fatal("no key or no token")
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for _, bc := range []struct{ name, endpoint, credential string }{
		{"key", "keyed", keys.PrimaryKey},
		{"aadtoken", "aad", tok.AccessToken},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				req, _ := http.NewRequest("POST", s.Gateway+"/endpoints/"+bc.endpoint+"/score", strings.NewReader("{}"))
				req.Header.Set("Authorization", "Bearer "+bc.credential)
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
