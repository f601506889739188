package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
)

const csNamespace = "Microsoft.CognitiveServices"

func runAccount(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "keys" {
		return runAccountKeys(ctx, args[1:], getenv, stdout, stderr)
	}
	var name, location, kind, sku, runtime string
	nameFlag := func(fs *flag.FlagSet) { fs.StringVar(&name, "name", "", "account `name`") }
	path := func(c *client, parts ...string) string {
		return c.providerPath(csNamespace, append([]string{"accounts"}, parts...)...)
	}
	return dispatch(ctx, "account", csAPIVersion, []command{
		{name: "create", help: "Create (or update) a Cognitive Services account; a QnAMaker account gets QnA endpoint keys.\n\nExamples:\n  rekey account create --name my-qna --qna-runtime-endpoint http://127.0.0.1:8000\n  rekey account create --name my-face --kind Face --sku F0\n\nSee also: rekey account keys, rekey qna keys.\n",
			flags: func(fs *flag.FlagSet) {
				nameFlag(fs)
				fs.StringVar(&location, "location", "westus", "Azure `region`")
				fs.StringVar(&kind, "kind", "QnAMaker", "account `kind`")
				fs.StringVar(&sku, "sku", "S0", "SKU `name`")
				fs.StringVar(&runtime, "qna-runtime-endpoint", "", "`URL` of the QnA runtime (required for kind QnAMaker)")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("name", name); err != nil {
					return err
				}
				body := map[string]any{"location": location, "kind": kind, "sku": map[string]string{"name": sku}}
				if runtime != "" {
					body["properties"] = map[string]any{"apiProperties": map[string]string{"qnaRuntimeEndpoint": runtime}}
				}
				resp, data, err := c.do(ctx, http.MethodPut, path(c, name), body)
				if err != nil {
					return err
				}
				if resp.Header.Get("Azure-AsyncOperation") != "" {
					// Created: wait for the account to be ready, then show it.
					if err := c.wait(ctx, resp, progressWriter(stderr)); err != nil {
						return err
					}
					if _, data, err = c.do(ctx, http.MethodGet, path(c, name), nil); err != nil {
						return err
					}
				}
				return showAccount(stdout, f, data, false)
			}},
		{name: "list", help: "List the accounts of the resource group.\n\nExample:\n  rekey account list\n",
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				_, data, err := c.do(ctx, http.MethodGet, path(c), nil)
				if err != nil {
					return err
				}
				return showAccount(stdout, f, data, true)
			}},
		{name: "show", help: "Show an account, with its QnA authoring endpoint.\n\nExample:\n  rekey account show --name my-qna\n", flags: nameFlag,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("name", name); err != nil {
					return err
				}
				_, data, err := c.do(ctx, http.MethodGet, path(c, name), nil)
				if err != nil {
					return err
				}
				return showAccount(stdout, f, data, false)
			}},
		{name: "delete", help: "Delete an account and all its keys.\n\nExample:\n  rekey account delete --name my-qna\n", flags: nameFlag,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("name", name); err != nil {
					return err
				}
				return c.remove(ctx, path(c, name), "account", name, stdout, stderr)
			}},
	}, args, getenv, stdout, stderr)
}

func runAccountKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var name, keyName string
	nameFlag := func(fs *flag.FlagSet) { fs.StringVar(&name, "name", "", "account `name`") }
	printKeys := func(stdout io.Writer, f *clientFlags, data []byte) error {
		if f.output == "json" {
			return printJSON(stdout, data)
		}
		var k struct{ Key1, Key2 string }
		if err := json.Unmarshal(data, &k); err != nil {
			return err
		}
		return printTable(stdout, []string{"NAME", "KEY"}, [][]string{{"key1", k.Key1}, {"key2", k.Key2}})
	}
	return dispatch(ctx, "account keys", csAPIVersion, []command{
		{name: "list", help: "Print an account's subscription keys (the Ocp-Apim-Subscription-Key values).\n\nExample:\n  rekey account keys list --name my-qna\n", flags: nameFlag,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("name", name); err != nil {
					return err
				}
				_, data, err := c.do(ctx, http.MethodPost, c.providerPath(csNamespace, "accounts", name, "listKeys"), nil)
				if err != nil {
					return err
				}
				return printKeys(stdout, f, data)
			}},
		{name: "usage", help: "Show how many QnA runtime requests used each endpoint key, and when last.\n\nExample:\n  rekey account keys usage --name my-qna\n", flags: nameFlag,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("name", name); err != nil {
					return err
				}
				return showUsage(ctx, c, f, stdout, c.providerPath(csNamespace, "accounts", name))
			}},
		{name: "regenerate", help: "Regenerate one subscription key; the old one stops working at once.\n\nExample:\n  rekey account keys regenerate --name my-qna --key-name key1\n",
			flags: func(fs *flag.FlagSet) {
				nameFlag(fs)
				fs.StringVar(&keyName, "key-name", "", "`key` to regenerate: key1 or key2")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("name", name); err != nil {
					return err
				}
				kn := map[string]string{"key1": "Key1", "key2": "Key2"}[strings.ToLower(keyName)]
				if kn == "" {
					return fmt.Errorf("%w: --key-name %q: want key1 or key2", errUsage, keyName)
				}
				_, data, err := c.do(ctx, http.MethodPost, c.providerPath(csNamespace, "accounts", name, "regenerateKey"), map[string]string{"keyName": kn})
				if err != nil {
					return err
				}
				return printKeys(stdout, f, data)
			}},
	}, args, getenv, stdout, stderr)
}

// showAccount prints accounts as a table or JSON.
func showAccount(stdout io.Writer, f *clientFlags, data []byte, list bool) error {
	if f.output == "json" {
		return printJSON(stdout, data)
	}
	type account struct {
		Name, Location, Kind string
		Properties           struct{ Endpoint, ProvisioningState string }
	}
	var items []account
	if list {
		var page struct{ Value []account }
		if err := json.Unmarshal(data, &page); err != nil {
			return err
		}
		items = page.Value
	} else {
		var a account
		if err := json.Unmarshal(data, &a); err != nil {
			return err
		}
		items = []account{a}
	}
	var rows [][]string
	for _, a := range items {
		rows = append(rows, []string{a.Name, a.Kind, a.Location, a.Properties.ProvisioningState, a.Properties.Endpoint})
	}
	return printTable(stdout, []string{"NAME", "KIND", "LOCATION", "STATE", "ENDPOINT"}, rows)
}
