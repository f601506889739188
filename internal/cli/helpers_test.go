package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// testServer is a rekey serve started through run(), as a user would.
type testServer struct {
	URL     string // https://127.0.0.1:PORT
	Gateway string // http://127.0.0.1:PORT, the data plane
	DataDir string
	Token   string
	CAPool  *x509.CertPool
	Logs    *syncBuffer // everything the server wrote to stderr
	stop    func()
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env builds a getenv from pairs, isolating tests from the machine's
// environment.
func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// startServer runs "rekey serve" on a free port with a fresh data
// directory (or dataDir, when given) and waits until it is ready.
func startServer(t testing.TB, dataDir string, extraArgs ...string) *testServer {
	t.Helper()
	return startServerEnv(t, envOf(), dataDir, extraArgs...)
}

// startServerEnv is startServer with an environment.
func startServerEnv(t testing.TB, getenv func(string) string, dataDir string, extraArgs ...string) *testServer {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--data", dataDir}, extraArgs...)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- run(ctx, args, getenv, nil, pw, logs)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var url, gw string
	for lines.Scan() {
		if _, after, ok := strings.Cut(lines.Text(), "data-plane gateway on "); ok {
			gw = after
		}
		if _, after, ok := strings.Cut(lines.Text(), "management API on "); ok {
			url = after
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		cancel()
		t.Fatalf("serve did not start: %v", <-done)
	}
	s := &testServer{URL: url, Gateway: gw, DataDir: dataDir, Logs: logs}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve returned %v after shutdown, want nil", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("serve did not shut down within 20s")
			}
		})
	}
	t.Cleanup(s.stop)
	if s.Token = getenv("REKEY_ADMIN_TOKEN"); s.Token == "" {
		token, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
		if err != nil {
			t.Fatal(err)
		}
		s.Token = strings.TrimSpace(string(token))
	}
	if caFile := filepath.Join(dataDir, "ca.pem"); strings.HasPrefix(url, "https://") && getenv("TEST_CA") != "" {
		caFile = getenv("TEST_CA")
		pem, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		s.CAPool = x509Pool(pem)
	} else if strings.HasPrefix(url, "https://") {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		s.CAPool = x509.NewCertPool()
		s.CAPool.AppendCertsFromPEM(pem)
	}
	waitReady(t, s)
	return s
}

func (s *testServer) httpClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CAPool}}}
}

func waitReady(t testing.TB, s *testServer) {
	t.Helper()
	c := s.httpClient()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := c.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s/readyz never answered 200", s.URL)
}

// staticToken is an azcore.TokenCredential that hands out the admin token.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// armOptions points an official Azure SDK client at the test server over
// its real TLS, trusting the generated CA (CONTRACT.md §3.1).
func (s *testServer) armOptions() *arm.ClientOptions {
	return &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Audience: "https://management.core.windows.net/", Endpoint: s.URL},
			}},
			Transport: s.httpClient(),
		},
		DisableRPRegistration: true,
	}
}

func x509Pool(pem []byte) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(pem)
	return p
}
