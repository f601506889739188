// Package rekeytest runs a real rekey server inside a Go test, as
// net/http/httptest does for HTTP servers: the same code as "rekey serve
// --in-memory", on free loopback ports, with its own CA and admin token,
// stopped when the test ends.
//
//	func TestRotation(t *testing.T) {
//		srv := rekeytest.Start(t)
//		endpoints, _ := armmachinelearning.NewOnlineEndpointsClient(sub, srv.Credential(), srv.ARMClientOptions())
//		// ... create a workspace and an endpoint, rotate a key, and send
//		// requests to srv.GatewayURL()+"/endpoints/{name}/score".
//		srv.Reset() // an empty server for the next case; credentials stay
//	}
//
// Each Start is a separate server with its own in-memory store, so tests
// may run in parallel. The server reads no environment variables: pass
// flags with WithArgs and variables with WithEnv.
package rekeytest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/internal/cli"
)

// Server is a running rekey server. Its methods may be called from any
// goroutine.
type Server struct {
	tb         testing.TB
	url        string // management API, https://127.0.0.1:PORT
	gatewayURL string // data plane, http://127.0.0.1:PORT
	dataDir    string
	token      string // the admin token
	pool       *x509.CertPool
	client     *http.Client
	logs       *logBuffer
}

// An Option configures Start.
type Option func(*options)

type options struct {
	args []string
	env  map[string]string
}

// WithArgs adds "rekey serve" flags, for example
// WithArgs("--propagation-delay", "30s"). They come after rekeytest's
// own, so they win.
func WithArgs(args ...string) Option {
	return func(o *options) { o.args = append(o.args, args...) }
}

// WithOperationDelay makes every long-running operation take d, so that
// pollers see it running (rekey serve --operation-delay).
func WithOperationDelay(d time.Duration) Option {
	return WithArgs("--operation-delay", d.String())
}

// WithEnv sets an environment variable as the server sees it, for
// settings that have no flag (REKEY_SP_CLIENT_ID, REKEY_MASTER_KEY, ...).
func WithEnv(name, value string) Option {
	return func(o *options) { o.env[name] = value }
}

// startTimeout bounds how long Start waits for the listeners; the first
// test of a cold build may spend a while starting.
const startTimeout = time.Minute

// Start runs a rekey server in memory on free loopback ports and returns
// when it is ready. It is stopped, and its temporary directory removed,
// when the test and its subtests are done (tb.Cleanup). Start fails the
// test with the server's log when the server does not start.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	o := &options{env: map[string]string{}}
	for _, opt := range opts {
		opt(o)
	}
	s := &Server{tb: tb, dataDir: tb.TempDir(), logs: &logBuffer{}}
	s.token = o.env["REKEY_ADMIN_TOKEN"]
	if s.token == "" {
		s.token = rekey.NewKey()
		o.env["REKEY_ADMIN_TOKEN"] = s.token
	}
	// rekey serve tunes the garbage collector unless GOGC or GOMEMLIMIT
	// are set; in a test it would tune the test's whole process, so say
	// they are set, to Go's defaults unless the process has its own.
	for name, def := range map[string]string{"GOGC": "100", "GOMEMLIMIT": "off"} {
		if _, ok := o.env[name]; !ok {
			o.env[name] = orDefault(os.Getenv(name), def)
		}
	}
	args := append([]string{"serve", "--in-memory", "--data", s.dataDir,
		"--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0"}, o.args...)

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- cli.Run(ctx, args, func(name string) string { return o.env[name] }, nil, pw, s.logs)
		pw.Close()
	}()
	urls := make(chan [2]string, 1)
	go readBanner(pr, urls)

	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("rekeytest: the server stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			tb.Errorf("rekeytest: the server did not stop within 30s")
		}
	}
	tb.Cleanup(func() {
		stop()
		if tb.Failed() {
			tb.Logf("rekeytest: server log:\n%s", s.logs.String())
		}
	})

	deadline := time.After(startTimeout)
	for s.url == "" {
		select {
		case u := <-urls:
			s.url, s.gatewayURL = u[0], u[1]
		case err := <-done:
			stopped = true
			tb.Fatalf("rekeytest: the server did not start: %v\n%s", err, s.logs.String())
		case <-deadline:
			tb.Fatalf("rekeytest: the server did not start within %v\n%s", startTimeout, s.logs.String())
		case <-time.After(20 * time.Millisecond):
			if m, g := readServerFile(s.dataDir); m != "" && g != "" {
				s.url, s.gatewayURL = m, g
			}
		}
	}
	pem, err := os.ReadFile(filepath.Join(s.dataDir, "ca.pem"))
	if err != nil {
		tb.Fatalf("rekeytest: the server's CA: %v", err)
	}
	s.pool = x509.NewCertPool()
	s.pool.AppendCertsFromPEM(pem)
	s.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}}}
	tb.Cleanup(s.client.CloseIdleConnections) // runs before stop: Cleanup is last in, first out
	s.waitReady()
	return s
}

func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// urlIn finds a URL in a banner line.
var urlIn = regexp.MustCompile(`https?://\S+`)

// readBanner reads the server's standard output for the two listeners'
// URLs, sends them once both are known, and drains the rest.
func readBanner(r io.Reader, urls chan<- [2]string) {
	var mgmt, gw string
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		line := strings.ToLower(lines.Text())
		u := urlIn.FindString(lines.Text())
		switch {
		case u == "":
		case strings.Contains(line, "management api") && mgmt == "":
			mgmt = u
		case strings.Contains(line, "gateway") && gw == "":
			gw = u
		}
		if mgmt != "" && gw != "" {
			urls <- [2]string{mgmt, gw}
			break
		}
	}
	io.Copy(io.Discard, r)
}

