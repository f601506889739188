package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
)

// command is one client subcommand: its flags, its help and what it does.
type command struct {
	name, help string
	flags      func(fs *flag.FlagSet) // extra flags, or nil
	run        func(ctx context.Context, c *client, out *clientFlags, stdout, stderr io.Writer) error
}

// dispatch runs one of a group's subcommands.
func dispatch(ctx context.Context, group, apiVersion string, cmds []command, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if d := describing(ctx); d != nil { // for shell completion: report, run nothing
		d.describe(group, apiVersion, cmds)
		return nil
	}
	groupHelp := func() string {
		var b strings.Builder
		fmt.Fprintf(&b, "Usage: rekey %s <command> [flags]\n\nCommands:\n", group)
		for _, c := range cmds {
			fmt.Fprintf(&b, "  %-11s %s\n", c.name, summary(c.help))
		}
		fmt.Fprintf(&b, "\nRun \"rekey %s <command> -h\" for flags and examples.\n", group)
		return b.String()
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		fmt.Fprint(stdout, groupHelp())
		if len(args) == 0 {
			return fmt.Errorf("%w: rekey %s needs a command", errUsage, group)
		}
		return nil
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet(group+" "+c.name, flag.ContinueOnError)
		cf := bindClient(fs, getenv, apiVersion)
		if c.flags != nil {
			c.flags(fs)
		}
		if err := parseFlags(fs, args[1:], stdout, stderr, "Usage: rekey "+group+" "+c.name+" [flags]\n\n"+c.help); err != nil {
			return helpOK(err)
		}
		cl, err := cf.client()
		if err != nil {
			return err
		}
		return c.run(ctx, cl, cf, stdout, stderr)
	}
	fmt.Fprint(stderr, groupHelp())
	if strings.HasPrefix(args[0], "-") {
		// "rekey token --workspace ws1": the command is missing, not unknown.
		if len(cmds) == 1 {
			return fmt.Errorf("%w: \"rekey %s\" needs its command first: rekey %s %s %s", errUsage, group, group, cmds[0].name, strings.Join(args, " "))
		}
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.name
		}
		return fmt.Errorf("%w: \"rekey %s\" needs a command before %s: rekey %s <%s> %s", errUsage, group, args[0], group, strings.Join(names, "|"), strings.Join(args, " "))
	}
	return fmt.Errorf("%w: unknown command \"rekey %s %s\"", errUsage, group, args[0])
}

// summary is the first sentence of a command's help, for its group's
// list of commands: the help's first line alone may stop mid-sentence.
func summary(help string) string {
	para, _, _ := strings.Cut(help, "\n\n")
	para = strings.Join(strings.Fields(para), " ")
	if i := strings.Index(para, ". "); i >= 0 {
		return para[:i+1]
	}
	return para
}

// required reports a missing required flag.
func required(name, value string) error {
	if value == "" {
		return fmt.Errorf("%w: --%s is required", errUsage, name)
	}
	return nil
}

// show prints a resource (or a list) body as a table or as JSON.
func show(stdout io.Writer, f *clientFlags, data []byte, list, endpoint bool) error {
	if f.output == "json" {
		return printJSON(stdout, data)
	}
	header, rows, err := resourceRows(data, list, endpoint)
	if err != nil {
		return err
	}
	return printTable(stdout, header, rows)
}

func runWorkspace(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var name, location string
	nameFlag := func(fs *flag.FlagSet) { fs.StringVar(&name, "name", "", "workspace `name`") }
	return dispatch(ctx, "workspace", mlAPIVersion, []command{
		{name: "create", help: "Create (or update) a workspace.\n\nExample:\n  rekey workspace create --name ws1 --location westeurope\n",
			flags: func(fs *flag.FlagSet) {
				nameFlag(fs)
				fs.StringVar(&location, "location", "eastus", "Azure `region` name")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("name", name); err != nil {
					return err
				}
				_, data, err := c.do(ctx, http.MethodPut, c.path("workspaces", name), map[string]any{
					"location": location, "properties": map[string]any{"friendlyName": name}})
				if err != nil {
					return err
				}
				return show(stdout, f, data, false, false)
			}},
		{name: "list", help: "List the workspaces of the resource group.\n\nExample:\n  rekey workspace list --output json\n",
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				_, data, err := c.do(ctx, http.MethodGet, c.path("workspaces"), nil)
				if err != nil {
					return err
				}
				return show(stdout, f, data, true, false)
			}},
		{name: "show", help: "Show a workspace.\n\nExample:\n  rekey workspace show --name ws1\n", flags: nameFlag,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("name", name); err != nil {
					return err
				}
				_, data, err := c.do(ctx, http.MethodGet, c.path("workspaces", name), nil)
				if err != nil {
					return err
				}
				return show(stdout, f, data, false, false)
			}},
		{name: "delete", help: "Delete a workspace with all its endpoints and keys.\n\nExample:\n  rekey workspace delete --name ws1\n", flags: nameFlag,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("name", name); err != nil {
					return err
				}
				return c.remove(ctx, c.path("workspaces", name), "workspace", name, stdout, stderr)
			}},
	}, args, getenv, stdout, stderr)
}

