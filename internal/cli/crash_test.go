package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// process is "rekey serve" running as a real child process, so it can be
// killed without a graceful stop.
type process struct {
	cmd *exec.Cmd
	url string
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rekey")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/rekey-dev/rekey/cmd/rekey").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startProcess(t *testing.T, bin, dataDir, listen string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--data", dataDir, "--listen", listen, "--gateway-listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "management API on "); ok {
			go io.Copy(io.Discard, stdout)
			return &process{cmd: cmd, url: after}
		}
	}
	cmd.Wait()
	t.Fatalf("rekey serve did not start: %s", stderr.String())
	return nil
}

// TestCrashKeepsAcknowledgedRegenerations kills the server with SIGKILL
// while clients regenerate keys, restarts it on the same data, and checks
// that every acknowledged regeneration is visible and every acknowledged
// operation reaches a terminal state.
func TestCrashKeepsAcknowledgedRegenerations(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real process; skipped with -short")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	p := startProcess(t, bin, dataDir, "127.0.0.1:0", "--operation-delay", "40ms")
	addr := strings.TrimPrefix(p.url, "https://")
	s := &testServer{URL: p.url, DataDir: dataDir}
	token, _ := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	s.Token = strings.TrimSpace(string(token))
	pem, _ := os.ReadFile(filepath.Join(dataDir, "ca.pem"))
	s.CAPool = x509Pool(pem)
	waitReady(t, s)
	hc := s.httpClient()
	call := func(method, path, body string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		return resp, data, err
	}
	const rg = "/subscriptions/" + testSub + "/resourceGroups/crash/providers/Microsoft.MachineLearningServices/workspaces/ws-crash"
	const av = "?api-version=2024-04-01"
	if resp, body, err := call("PUT", rg+av, `{"location":"eastus"}`); err != nil || resp.StatusCode != 200 {
		t.Fatalf("create workspace: %v %s", err, body)
	}
	const workers = 4
	for w := range workers {
		if resp, body, err := call("PUT", fmt.Sprintf("%s/onlineEndpoints/crash-%d%s", rg, w, av), `{"location":"eastus","properties":{"authMode":"Key"}}`); err != nil || resp.StatusCode != 201 {
			t.Fatalf("create endpoint: %v %s", err, body)
		}
	}

	type acked struct {
		value, statusURL string
	}
	var (
		mu       sync.Mutex
		acks     = make([][]acked, workers)
		inFlight = make([]string, workers)
		wg       sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				v := fmt.Sprintf("crash-test-key-%d-%06d", w, i)
				mu.Lock()
				inFlight[w] = v
				mu.Unlock()
				resp, _, err := call("POST", fmt.Sprintf("%s/onlineEndpoints/crash-%d/regenerateKeys%s", rg, w, av), `{"keyType":"Primary","keyValue":"`+v+`"}`)
				if err != nil {
					return // the server died
				}
				if resp.StatusCode != http.StatusAccepted {
					t.Errorf("regenerate = %d, want 202", resp.StatusCode)
					return
				}
				mu.Lock()
				acks[w] = append(acks[w], acked{v, resp.Header.Get("Azure-AsyncOperation")})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(400 * time.Millisecond)
	if err := p.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown code runs
		t.Fatal(err)
	}
	p.cmd.Wait()
	wg.Wait()

	total := 0
	for _, a := range acks {
		total += len(a)
	}
	if total < workers {
		t.Fatalf("only %d regenerations were acknowledged before the kill; the test proves nothing", total)
	}
	startProcess(t, bin, dataDir, addr, "--operation-delay", "40ms") // same address: the acknowledged polling URLs name it
	waitReady(t, s)
	for w := range workers {
		if len(acks[w]) == 0 {
			continue
		}
		_, body, err := call("POST", fmt.Sprintf("%s/onlineEndpoints/crash-%d/listKeys%s", rg, w, av), "")
		if err != nil {
			t.Fatal(err)
		}
		var keys struct{ PrimaryKey string }
		json.Unmarshal(body, &keys)
		last := acks[w][len(acks[w])-1].value
		if keys.PrimaryKey != last && keys.PrimaryKey != inFlight[w] {
			t.Errorf("endpoint %d: primary key after restart is neither the last acknowledged value nor the one in flight", w)
		}
		for _, a := range acks[w] {
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, body, err := call("GET", strings.TrimPrefix(a.statusURL, s.URL), "")
				if err != nil {
					t.Fatal(err)
				}
				var st struct{ Status string }
				json.Unmarshal(body, &st)
				if st.Status == "Succeeded" {
					break
				}
				if st.Status != "Updating" || time.Now().After(deadline) {
					t.Fatalf("acknowledged operation ended %q (body %s), want Succeeded", st.Status, body)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	t.Logf("%d acknowledged regenerations survived SIGKILL", total)
}
