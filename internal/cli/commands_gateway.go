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

	"github.com/rekey-dev/rekey"
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
			LastRotated   *time.Time `json:"lastRotated"`
			LastRotatedBy string     `json:"lastRotatedBy"`
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
		rotated := "never"
		if k.LastRotated != nil {
			rotated = ago(time.Since(*k.LastRotated))
			if k.LastRotatedBy != "" {
				rotated += " by " + k.LastRotatedBy
			}
		}
		rows = append(rows, []string{k.Slot, strconv.FormatInt(k.Requests, 10), strconv.FormatInt(k.GraceRequests, 10), last, rotated})
	}
	return printTable(stdout, []string{"SLOT", "REQUESTS", "IN GRACE", "LAST USED", "ROTATED"}, rows)
}

// ago says how long ago d was, in the largest whole unit: "just now",
// "5 min ago", "3 hours ago", "40 days ago".
func ago(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return strconv.Itoa(n) + " " + unit + "s ago"
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/(24*time.Hour)), "day")
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

// parseSplit reads a traffic split such as "blue=90,green=10"; "none"
// is the empty split.
func parseSplit(flagName, spec string) (map[string]int, error) {
	traffic := map[string]int{}
	if strings.TrimSpace(spec) == "none" {
		return traffic, nil
	}
	for _, term := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(term), "=")
		n, err := strconv.Atoi(v)
		if !ok || k == "" || err != nil {
			return nil, fmt.Errorf("%w: --%s %q: want deployment=percent[,deployment=percent...], e.g. blue=90,green=10 (or none)", errUsage, flagName, spec)
		}
		traffic[k] = n
	}
	return traffic, nil
}

// parseGrace checks a --grace-period value; "0" (or "0s") removes the
// setting, which the returned empty string stands for.
func parseGrace(v string) (string, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return "", fmt.Errorf("%w: --grace-period %q: want a duration such as 30s or 5m (0 removes it)", errUsage, v)
	}
	if d == 0 {
		return "", nil
	}
	return v, nil
}

// setGrace sets (or, with "", removes) the grace period in an account's
// tags, which a PATCH replaces as a whole.
func setGrace(m map[string]any, v string) {
	if v == "" {
		delete(m, rekey.GracePeriodProperty)
	} else {
		m[rekey.GracePeriodProperty] = v
	}
}

// updateEndpoint changes an endpoint's properties as "az ml
// online-endpoint update" does: read, change, PUT, wait.
func updateEndpoint(ctx context.Context, c *client, stderr io.Writer, ws, name string, change func(props map[string]any)) ([]byte, error) {
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
	change(props)
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