func runEndpoint(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var ws, name, location, authMode, description, grace, mirror string
	idFlags := func(fs *flag.FlagSet) {
		fs.StringVar(&ws, "workspace", "", "workspace `name`")
		fs.StringVar(&name, "name", "", "endpoint `name`")
	}
	return dispatch(ctx, "endpoint", mlAPIVersion, []command{
		{name: "create", help: "Create (or update) an online endpoint and wait until it is ready.\n\nExamples:\n  rekey endpoint create --workspace ws1 --name my-endpoint --auth-mode Key\n  rekey endpoint create --workspace ws1 --name my-endpoint --grace-period 5m\n",
			flags: func(fs *flag.FlagSet) {
				idFlags(fs)
				fs.StringVar(&location, "location", "", "Azure `region`; default: the workspace's")
				fs.StringVar(&authMode, "auth-mode", "Key", "`mode`: Key, AMLToken or AADToken")
				fs.StringVar(&description, "description", "", "description `text`")
				fs.StringVar(&grace, "grace-period", "", "how long a replaced key keeps working after a regeneration, e.g. 5m (rekey.keyGracePeriod; beyond Azure)")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := errors.Join(required("workspace", ws), required("name", name)); err != nil {
					return err
				}
				settings := map[string]any{}
				if grace != "" {
					g, err := parseGrace(grace)
					if err != nil {
						return err
					}
					settings[rekey.GracePeriodProperty] = g // "" removes it (docs/decisions.md)
				}
				if location == "" {
					_, data, err := c.do(ctx, http.MethodGet, c.path("workspaces", ws), nil)
					if err != nil {
						return err
					}
					var w resource
					json.Unmarshal(data, &w)
					location = w.Location
				}
				props := map[string]any{"authMode": authMode, "properties": settings}
				if description != "" {
					props["description"] = description
				}
				resp, _, err := c.do(ctx, http.MethodPut, c.path("workspaces", ws, "onlineEndpoints", name), map[string]any{"location": location, "properties": props})
				if err != nil {
					return err
				}
				if err := c.wait(ctx, resp, progressWriter(stderr)); err != nil {
					return err
				}
				_, data, err := c.do(ctx, http.MethodGet, c.path("workspaces", ws, "onlineEndpoints", name), nil)
				if err != nil {
					return err
				}
				return show(stdout, f, data, false, true)
			}},
		{name: "update", help: "Change an existing endpoint's settings and wait for the update; what is not named stays.\n\nExamples:\n  rekey endpoint update --workspace ws1 --name my-endpoint --grace-period 5m\n  rekey endpoint update --workspace ws1 --name my-endpoint --grace-period 0    # no grace\n",
			flags: func(fs *flag.FlagSet) {
				idFlags(fs)
				fs.StringVar(&description, "description", "", "description `text`")
				fs.StringVar(&grace, "grace-period", "", "how long a replaced key keeps working after a regeneration, e.g. 5m; 0 removes it (rekey.keyGracePeriod; beyond Azure)")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := errors.Join(required("workspace", ws), required("name", name)); err != nil {
					return err
				}
				if grace == "" && description == "" {
					return fmt.Errorf("%w: nothing to change: give --grace-period or --description", errUsage)
				}
				g, err := "", error(nil)
				if grace != "" {
					if g, err = parseGrace(grace); err != nil {
						return err
					}
				}
				data, err := updateEndpoint(ctx, c, stderr, ws, name, func(props map[string]any) {
					if description != "" {
						props["description"] = description
					}
					if grace != "" {
						settings, _ := props["properties"].(map[string]any)
						if settings == nil {
							settings = map[string]any{}
						}
						settings[rekey.GracePeriodProperty] = g // "" removes it (docs/decisions.md)
						props["properties"] = settings
					}
				})
				if err != nil {
					return err
				}
				return show(stdout, f, data, false, true)
			}},
		{name: "traffic", help: "Set an endpoint's traffic split between its deployments (percentages adding up to 100),\nand the share of requests mirrored to a deployment whose answers are discarded.\n\nExamples:\n  rekey endpoint traffic --workspace ws1 --name my-endpoint --set blue=90,green=10\n  rekey endpoint traffic --workspace ws1 --name my-endpoint --set blue=100 --mirror green=10\n  rekey endpoint traffic --workspace ws1 --name my-endpoint --mirror none\n",
			flags: func(fs *flag.FlagSet) {
				idFlags(fs)
				fs.StringVar(&description, "set", "", "`split` such as blue=90,green=10")
				fs.StringVar(&mirror, "mirror", "", "mirrored `share` such as green=10; none stops mirroring")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := errors.Join(required("workspace", ws), required("name", name)); err != nil {
					return err
				}
				if description == "" && mirror == "" {
					return fmt.Errorf("%w: give --set, --mirror or both", errUsage)
				}
				var traffic, mirrored map[string]int
				var err error
				if description != "" {
					if traffic, err = parseSplit("set", description); err != nil {
						return err
					}
				}
				if mirror != "" {
					if mirrored, err = parseSplit("mirror", mirror); err != nil {
						return err
					}
				}
				data, err := updateEndpoint(ctx, c, stderr, ws, name, func(props map[string]any) {
					if traffic != nil {
						props["traffic"] = traffic
					}
					if mirrored != nil {
						props["mirrorTraffic"] = mirrored
					}
				})
				if err != nil {
					return err
				}
				return show(stdout, f, data, false, true)
			}},
		{name: "list", help: "List a workspace's online endpoints.\n\nExample:\n  rekey endpoint list --workspace ws1\n",
			flags: func(fs *flag.FlagSet) { fs.StringVar(&ws, "workspace", "", "workspace `name`") },
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("workspace", ws); err != nil {
					return err
				}
				var all []json.RawMessage
				next := c.path("workspaces", ws, "onlineEndpoints")
				for next != "" {
					_, data, err := c.do(ctx, http.MethodGet, next, nil)
					if err != nil {
						return err
					}
					var page struct {
						Value    []json.RawMessage
						NextLink string
					}
					if err := json.Unmarshal(data, &page); err != nil {
						return err
					}
					all, next = append(all, page.Value...), page.NextLink
				}
				data, _ := json.Marshal(map[string]any{"value": all})
				return show(stdout, f, data, true, true)
			}},
		{name: "show", help: "Show an online endpoint.\n\nExample:\n  rekey endpoint show --workspace ws1 --name my-endpoint\n", flags: idFlags,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := errors.Join(required("workspace", ws), required("name", name)); err != nil {
					return err
				}
				_, data, err := c.do(ctx, http.MethodGet, c.path("workspaces", ws, "onlineEndpoints", name), nil)
				if err != nil {
					return err
				}
				return show(stdout, f, data, false, true)
			}},
		{name: "delete", help: "Delete an online endpoint and its keys, and wait until it is gone.\n\nExample:\n  rekey endpoint delete --workspace ws1 --name my-endpoint\n", flags: idFlags,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := errors.Join(required("workspace", ws), required("name", name)); err != nil {
					return err
				}
				return c.remove(ctx, c.path("workspaces", ws, "onlineEndpoints", name), "endpoint", name, stdout, stderr)
			}},
	}, args, getenv, stdout, stderr)
}

