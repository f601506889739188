package cli

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// seedFor writes the example seed file (YAML or JSON) with its upstreams
// and QnA runtime pointed at the given loopback servers.
func seedFor(t *testing.T, example, model, qnaRuntime string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", example))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(data), "http://127.0.0.1:8000", model)
	s = strings.ReplaceAll(s, "http://127.0.0.1:9000", qnaRuntime)
	path := filepath.Join(t.TempDir(), example)
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The keys and secret the example file chooses.
const (
	seedPrimary     = "ci-primary-key-0123456789"
	seedEndpointKey = "ci-endpoint-key-primary-0001"
	seedAppID       = "6f1d2c3b-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
	seedSecret      = "ci-client-secret-not-for-production"
)

// gatewayStatus sends one request through the gateway with an
// Authorization header, and returns its status.
func seedGatewayStatus(t *testing.T, target, auth string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(`{"question":"hi"}`))
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeSeedAtStart: `rekey serve --seed` (here through REKEY_SEED)
// applies the file before serving; the keys it chose open the gateway at
// once for the endpoint and the QnA runtime, the service principal signs
// in with its chosen secret, and a wrong key is still refused.
func TestServeSeedAtStart(t *testing.T) {
	var modelHits, qnaHits atomic.Int64
	model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		modelHits.Add(1)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer model.Close()
	qna := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		qnaHits.Add(1)
		io.WriteString(w, `{"answers":[]}`)
	}))
	defer qna.Close()
	file := seedFor(t, "seed.yaml", model.URL, qna.URL)
	s := startServerEnv(t, envOf("REKEY_SEED", file), "")

	// The endpoint's creation operation finishes in the runner; the
	// gateway answers as soon as it has, with the chosen primary key.
	deadline := time.Now().Add(10 * time.Second)
	for seedGatewayStatus(t, s.Gateway+"/endpoints/llm/score", "Bearer "+seedPrimary) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the seeded endpoint never answered 200 with its chosen primary key")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if modelHits.Load() == 0 {
		t.Error("the upstream declared in the seed file was not reached")
	}
	if st := seedGatewayStatus(t, s.Gateway+"/endpoints/llm/score", "Bearer "+strings.Repeat("x", 25)); st != http.StatusUnauthorized {
		t.Errorf("a key the file did not choose = %d, want 401", st)
	}
	if st := seedGatewayStatus(t, s.Gateway+"/qnamaker/knowledgebases/kb-1/generateAnswer", "EndpointKey "+seedEndpointKey); st != http.StatusOK || qnaHits.Load() == 0 {
		t.Errorf("generateAnswer with the chosen endpoint key = %d (runtime reached %d times), want 200", st, qnaHits.Load())
	}
	resp, err := s.httpClient().PostForm(s.URL+"/organizations/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {seedAppID}, "client_secret": {seedSecret},
		"scope": {"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("token for the seeded service principal = %d, want 200", resp.StatusCode)
	}

	// A restart on the same data directory applies the file again, which
	// changes nothing: the chosen key still works, no error stops the start.
	s.stop()
	s = startServerEnv(t, envOf("REKEY_SEED", file), s.DataDir)
	for deadline := time.Now().Add(10 * time.Second); seedGatewayStatus(t, s.Gateway+"/endpoints/llm/score", "Bearer "+seedPrimary) != http.StatusOK; {
		if time.Now().After(deadline) {
			t.Fatal("after a restart with the same seed, the chosen primary key no longer answers 200")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeRefusesBrokenSeed: a seed file with errors stops the start
// with every error and its line, before the data directory is created.
func TestServeRefusesBrokenSeed(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("endpoints:\n  - name: e1\n    workspace: ws1\n    authMode: Token\n  - name: e2\n"), 0o600)
	data := filepath.Join(t.TempDir(), "data")
	_, _, err := cli(t, envOf(), "serve", "--data", data, "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--seed", bad)
	if err == nil {
		t.Fatal("serve started with a broken seed file")
	}
	for _, want := range []string{"bad.yaml:4: endpoints[0].authMode: want Key, AMLToken or AADToken", "bad.yaml:5: endpoints[1].workspace: required", "nothing was applied"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("the data directory exists after a refused seed file (%v)", err)
	}
}

// TestApplyCommand: `rekey apply` creates what the file declares, a second
// run (and the JSON twin of the file) reports everything unchanged, no key
// is printed, and a broken file lists every error by line and applies
// nothing.
func TestApplyCommand(t *testing.T) {
	s := startServer(t, "")
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir)
	yamlFile := seedFor(t, "seed.yaml", "http://127.0.0.1:8000", "http://127.0.0.1:9000")
	jsonFile := seedFor(t, "seed.json", "http://127.0.0.1:8000", "http://127.0.0.1:9000")
	applyOut := func(file string) string {
		t.Helper()
		out, stderr, err := cli(t, env, "apply", file)
		if err != nil {
			t.Fatalf("rekey apply %s: %v\n%s", filepath.Base(file), err, stderr)
		}
		for _, secret := range []string{seedPrimary, "ci-primary-key-rotated-42", seedEndpointKey, seedSecret, "ci-subscription-key-1-abcdef"} {
			if strings.Contains(out+stderr, secret) {
				t.Fatal("rekey apply printed a key")
			}
		}
		return out
	}
	if out, _, err := cli(t, env, "apply", "-h"); err != nil || !strings.Contains(out, "Usage: rekey apply") || !strings.Contains(out, "examples/seed.yaml") {
		t.Errorf("apply -h = %v, stdout %q; want the help on stdout", err, out)
	}
	if _, _, err := cli(t, env, "apply"); !errors.Is(err, errUsage) {
		t.Errorf("apply without a file = %v, want a usage error", err)
	}
	out := applyOut(yamlFile)
	for _, want := range []string{"seed.yaml: 7 created, 0 updated, 0 unchanged", "created  endpoint", "rekey keys list --workspace ws1 --endpoint llm", "generated secondary; read them with: rekey keys list --workspace ws1 --endpoint llm", "generated endpointKeys.secondary; read them with: rekey qna keys show"} {
		if !strings.Contains(out, want) {
			t.Errorf("first apply output lacks %q:\n%s", want, out)
		}
	}
	if out := applyOut(yamlFile); !strings.Contains(out, "seed.yaml: 0 created, 0 updated, 7 unchanged") || strings.Contains(out, "generated") {
		t.Errorf("second apply:\n%s", out)
	}
	if out := applyOut(jsonFile); !strings.Contains(out, "seed.json: 0 created, 0 updated, 7 unchanged") {
		t.Errorf("the JSON twin after the YAML file:\n%s", out)
	}

	// A changed chosen key is not applied to an endpoint that exists: the
	// key in force stays, and the output says so (a seed never brings a
	// rotated-out key back).
	score := s.Gateway + "/endpoints/llm/score"
	for deadline := time.Now().Add(10 * time.Second); seedGatewayStatus(t, score, "Bearer "+seedPrimary) == http.StatusUnauthorized; {
		if time.Now().After(deadline) {
			t.Fatal("the chosen primary key never passed the gateway")
		}
		time.Sleep(20 * time.Millisecond)
	}
	const newPrimary = "ci-primary-key-rotated-42"
	data, _ := os.ReadFile(yamlFile)
	os.WriteFile(yamlFile, []byte(strings.Replace(string(data), seedPrimary, newPrimary, 1)), 0o600)
	if out := applyOut(yamlFile); !strings.Contains(out, "seed.yaml: 0 created, 0 updated, 7 unchanged") || !strings.Contains(out, "kept the keys.primary in force") {
		t.Errorf("apply with a changed key:\n%s", out)
	}
	if st := seedGatewayStatus(t, score, "Bearer "+newPrimary); st != http.StatusUnauthorized {
		t.Errorf("a chosen key changed in the file for an existing endpoint = %d, want 401 (not applied)", st)
	}
	if st := seedGatewayStatus(t, score, "Bearer "+seedPrimary); st == http.StatusUnauthorized {
		t.Error("the key in force was replaced by re-applying the seed")
	}
	if st := seedGatewayStatus(t, score, "Bearer "+strings.Repeat("y", 25)); st != http.StatusUnauthorized {
		t.Errorf("an unknown key = %d, want 401", st)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte(`workspaces:
  - name: ws2
    location: eastus
endpoints:
  - name: e2
    workspace: ws2
    authMode: Tokens
  - name: e3
    workspace: ws2
    keys: {primary: ok-length-key-0123, secondary: ok-length-key-0123}
`), 0o600)
	_, stderr, err := cli(t, env, "apply", bad)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml has 2 problems; nothing was applied") {
		t.Errorf("apply of a broken file = %v", err)
	}
	for _, want := range []string{"bad.yaml:7: endpoints[0].authMode: want Key, AMLToken or AADToken", "bad.yaml:10: endpoints[1].keys: primary and secondary must differ"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if out, _, err := cli(t, env, "workspace", "list"); err != nil || strings.Contains(out, "ws2") {
		t.Errorf("workspace list after a refused file = %v\n%s", err, out)
	}
	// An error only the store sees (an endpoint name another workspace
	// holds) is refused the same way, whole.
	clash := filepath.Join(t.TempDir(), "clash.yaml")
	os.WriteFile(clash, []byte("workspaces:\n  - {name: ws3, location: eastus}\nendpoints:\n  - {name: llm, workspace: ws3}\n"), 0o600)
	if _, stderr, err := cli(t, env, "apply", clash); err == nil || !strings.Contains(stderr, "clash.yaml:4: endpoints[0]: ") {
		t.Errorf("apply of a clashing endpoint = %v\n%s", err, stderr)
	}
	if out, _, _ := cli(t, env, "workspace", "list"); strings.Contains(out, "ws3") {
		t.Errorf("workspace ws3 exists after a refused file:\n%s", out)
	}
	if _, _, err := cli(t, envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir, "REKEY_TOKEN", "wrong-token-wrong-token"), "apply", yamlFile); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("apply with a wrong token = %v, want 401", err)
	}
}
