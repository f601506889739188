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

func runQnA(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "keys" {
		fmt.Fprint(stderr, "Usage: rekey qna keys <show|refresh> [flags]\n")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "help") {
			return nil
		}
		return fmt.Errorf("%w: rekey qna has one command group: keys", errUsage)
	}
	e := env(getenv)
	var subKey, endpoint, version, keyType string
	common := func(fs *flag.FlagSet) {
		fs.StringVar(&subKey, "subscription-key", e.str("REKEY_QNA_KEY", ""), "the account's subscription `key` (key1 or key2) (REKEY_QNA_KEY)")
		fs.StringVar(&endpoint, "endpoint", e.str("REKEY_QNA_ENDPOINT", ""), "the account's endpoint `URL`; default: --server (REKEY_QNA_ENDPOINT)")
		fs.StringVar(&version, "qna-version", "v5.0-preview.2", "QnA Maker API `version`: v4.0, v5.0-preview.1 or v5.0-preview.2")
	}
	// call sends one QnA authoring request, as the QnA Maker clients do.
	call := func(ctx context.Context, c *client, method, op string) ([]byte, error) {
		if subKey == "" {
			return nil, fmt.Errorf("%w: --subscription-key (or REKEY_QNA_KEY) is required: see \"rekey account keys list\"", errUsage)
		}
		base := endpoint
		if base == "" {
			base = c.base + "/"
		}
		req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+"/qnamaker/"+version+"/"+op, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Ocp-Apim-Subscription-Key", subKey)
		req.Header.Set("Accept", "application/json")
		_, data, err := c.send(req)
		return data, err
	}
	printDTO := func(stdout io.Writer, f *clientFlags, data []byte) error {
		if f.output == "json" {
			return printJSON(stdout, data)
		}
		var d struct{ PrimaryEndpointKey, SecondaryEndpointKey, InstalledVersion, LastStableVersion, Language string }
		if err := json.Unmarshal(data, &d); err != nil {
			return err
		}
		return printTable(stdout, []string{"SLOT", "ENDPOINT KEY"}, [][]string{{"primary", d.PrimaryEndpointKey}, {"secondary", d.SecondaryEndpointKey}})
	}
	return dispatch(ctx, "qna keys", "", []command{
		{name: "show", help: "Print a QnAMaker account's endpoint keys (GET /qnamaker/{version}/endpointkeys).\n\nExample:\n  rekey qna keys show --subscription-key \"$KEY1\"\n", flags: common,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				data, err := call(ctx, c, http.MethodGet, "endpointkeys")
				if err != nil {
					return err
				}
				return printDTO(stdout, f, data)
			}},
		{name: "refresh", help: "Replace one endpoint key (PATCH /qnamaker/{version}/endpointkeys/{keyType}).\n\nExample:\n  rekey qna keys refresh --subscription-key \"$KEY1\" --key-type primary\n",
			flags: func(fs *flag.FlagSet) {
				common(fs)
				fs.StringVar(&keyType, "key-type", "", "`slot` to refresh: primary or secondary")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				kt := map[string]string{"primary": "PrimaryKey", "secondary": "SecondaryKey"}[strings.ToLower(keyType)]
				if kt == "" {
					return fmt.Errorf("%w: --key-type %q: want primary or secondary", errUsage, keyType)
				}
				data, err := call(ctx, c, http.MethodPatch, "endpointkeys/"+kt)
				if err != nil {
					return err
				}
				return printDTO(stdout, f, data)
			}},
	}, args[1:], getenv, stdout, stderr)
}