func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var ws, name, keyType, keyValue string
	idFlags := func(fs *flag.FlagSet) {
		fs.StringVar(&ws, "workspace", "", "workspace `name`")
		fs.StringVar(&name, "endpoint", "", "endpoint `name`")
	}
	return dispatch(ctx, "keys", mlAPIVersion, []command{
		{name: "list", help: "Print an endpoint's primary and secondary keys.\n\nExample:\n  rekey keys list --workspace ws1 --endpoint my-endpoint\n", flags: idFlags,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := errors.Join(required("workspace", ws), required("endpoint", name)); err != nil {
					return err
				}
				_, data, err := c.do(ctx, http.MethodPost, c.path("workspaces", ws, "onlineEndpoints", name, "listKeys"), nil)
				if err != nil {
					return err
				}
				if f.output == "json" {
					return printJSON(stdout, data)
				}
				var k struct{ PrimaryKey, SecondaryKey string }
				if err := json.Unmarshal(data, &k); err != nil {
					return err
				}
				return printTable(stdout, []string{"SLOT", "KEY"}, [][]string{{"primary", k.PrimaryKey}, {"secondary", k.SecondaryKey}})
			}},
		{name: "usage", help: "Show how many gateway requests used each key slot, and when last: check that nobody still uses a key before regenerating it.\n\nExample:\n  rekey keys usage --workspace ws1 --endpoint my-endpoint\n", flags: idFlags,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := errors.Join(required("workspace", ws), required("endpoint", name)); err != nil {
					return err
				}
				return showUsage(ctx, c, f, stdout, c.path("workspaces", ws, "onlineEndpoints", name))
			}},
		{name: "regenerate", help: "Regenerate one of an endpoint's keys and wait for the operation.\n\nThe old key stops working as soon as the server accepts the request.\n--key-value sets the key to a value of your choice (16-256 printable\nASCII characters); without it, or with the current key, a random key\nis generated.\n\nExamples:\n  rekey keys regenerate --workspace ws1 --endpoint my-endpoint --key-type primary\n  rekey keys regenerate --workspace ws1 --endpoint my-endpoint --key-type secondary --key-value \"$NEW_KEY\"\n",
			flags: func(fs *flag.FlagSet) {
				idFlags(fs)
				fs.StringVar(&keyType, "key-type", "", "`slot` to regenerate: primary or secondary")
				fs.StringVar(&keyValue, "key-value", "", "new key `value`; default: random")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := errors.Join(required("workspace", ws), required("endpoint", name), required("key-type", keyType)); err != nil {
					return err
				}
				kt := strings.ToUpper(keyType[:1]) + strings.ToLower(keyType[1:])
				if kt != "Primary" && kt != "Secondary" {
					return fmt.Errorf("%w: --key-type %q: want primary or secondary", errUsage, keyType)
				}
				body := map[string]string{"keyType": kt}
				if keyValue != "" {
					body["keyValue"] = keyValue
				}
				resp, _, err := c.do(ctx, http.MethodPost, c.path("workspaces", ws, "onlineEndpoints", name, "regenerateKeys"), body)
				if err != nil {
					return err
				}
				if err := c.wait(ctx, resp, progressWriter(stderr)); err != nil {
					return err
				}
				if f.output == "json" {
					return printJSON(stdout, []byte(fmt.Sprintf(`{"endpoint":%q,"keyType":%q,"status":"Succeeded"}`, name, kt)))
				}
				fmt.Fprintf(stdout, "Regenerated the %s key of endpoint %s. Run \"rekey keys list\" to read it.\n", strings.ToLower(kt), name)
				return nil
			}},
	}, args, getenv, stdout, stderr)
}

func runToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var ws, name string
	return dispatch(ctx, "token", mlAPIVersion, []command{
		{name: "get", help: "Get a token for an endpoint with authMode AMLToken.\n\nExample:\n  rekey token get --workspace ws1 --endpoint my-endpoint --output json\n",
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&ws, "workspace", "", "workspace `name`")
				fs.StringVar(&name, "endpoint", "", "endpoint `name`")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := errors.Join(required("workspace", ws), required("endpoint", name)); err != nil {
					return err
				}
				_, data, err := c.do(ctx, http.MethodPost, c.path("workspaces", ws, "onlineEndpoints", name, "token"), nil)
				if err != nil {
					return err
				}
				if f.output == "json" {
					return printJSON(stdout, data)
				}
				var t struct {
					AccessToken   string `json:"accessToken"`
					ExpiryTimeUTC int64  `json:"expiryTimeUtc"`
				}
				json.Unmarshal(data, &t)
				return printTable(stdout, []string{"TOKEN", "EXPIRES (UNIX)"}, [][]string{{t.AccessToken, fmt.Sprint(t.ExpiryTimeUTC)}})
			}},
	}, args, getenv, stdout, stderr)
}
