package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clientFlags are the connection flags every client command shares.
type clientFlags struct {
	server, dataDir, token, ca string
	subscription, group        string
	apiVersion, output         string
}

// Default api-versions the CLI sends: those of the Go SDKs it mirrors.
const (
	mlAPIVersion = "2024-04-01"
	csAPIVersion = "2025-06-01"
)

func bindClient(fs *flag.FlagSet, getenv func(string) string, apiVersion string) *clientFlags {
	e := env(getenv)
	f := &clientFlags{}
	fs.StringVar(&f.server, "server", e.str("REKEY_SERVER", "https://127.0.0.1:7443"), "server `URL` (REKEY_SERVER)")
	fs.StringVar(&f.dataDir, "data", e.str("REKEY_DATA", "./rekey-data"), "the server's data `directory`, for the default token and CA (REKEY_DATA)")
	fs.StringVar(&f.token, "token", e.str("REKEY_TOKEN", ""), "admin `token`; default: the file admin-token in --data (REKEY_TOKEN)")
	fs.StringVar(&f.ca, "ca", e.str("REKEY_CA", ""), "CA certificate `file` to trust; default: ca.pem in --data when it exists (REKEY_CA)")
	fs.StringVar(&f.subscription, "subscription", e.str("REKEY_SUBSCRIPTION", "00000000-0000-0000-0000-000000000000"), "subscription `id` (REKEY_SUBSCRIPTION)")
	fs.StringVar(&f.group, "resource-group", e.str("REKEY_RESOURCE_GROUP", "rekey"), "resource group `name` (REKEY_RESOURCE_GROUP)")
	fs.StringVar(&f.apiVersion, "api-version", apiVersion, "ARM api-version to send")
	fs.StringVar(&f.output, "output", "table", "output `format`: table or json")
	return f
}

// client talks ARM to a rekey server, as an SDK would.
type client struct {
	base, token, apiVersion string
	sub, group              string
	hc                      *http.Client
}

func (f *clientFlags) client() (*client, error) {
	if f.output != "table" && f.output != "json" {
		return nil, fmt.Errorf("%w: --output %q: want table or json", errUsage, f.output)
	}
	// A missing token is reported when a management call needs it; the
	// QnA commands authenticate with a subscription key instead.
	token := f.token
	if token == "" {
		if data, err := os.ReadFile(filepath.Join(f.dataDir, adminTokenFile)); err == nil {
			token = strings.TrimSpace(string(data))
		}
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	caFile := f.ca
	if caFile == "" {
		if _, err := os.Stat(filepath.Join(f.dataDir, "ca.pem")); err == nil {
			caFile = filepath.Join(f.dataDir, "ca.pem")
		}
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it", caFile)
		}
		tlsConf.RootCAs = pool
	}
	return &client{
		base: strings.TrimSuffix(f.server, "/"), token: token, apiVersion: f.apiVersion,
		sub: f.subscription, group: f.group,
		hc: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf, Proxy: http.ProxyFromEnvironment}},
	}, nil
}

// path builds an ARM path below the resource group's ML provider.
func (c *client) path(parts ...string) string {
	return c.providerPath("Microsoft.MachineLearningServices", parts...)
}

// providerPath builds an ARM path below the resource group's namespace.
func (c *client) providerPath(namespace string, parts ...string) string {
	p := "/subscriptions/" + url.PathEscape(c.sub) + "/resourceGroups/" + url.PathEscape(c.group) + "/providers/" + namespace
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// apiError is an ARM error answer.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.Status)
}

// do sends one request; a 4xx or 5xx answer becomes an *apiError.
func (c *client) do(ctx context.Context, method, target string, body any) (*http.Response, []byte, error) {
	if !strings.HasPrefix(target, "http") {
		target = c.base + target + "?api-version=" + url.QueryEscape(c.apiVersion)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, nil, err
	}
	if c.token == "" {
		return nil, nil, fmt.Errorf("no admin token: set REKEY_TOKEN or --token, or point --data at the server's data directory")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req)
}

// send performs a request and turns an error answer (ARM's or QnA Maker's
// envelope, which share {"error":{"code","message"}}) into an *apiError.
func (c *client) send(req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode >= 400 {
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.Unmarshal(data, &env)
		if env.Error.Code == "" {
			env.Error.Code, env.Error.Message = http.StatusText(resp.StatusCode), strings.TrimSpace(string(data))
		}
		return resp, data, &apiError{Status: resp.StatusCode, Code: env.Error.Code, Message: env.Error.Message}
	}
	return resp, data, nil
}

// wait polls a long-running operation's Azure-AsyncOperation URL until it
// ends, drawing dots on progress (a terminal) meanwhile.
func (c *client) wait(ctx context.Context, resp *http.Response, progress io.Writer) error {
	status := resp.Header.Get("Azure-AsyncOperation")
	if status == "" {
		return nil
	}
	delay := retryDelay(resp.Header)
	defer func() {
		if progress != nil {
			fmt.Fprintln(progress)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		r, data, err := c.do(ctx, http.MethodGet, status, nil)
		if err != nil {
			return err
		}
		var st struct {
			Status string
			Error  struct{ Code, Message string }
		}
		if err := json.Unmarshal(data, &st); err != nil {
			return fmt.Errorf("operation status: %w", err)
		}
		switch st.Status {
		case "Succeeded":
			return nil
		case "Failed", "Canceled":
			return &apiError{Status: http.StatusOK, Code: st.Error.Code, Message: st.Error.Message}
		}
		if progress != nil {
			fmt.Fprint(progress, ".")
		}
		delay = retryDelay(r.Header)
	}
}

// retryDelay reads the server's polling hint, preferring milliseconds.
func retryDelay(h http.Header) time.Duration {
	if ms, err := strconv.Atoi(h.Get("Retry-After-Ms")); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return time.Second
}

// progressWriter returns w when it is a terminal, so dots never end up in
// a pipe or a file.
func progressWriter(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return w
		}
	}
	return nil
}

// remove deletes an ARM resource, waits for the operation when there is
// one, and says what happened ("Deleted endpoint x." or "... did not exist.").
func (c *client) remove(ctx context.Context, path, kind, name string, stdout, stderr io.Writer) error {
	resp, _, err := c.do(ctx, http.MethodDelete, path, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusNoContent {
		fmt.Fprintf(stdout, "%s %s did not exist.\n", strings.ToUpper(kind[:1])+kind[1:], name)
		return nil
	}
	if err := c.wait(ctx, resp, progressWriter(stderr)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Deleted %s %s.\n", kind, name)
	return nil
}
