package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

const auditListHelp = `List the audit log, newest first: who read or changed which key or
resource, and how it ended (status and error code). Records never hold a
key, token or secret.

--since and --until take an age (90m, 1h, 7d) or an RFC 3339 time.
--resource takes an ARM id and also selects what lies below it;
--workspace and --endpoint build the id of your Azure ML workspace or
endpoint instead. --principal matches a principal's id, appId or name.
--action matches an Azure action; a * at its start or end matches any
characters there.

Examples:
  rekey audit list --since 1h
  rekey audit list --workspace ws1 --endpoint my-endpoint --action '*/regenerateKeys/action'
  rekey audit list --principal ci-rotator --output json
`

func runAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var since, until, resource, principal, action, ws, ep string
	var top int
	return dispatch(ctx, "audit", mlAPIVersion, []command{
		{name: "list", help: auditListHelp,
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&since, "since", "", "records at or after this `age or time` (1h, 7d, 2026-01-02T15:04:05Z)")
				fs.StringVar(&until, "until", "", "records before this `age or time`")
				fs.StringVar(&resource, "resource", "", "ARM `id` of a resource (and what lies below it)")
				fs.StringVar(&ws, "workspace", "", "an Azure ML workspace `name`, instead of --resource")
				fs.StringVar(&ep, "endpoint", "", "an online endpoint `name` in --workspace")
				fs.StringVar(&principal, "principal", "", "a principal's `id, appId or name`")
				fs.StringVar(&action, "action", "", "an Azure `action`; a * at its start or end matches any characters there")
				fs.IntVar(&top, "top", 100, "most `records` to print (follows the pages)")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if top < 1 {
					return fmt.Errorf("%w: --top %d: want 1 or more", errUsage, top)
				}
				if ep != "" && ws == "" {
					return fmt.Errorf("%w: --endpoint needs --workspace", errUsage)
				}
				if ws != "" {
					if resource != "" {
						return fmt.Errorf("%w: give --resource or --workspace, not both", errUsage)
					}
					resource = c.path("workspaces", ws)
					if ep != "" {
						resource = c.path("workspaces", ws, "onlineEndpoints", ep)
					}
				}
				q := url.Values{}
				for name, v := range map[string]string{"since": since, "until": until, "resource": resource, "principal": principal, "action": action} {
					if v != "" {
						q.Set(name, v)
					}
				}
				q.Set("$top", strconv.Itoa(min(top, 1000)))
				records, err := auditPages(ctx, c, c.base+"/rekey/v1/audit?"+q.Encode(), top)
				if err != nil {
					return err
				}
				if f.output == "json" {
					data, err := json.Marshal(map[string]any{"value": records})
					if err != nil {
						return err
					}
					return printJSON(stdout, data)
				}
				rows := [][]string{}
				for _, r := range records {
					var a struct {
						Time, PrincipalName, PrincipalID, Action, ResourceID, KeySlot, ErrorCode string
						Status                                                                   int
					}
					json.Unmarshal(r, &a)
					who := a.PrincipalName
					if who == "" {
						who = a.PrincipalID
					}
					result := strconv.Itoa(a.Status)
					if a.ErrorCode != "" {
						result += " " + a.ErrorCode
					}
					when := a.Time
					if t, err := time.Parse(time.RFC3339Nano, a.Time); err == nil {
						when = t.Format(time.RFC3339)
					}
					rows = append(rows, []string{when, who, a.Action, a.ResourceID, dash(a.KeySlot), result})
				}
				return printTable(stdout, []string{"TIME", "PRINCIPAL", "ACTION", "RESOURCE", "SLOT", "RESULT"}, rows)
			}},
	}, args, getenv, stdout, stderr)
}

// auditPages reads up to top records, following nextLink.
func auditPages(ctx context.Context, c *client, link string, top int) ([]json.RawMessage, error) {
	out := []json.RawMessage{} // none found: "value": [], not null
	for link != "" && len(out) < top {
		_, data, err := c.do(ctx, http.MethodGet, link, nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink *string           `json:"nextLink"`
		}
		if err := json.Unmarshal(data, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Value[:min(len(page.Value), top-len(out))]...)
		link = ""
		if page.NextLink != nil {
			link = *page.NextLink
		}
	}
	return out, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