// readServerFile reads the listeners' URLs from the data directory's
// server.json, which a server that writes one does once they are bound.
func readServerFile(dir string) (mgmt, gw string) {
	data, err := os.ReadFile(filepath.Join(dir, "server.json"))
	if err != nil {
		return "", ""
	}
	var info struct{ ManagementURL, GatewayURL string }
	if json.Unmarshal(data, &info) != nil {
		return "", ""
	}
	return info.ManagementURL, info.GatewayURL
}

func (s *Server) waitReady() {
	s.tb.Helper()
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := s.client.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	s.tb.Fatalf("rekeytest: %s/readyz never answered 200\n%s", s.url, s.logs.String())
}

// URL is the management API's base URL (HTTPS), where ARM, the QnA Maker
// API, the token service and rekey's admin API (/rekey/v1/) answer.
func (s *Server) URL() string { return s.url }

// GatewayURL is the data-plane gateway's base URL (HTTP unless WithArgs
// asks for --gateway-tls): an online endpoint's requests go to
// GatewayURL()+"/endpoints/{name}/...".
func (s *Server) GatewayURL() string { return s.gatewayURL }

// DataDir is the server's data directory: ca.pem and admin-token, for the
// rekey CLI (--data) and for clients in other languages. It holds no state.
func (s *Server) DataDir() string { return s.dataDir }

// Token is the admin token, for requests made by hand.
func (s *Server) Token() string { return s.token }

// HTTPClient returns a client that trusts the server's CA.
func (s *Server) HTTPClient() *http.Client { return s.client }

// Credential returns a credential that hands the Azure SDK the admin
// token, which the management API takes for any audience and scope. To
// test the Entra token flow instead, create a service principal with
// WithEnv("REKEY_SP_CLIENT_ID", id) and WithEnv("REKEY_SP_CLIENT_SECRET",
// secret), grant it a role with AssignRole, and give azidentity.NewClientSecretCredential("adfs", id,
// secret, ...) the ClientOptions of ARMClientOptions(): they name URL() as
// the authority host and trust the CA.
func (s *Server) Credential() azcore.TokenCredential { return adminToken(s.token) }

// ARMClientOptions returns options for any armXXX client: Azure Resource
// Manager at URL(), the server's CA trusted, and no resource-provider
// registration (rekey has no providers to register). Each call returns a
// new value that the caller may change.
func (s *Server) ARMClientOptions() *arm.ClientOptions {
	return &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Cloud: cloud.Configuration{
				ActiveDirectoryAuthorityHost: s.url + "/",
				Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
					cloud.ResourceManager: {Endpoint: s.url, Audience: "https://management.core.windows.net/"},
				},
			},
			Transport: s.client,
		},
		DisableRPRegistration: true,
	}
}

// Reset removes every resource, key, operation and usage count, as
// "rekey reset" does; the CA, the admin token, the tenant, signing keys
// and service principals stay, so clients made before keep working. The
// gateway refuses every old key when Reset returns. A failure marks the
// test failed (Errorf), so Reset may be called from any goroutine.
func (s *Server) Reset() {
	resp, err := s.admin(http.MethodPost, "reset", nil)
	if err != nil {
		s.tb.Errorf("rekeytest: reset: %v", err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		body, _ := io.ReadAll(resp.Body)
		s.tb.Errorf("rekeytest: reset = %s: %s", resp.Status, body)
	}
}

// AssignRole gives the service principal with appID the role (a built-in
// or custom role's name, such as "Contributor") at scope ("/", a
// subscription, a resource group or a resource id), as "rekey role
// assignment create" does: a new service principal may do nothing until
// it holds a role. A failure ends the test (Fatalf).
func (s *Server) AssignRole(appID, role, scope string) {
	s.tb.Helper()
	fail := func(format string, args ...any) { s.tb.Fatalf("rekeytest: AssignRole: "+format, args...) }
	resp, err := s.admin(http.MethodGet, "servicePrincipals/"+url.PathEscape(appID), nil)
	if err != nil {
		fail("%v", err)
	}
	var sp struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&sp)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || sp.ID == "" {
		fail("no service principal with appId %s (%s)", appID, resp.Status)
	}
	call := func(method, path, query string, body any) []byte {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, s.url+path+"?api-version=2022-04-01"+query, rd)
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.client.Do(req)
		if err != nil {
			fail("%v", err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			fail("%s %s: %s: %s", method, path, resp.Status, data)
		}
		return data
	}
	prefix := strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/"
	var defs struct{ Value []struct{ Name string } }
	json.Unmarshal(call(http.MethodGet, prefix+"roleDefinitions", "&$filter="+url.QueryEscape("roleName eq '"+strings.ReplaceAll(role, "'", "''")+"'"), nil), &defs)
	if len(defs.Value) == 0 {
		fail("no role named %q is assignable at %s", role, scope)
	}
	call(http.MethodPut, prefix+"roleAssignments/"+newGUID(), "", map[string]any{"properties": map[string]string{
		"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + defs.Value[0].Name,
		"principalId":      sp.ID, "principalType": "ServicePrincipal"}})
}

// newGUID returns a random version-4 GUID.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// admin sends a request to rekey's admin API (/rekey/v1/path) with the
// admin token.
func (s *Server) admin(method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+"/rekey/v1/"+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return s.client.Do(req)
}

// Logs returns what the server has logged so far (its standard error;
// never a key). Start prints it when the test fails.
func (s *Server) Logs() string { return s.logs.String() }

// adminToken is an azcore.TokenCredential that returns the admin token.
type adminToken string

func (t adminToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(t), ExpiresOn: time.Now().Add(24 * time.Hour)}, nil
}

// logBuffer keeps the last maxLogs bytes of the server's log.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const maxLogs = 1 << 20

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - maxLogs; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
