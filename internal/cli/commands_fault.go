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
	"strings"
	"time"

	"github.com/rekey-dev/rekey/fault"
)

const faultAddHelp = `Make the server fail on purpose, for testing the code that handles failure.

A fault applies to one operation (--operation), optionally to one resource
(--resource: an ARM id prefix, or an endpoint or account name), every time,
N times (--count) or at random (--probability). Kinds:
  failed    the long-running operation ends Failed with --code/--message;
            nothing changes (a failed regenerateKeys keeps the old key).
            A request that starts no operation fails at once (--status).
  throttle  429 with Retry-After (--retry-after seconds) in the API's envelope
  error     500 or 503 (--status) in the API's envelope
  latency   the request is served after --latency
  reset     the connection is reset (TCP RST), no answer

Operations: regenerateKeys, listKeys, token, refresh (QnA Maker), regenerateKey
(account), gateway (scoring requests), and arm with --method and --path for any
ARM request ('*' matches anything: --path '*/onlineEndpoints/*').

The official SDKs retry 429, 500, 503 and reset connections (the Go SDK three
times): a fault with --count 1 is absorbed by the retry, which is how to test
retry logic; without --count every retry fails too.

Faults live in the server's memory: a restart clears them.

Examples:
  rekey fault add --kind failed --operation regenerateKeys --code QuotaExceeded --message "No quota left."
  rekey fault add --kind throttle --operation listKeys --resource my-endpoint --count 1
  rekey fault add --kind latency --latency 2s --operation gateway --probability 0.1
  rekey fault add --kind reset --operation arm --method PUT --path '*/onlineEndpoints/*'
`

