// Package replicas runs several real "rekey serve" processes on one
// PostgreSQL database, for the fault tests (kill -9, terminated backends,
// concurrent rotations) and for bench/replicas, the revocation latency
// benchmark. It drives them over the wire, as clients and load balancers
// do: the ARM API of one replica, the gateways of all.
package replicas

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options configure a Cluster.
type Options struct {
	Bin      string // the rekey binary
	Database string // a postgres:// URL that every replica shares
	Dir      string // a directory for the replicas' data directories and logs
	N        int    // how many replicas
	// Args are extra "rekey serve" flags for every replica, e.g.
	// --sync-interval 1m (only notifications then propagate quickly).
	Args []string
	// Ports, when not empty, are the management and gateway ports of each
	// replica (2×N); otherwise each listens on a free port.
	Ports []int
}

// Cluster is N replicas sharing a database, a master key and an admin
// token, as a deployment behind a load balancer does.
type Cluster struct {
	opts      Options
	Token     string
	masterKey string
	Replicas  []*Replica
}

// Replica is one "rekey serve" process.
type Replica struct {
	Name string
	// Database is the URL this replica connects to (Options.Database
	// unless changed before Start: a proxy in front of the database).
	Database      string
	ManagementURL string
	GatewayURL    string
	dir           string
	args          []string
	cmd           *exec.Cmd
	done          chan struct{}
	c             *Cluster
}

