package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// showUsage prints the admin API's key usage for an ARM resource id.
func showUsage(ctx context.Context, c *client, f *clientFlags, stdout io.Writer, resource string) error {
	_, data, err := c.do(ctx, http.MethodGet, c.base+"/rekey/v1/keys/usage?resource="+url.QueryEscape(resource), nil)
	if err != nil {
		return err
	}
	if f.output == "json" {
		return printJSON(stdout, data)
	}
	var u struct {
		Keys []struct {
			Slot          string     `json:"slot"`
			Requests      int64      `json:"requests"`
			GraceRequests int64      `json:"graceRequests"`
			LastUsed      *time.Time `json:"lastUsed"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &u); err != nil {
		return err
	}
	var rows [][]string
	for _, k := range u.Keys {
		last := "never"
		if k.LastUsed != nil {
			last = k.LastUsed.Format(time.RFC3339)
		}
		rows = append(rows, []string{k.Slot, strconv.FormatInt(k.Requests, 10), strconv.FormatInt(k.GraceRequests, 10), last})
	}
	return printTable(stdout, []string{"SLOT", "REQUESTS", "IN GRACE", "LAST USED"}, rows)
}

func runDeployment(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var ws, ep, name, upstream string
	idFlags := func(fs *flag.FlagSet) {
		fs.StringVar(&ws, "workspace", "", "workspace `name`")
		fs.StringVar(&ep, "endpoint", "", "endpoint `name`")
		fs.StringVar(&name, "name", "", "deployment `name`")
	}
	path := func(c *client, parts ...string) string {
		return c.path(append([]string{"workspaces", ws, "onlineEndpoints", ep, "deployments"}, parts...)...)
	}
	show := func(stdout io.Writer, f *clientFlags, data []byte, list bool) error {
		if f.output == "json" {
			return printJSON(stdout, data)
		}
		type dep struct {
			Name       string
			Properties struct {
				ProvisioningState string
				Properties        map[string]string
			}
		}
		var items []dep
		if list {
			var page struct{ Value []dep }
			json.Unmarshal(data, &page)
			items = page.Value
		} else {
			var d dep
			json.Unmarshal(data, &d)
			items = []dep{d}
		}
		var rows [][]string
		for _, d := range items {
			rows = append(rows, []string{d.Name, d.Properties.ProvisioningState, d.Properties.Properties["rekey.upstream"]})
		}
		return printTable(stdout, []string{"NAME", "STATE", "UPSTREAM"}, rows)
	}
	need := func() error {
		return errors.Join(required("workspace", ws), required("endpoint", ep), required("name", name))
	}
	return dispatch(ctx, "deployment", mlAPIVersion, []command{
		{name: "create", help: "Create (or update) a deployment that sends the endpoint's traffic to an upstream, and wait for it.\n\nExample:\n  rekey deployment create --workspace ws1 --endpoint my-endpoint --name blue --upstream http://127.0.0.1:8000\n  rekey endpoint traffic --workspace ws1 --name my-endpoint --set blue=100\n",
			flags: func(fs *flag.FlagSet) {
				idFlags(fs)
				fs.StringVar(&upstream, "upstream", "", "`URL` of the model server, e.g. http://127.0.0.1:8000 (vLLM, Ollama, Triton...)")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := errors.Join(need(), required("upstream", upstream)); err != nil {
					return err
				}
				_, data, err := c.do(ctx, http.MethodGet, c.path("workspaces", ws, "onlineEndpoints", ep), nil)
				if err != nil {
					return err
				}
				var e resource
				json.Unmarshal(data, &e)
				resp, _, err := c.do(ctx, http.MethodPut, path(c, name), map[string]any{"location": e.Location,
					"properties": map[string]any{"endpointComputeType": "Managed", "properties": map[string]string{"rekey.upstream": upstream}}})
				if err != nil {
					return err
				}
				if err := c.wait(ctx, resp, progressWriter(stderr)); err != nil {
					return err
				}
				_, data, err = c.do(ctx, http.MethodGet, path(c, name), nil)
				if err != nil {
					return err
				}
				return show(stdout, f, data, false)
			}},
		{name: "list", help: "List an endpoint's deployments.\n\nExample:\n  rekey deployment list --workspace ws1 --endpoint my-endpoint\n",
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&ws, "workspace", "", "workspace `name`")
				fs.StringVar(&ep, "endpoint", "", "endpoint `name`")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := errors.Join(required("workspace", ws), required("endpoint", ep)); err != nil {
					return err
				}
				_, data, err := c.do(ctx, http.MethodGet, path(c), nil)
				if err != nil {
					return err
				}
				return show(stdout, f, data, true)
			}},
		{name: "delete", help: "Delete a deployment (its traffic must be 0 first) and wait until it is gone.\n\nExample:\n  rekey deployment delete --workspace ws1 --endpoint my-endpoint --name blue\n", flags: idFlags,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := need(); err != nil {
					return err
				}
				return c.remove(ctx, path(c, name), "deployment", name, stdout, stderr)
			}},
	}, args, getenv, stdout, stderr)
}

// setTraffic rewrites an endpoint's traffic map, as
// "az ml online-endpoint update --traffic" does: read, change, PUT.
func setTraffic(ctx context.Context, c *client, stderr io.Writer, ws, name, spec string) ([]byte, error) {
	traffic := map[string]int{}
	for _, term := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(term), "=")
		n, err := strconv.Atoi(v)
		if !ok || k == "" || err != nil {
			return nil, fmt.Errorf("%w: --set %q: want deployment=percent[,deployment=percent...], e.g. blue=90,green=10", errUsage, spec)
		}
		traffic[k] = n
	}
	p := c.path("workspaces", ws, "onlineEndpoints", name)
	_, data, err := c.do(ctx, http.MethodGet, p, nil)
	if err != nil {
		return nil, err
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, err
	}
	props, _ := body["properties"].(map[string]any)
	if props == nil {
		return nil, fmt.Errorf("the endpoint's body has no properties")
	}
	props["traffic"] = traffic
	resp, _, err := c.do(ctx, http.MethodPut, p, map[string]any{"location": body["location"], "tags": body["tags"], "properties": props})
	if err != nil {
		return nil, err
	}
	if err := c.wait(ctx, resp, progressWriter(stderr)); err != nil {
		return nil, err
	}
	_, data, err = c.do(ctx, http.MethodGet, p, nil)
	return data, err
}