// runFault is "rekey fault": fault injection through the admin API.
func runFault(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var (
		f           fault.Fault
		kind, op    string
		probability string
		latency     time.Duration
		id          string
	)
	faultsPath := func(c *client) string { return c.base + "/rekey/v1/faults" }
	cmds := []command{
		{name: "add", help: faultAddHelp,
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&kind, "kind", "", "`kind`: failed, throttle, error, latency or reset")
				fs.StringVar(&op, "operation", "", "`operation`: regenerateKeys, listKeys, token, refresh, regenerateKey, gateway or arm")
				fs.StringVar(&f.Method, "method", "", "HTTP `method` of an arm fault (default any)")
				fs.StringVar(&f.Path, "path", "", "path `pattern` of an arm fault, '*' matching anything")
				fs.StringVar(&f.Resource, "resource", "", "ARM id prefix, or endpoint or account `name` (default every resource)")
				fs.IntVar(&f.Count, "count", 0, "fire `N` times, then expire (default no limit)")
				fs.StringVar(&probability, "probability", "", "chance in `[0,1]` that a matching request gets the fault (default 1)")
				fs.StringVar(&f.Code, "code", "", "error `code` (failed; throttle and error in ARM and QnA)")
				fs.StringVar(&f.Message, "message", "", "error `message`")
				fs.IntVar(&f.Status, "status", 0, "HTTP `status`: 500 or 503 for error; of a failed request that starts no operation (default 500)")
				fs.IntVar(&f.RetryAfter, "retry-after", 0, "Retry-After `seconds` of a throttle (default 1)")
				fs.DurationVar(&latency, "latency", 0, "added `delay` of a latency fault, e.g. 2s")
			},
			run: func(ctx context.Context, c *client, cf *clientFlags, stdout, stderr io.Writer) error {
				if err := required("kind", kind); err != nil {
					return err
				}
				if err := required("operation", op); err != nil {
					return err
				}
				f.Kind, f.Operation, f.Latency = fault.Kind(kind), fault.Operation(op), fault.Duration(latency)
				if probability != "" {
					p, err := strconv.ParseFloat(probability, 64)
					if err != nil {
						return fmt.Errorf("%w: --probability must be a number between 0 and 1", errUsage)
					}
					f.Probability = &p
				}
				_, data, err := c.do(ctx, http.MethodPost, faultsPath(c), f)
				if err != nil {
					return err
				}
				if cf.output == "json" {
					return printJSON(stdout, data)
				}
				var added fault.Fault
				if err := json.Unmarshal(data, &added); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "Added fault %s: %s.\n", added.ID, describeFault(added))
				return nil
			}},
		{name: "list", help: "List the faults in force, with how often each has fired.\n\nExample:\n  rekey fault list\n",
			run: func(ctx context.Context, c *client, cf *clientFlags, stdout, stderr io.Writer) error {
				_, data, err := c.do(ctx, http.MethodGet, faultsPath(c), nil)
				if err != nil {
					return err
				}
				if cf.output == "json" {
					return printJSON(stdout, data)
				}
				var page struct{ Value []fault.Fault }
				if err := json.Unmarshal(data, &page); err != nil {
					return err
				}
				rows := [][]string{}
				for _, f := range page.Value {
					left := "-"
					if f.Count > 0 {
						left = strconv.Itoa(f.Count)
					}
					p := "1"
					if f.Probability != nil {
						p = strconv.FormatFloat(*f.Probability, 'g', -1, 64)
					}
					rows = append(rows, []string{f.ID, string(f.Kind), scope(f), left, p, strconv.Itoa(f.Fired)})
				}
				return printTable(stdout, []string{"ID", "KIND", "SCOPE", "LEFT", "PROBABILITY", "FIRED"}, rows)
			}},
		{name: "delete", help: "Remove one fault.\n\nExample:\n  rekey fault delete f-0a1b2c3d\n",
			flags: func(fs *flag.FlagSet) { fs.StringVar(&id, "id", "", "`id` of the fault (or give it as the argument)") },
			run: func(ctx context.Context, c *client, cf *clientFlags, stdout, stderr io.Writer) error {
				if err := required("id", id); err != nil {
					return err
				}
				if _, _, err := c.do(ctx, http.MethodDelete, faultsPath(c)+"/"+url.PathEscape(id), nil); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "Deleted fault %s.\n", id)
				return nil
			}},
		{name: "clear", help: "Remove every fault.\n\nExample:\n  rekey fault clear\n",
			run: func(ctx context.Context, c *client, cf *clientFlags, stdout, stderr io.Writer) error {
				_, data, err := c.do(ctx, http.MethodDelete, faultsPath(c), nil)
				if err != nil {
					return err
				}
				var out struct{ Deleted int }
				json.Unmarshal(data, &out)
				fmt.Fprintf(stdout, "Removed %d fault(s).\n", out.Deleted)
				return nil
			}},
	}
	// "rekey fault delete ID": the id may come as the argument.
	if len(args) >= 2 && args[0] == "delete" && !strings.HasPrefix(args[1], "-") {
		args = append([]string{"delete", "--id", args[1]}, args[2:]...)
	}
	return dispatch(ctx, "fault", mlAPIVersion, cmds, args, getenv, stdout, stderr)
}

// scope says what a fault applies to, for tables.
func scope(f fault.Fault) string {
	s := string(f.Operation)
	if f.Operation == fault.ARM {
		s = f.Method + " " + f.Path
	}
	if f.Resource != "" {
		s += " on " + f.Resource
	}
	return s
}

// describe says what a fault does, in one line.
func describeFault(f fault.Fault) string {
	what := string(f.Kind)
	switch f.Kind {
	case fault.Latency:
		what = "latency " + time.Duration(f.Latency).String()
	case fault.Error:
		what = "error " + strconv.Itoa(f.Status)
	case fault.Failed:
		what = "failed " + strings.TrimSpace(f.Code)
	}
	s := what + " on " + scope(f)
	if f.Count > 0 {
		s += fmt.Sprintf(", %d time(s)", f.Count)
	}
	if f.Probability != nil {
		s += ", probability " + strconv.FormatFloat(*f.Probability, 'g', -1, 64)
	}
	return s
}