// Start starts every replica and waits until each answers /readyz.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	c, err := Prepare(o)
	if err != nil {
		return nil, err
	}
	// One at a time: the first migrates; the others then start at once.
	for _, r := range c.Replicas {
		if err := r.Start(ctx); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// Prepare makes the cluster's replicas without starting them.
func Prepare(o Options) (*Cluster, error) {
	key := make([]byte, 32)
	rand.Read(key)
	tok := make([]byte, 24)
	rand.Read(tok)
	c := &Cluster{opts: o, Token: base64.RawURLEncoding.EncodeToString(tok), masterKey: base64.StdEncoding.EncodeToString(key)}
	for i := range o.N {
		r := &Replica{Name: string(rune('A' + i)), Database: o.Database, dir: filepath.Join(o.Dir, "replica-"+string(rune('a'+i))), c: c}
		mgmt, gw := "127.0.0.1:0", "127.0.0.1:0"
		if len(o.Ports) >= 2*(i+1) {
			mgmt, gw = "127.0.0.1:"+strconv.Itoa(o.Ports[2*i]), "127.0.0.1:"+strconv.Itoa(o.Ports[2*i+1])
		}
		r.args = append([]string{"serve", "--data", r.dir, "--insecure-http",
			"--listen", mgmt, "--gateway-listen", gw, "--auth-fail-limit", "0", "--gateway-access-log=false"}, o.Args...)
		c.Replicas = append(c.Replicas, r)
	}
	return c, nil
}

// Token is the admin token every replica shares.
func (r *Replica) Token() string { return r.c.Token }

// Start (re)starts a replica that is not running and waits for it to be
// ready.
func (r *Replica) Start(ctx context.Context) error {
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return err
	}
	os.Remove(filepath.Join(r.dir, "server.json"))
	logf, err := os.OpenFile(filepath.Join(r.dir, "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.c.opts.Bin, append([]string{r.args[0], "--database", r.Database}, r.args[1:]...)...)
	cmd.Env = append(os.Environ(), "REKEY_MASTER_KEY="+r.c.masterKey, "REKEY_ADMIN_TOKEN="+r.c.Token)
	cmd.Stdout, cmd.Stderr = io.Discard, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	r.cmd, r.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(r.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := r.readServerFile(); err == nil {
			if st, _ := get(ctx, r.GatewayURL+"/readyz"); st == http.StatusOK {
				if st, _ := get(ctx, r.ManagementURL+"/readyz"); st == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case <-r.done:
			return fmt.Errorf("replica %s exited at start; see %s", r.Name, filepath.Join(r.dir, "stderr.log"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %s not ready after 30s; see %s", r.Name, filepath.Join(r.dir, "stderr.log"))
		}
	}
}

func (r *Replica) readServerFile() error {
	data, err := os.ReadFile(filepath.Join(r.dir, "server.json"))
	if err != nil {
		return err
	}
	var info struct {
		ManagementURL string `json:"managementUrl"`
		GatewayURL    string `json:"gatewayUrl"`
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return err
	}
	if info.ManagementURL == "" || info.GatewayURL == "" {
		return errors.New("server.json is incomplete")
	}
	r.ManagementURL, r.GatewayURL = info.ManagementURL, info.GatewayURL
	return nil
}

// Kill kills the replica with SIGKILL (kill -9) and waits for it to exit.
func (r *Replica) Kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	r.cmd = nil
}

// Stop stops the replica with SIGTERM, SIGKILL after 10s.
func (r *Replica) Stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Signal(syscall.SIGKILL)
		<-r.done
	}
	r.cmd = nil
}

// Log returns the replica's stderr so far.
func (r *Replica) Log() string {
	data, _ := os.ReadFile(filepath.Join(r.dir, "stderr.log"))
	return string(data)
}

// Stop stops every replica.
func (c *Cluster) Stop() {
	for _, r := range c.Replicas {
		r.Stop()
	}
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func get(ctx context.Context, url string) (int, []byte) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// Sub and the resource group every test resource lives in.
const (
	Sub        = "00000000-0000-0000-0000-0000000000aa"
	apiVersion = "2024-04-01"
)

func wsPath(ws string) string {
	return "/subscriptions/" + Sub + "/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/" + ws
}

// EndpointID is the ARM id of endpoint ep in workspace ws.
func EndpointID(ws, ep string) string { return wsPath(ws) + "/onlineEndpoints/" + ep }

// ARM sends a management request to the replica with the admin token and
// returns the status, the Azure-AsyncOperation header and the body.
func (r *Replica) ARM(ctx context.Context, method, path string, body any) (status int, asyncOp string, data []byte, err error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		u = r.ManagementURL + path + sep + "api-version=" + apiVersion
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Azure-AsyncOperation"), data, err
}

// Endpoint creates workspace ws (if needed) and a key-auth endpoint ep
// through the replica, and waits for its creation to succeed.
func (r *Replica) Endpoint(ctx context.Context, ws, ep string) error {
	if st, _, data, err := r.ARM(ctx, "PUT", wsPath(ws), map[string]any{"location": "westeurope"}); err != nil || st >= 300 {
		return fmt.Errorf("PUT workspace: %d %s %v", st, data, err)
	}
	st, op, data, err := r.ARM(ctx, "PUT", wsPath(ws)+"/onlineEndpoints/"+ep, map[string]any{"location": "westeurope", "properties": map[string]any{"authMode": "Key"}})
	if err != nil || st >= 300 {
		return fmt.Errorf("PUT endpoint: %d %s %v", st, data, err)
	}
	_, err = r.WaitOperation(ctx, op)
	return err
}

// Keys returns the endpoint's primary and secondary keys.
func (r *Replica) Keys(ctx context.Context, ws, ep string) (primary, secondary string, err error) {
	st, _, data, err := r.ARM(ctx, "POST", wsPath(ws)+"/onlineEndpoints/"+ep+"/listKeys", nil)
	if err != nil || st != http.StatusOK {
		return "", "", fmt.Errorf("listKeys: %d %v", st, err) // the body holds keys: not in errors
	}
	var k struct{ PrimaryKey, SecondaryKey string }
	err = json.Unmarshal(data, &k)
	return k.PrimaryKey, k.SecondaryKey, err
}

// SetKey regenerates the endpoint's primary key to value (keyValue) and
// returns the status (202 acknowledges it) and the operation's status URL.
func (r *Replica) SetKey(ctx context.Context, ws, ep, value string) (int, string, error) {
	st, op, _, err := r.ARM(ctx, "POST", wsPath(ws)+"/onlineEndpoints/"+ep+"/regenerateKeys", map[string]any{"keyType": "Primary", "keyValue": value})
	return st, op, err
}

// WaitOperation polls an operation's status URL on this replica (its
// path; the host is the replica's own) until it is terminal, and returns
// its status.
func (r *Replica) WaitOperation(ctx context.Context, statusURL string) (string, error) {
	i := strings.Index(statusURL, "/subscriptions/")
	if i < 0 {
		return "", fmt.Errorf("status URL %q has no ARM path", statusURL)
	}
	u := r.ManagementURL + statusURL[i:]
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		st, _, data, err := r.ARM(ctx, "GET", u, nil)
		if err == nil && st == http.StatusOK {
			var s struct{ Status string }
			json.Unmarshal(data, &s)
			if s.Status != "" && s.Status != "InProgress" && s.Status != "Updating" && s.Status != "Running" {
				return s.Status, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("operation still InProgress after 60s")
}

// Accepts reports whether the replica's gateway takes key for endpoint
// ep: any answer but 401 (with no deployment, an accepted key gets 404
// from the routing that follows the key check).
func (r *Replica) Accepts(ctx context.Context, ep, key string) (bool, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", r.GatewayURL+"/endpoints/"+ep+"/score", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return false, nil
	case resp.StatusCode == http.StatusNotFound && bytes.Contains(body, []byte("No online endpoint named")):
		return false, fmt.Errorf("replica %s's gateway does not know endpoint %s", r.Name, ep)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return false, fmt.Errorf("replica %s's gateway answered %d", r.Name, resp.StatusCode)
	}
	return true, nil
}
