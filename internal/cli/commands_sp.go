package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// runSP is "rekey sp": service principals of the token service, through
// the admin API. Its output mirrors `az ad sp create-for-rbac`.
func runSP(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var name, appID string
	nameFlag := func(fs *flag.FlagSet) { fs.StringVar(&name, "name", "", "display `name` of the service principal") }
	idFlag := func(fs *flag.FlagSet) { fs.StringVar(&appID, "id", "", "`appId` (client id) of the service principal") }
	spPath := func(c *client) string { return c.base + "/rekey/v1/servicePrincipals" }
	printCreds := func(stdout io.Writer, f *clientFlags, data []byte) error {
		if f.output == "json" {
			return printJSON(stdout, data)
		}
		var c struct{ AppID, DisplayName, Password, Tenant string }
		if err := json.Unmarshal(data, &c); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "appId:       %s\ndisplayName: %s\npassword:    %s\ntenant:      %s\n", c.AppID, c.DisplayName, c.Password, c.Tenant)
		fmt.Fprintln(stdout, "\nThe password is shown only now: store it (for example as AZURE_CLIENT_SECRET).")
		return nil
	}
	showSPs := func(stdout io.Writer, f *clientFlags, data []byte, list bool) error {
		if f.output == "json" {
			return printJSON(stdout, data)
		}
		type sp struct {
			AppID, ID, DisplayName string
			CreatedDateTime        string
			PasswordCredentials    []struct{ Hint string }
		}
		var items []sp
		if list {
			var page struct{ Value []sp }
			if err := json.Unmarshal(data, &page); err != nil {
				return err
			}
			items = page.Value
		} else {
			var one sp
			if err := json.Unmarshal(data, &one); err != nil {
				return err
			}
			items = []sp{one}
		}
		var rows [][]string
		for _, s := range items {
			hint := ""
			if len(s.PasswordCredentials) > 0 {
				hint = s.PasswordCredentials[0].Hint + "…"
			}
			rows = append(rows, []string{s.DisplayName, s.AppID, s.ID, hint, s.CreatedDateTime})
		}
		return printTable(stdout, []string{"DISPLAY NAME", "APP ID", "OBJECT ID", "SECRET", "CREATED"}, rows)
	}
	cmds := []command{
		{name: "create", help: "Create a service principal and print its credentials once.\n\nThe output has the fields of `az ad sp create-for-rbac`: appId, password,\ntenant, displayName. Use them as AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and\nAZURE_TENANT_ID.\n\nExamples:\n  rekey sp create --name ci\n  rekey sp create --name ci --output json\n",
			flags: nameFlag,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("name", name); err != nil {
					return err
				}
				_, data, err := c.do(ctx, http.MethodPost, spPath(c), map[string]string{"displayName": name})
				if err != nil {
					return err
				}
				return printCreds(stdout, f, data)
			}},
		{name: "list", help: "List service principals.\n\nExample:\n  rekey sp list\n",
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				_, data, err := c.do(ctx, http.MethodGet, spPath(c), nil)
				if err != nil {
					return err
				}
				return showSPs(stdout, f, data, true)
			}},
		{name: "show", help: "Show a service principal (never its secret).\n\nExample:\n  rekey sp show --id 0a1b2c3d-...\n",
			flags: idFlag,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("id", appID); err != nil {
					return err
				}
				_, data, err := c.do(ctx, http.MethodGet, spPath(c)+"/"+url.PathEscape(appID), nil)
				if err != nil {
					return err
				}
				return showSPs(stdout, f, data, false)
			}},
		{name: "delete", help: "Delete a service principal; its tokens stop working when they expire.\n\nExample:\n  rekey sp delete --id 0a1b2c3d-...\n",
			flags: idFlag,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("id", appID); err != nil {
					return err
				}
				if _, _, err := c.do(ctx, http.MethodDelete, spPath(c)+"/"+url.PathEscape(appID), nil); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "Deleted service principal %s.\n", appID)
				return nil
			}},
		{name: "credential", help: "Reset a service principal's secret: rekey sp credential reset --id APPID.\n\nThe old secret stops working at once; the new one is printed once.\n\nExample:\n  rekey sp credential reset --id 0a1b2c3d-...\n",
			flags: idFlag,
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := required("id", appID); err != nil {
					return err
				}
				_, data, err := c.do(ctx, http.MethodPost, spPath(c)+"/"+url.PathEscape(appID)+"/credentials/reset", nil)
				if err != nil {
					return err
				}
				return printCreds(stdout, f, data)
			}},
	}
	// "sp credential reset": the verb follows the noun, as in az.
	if len(args) >= 2 && args[0] == "credential" {
		if args[1] != "reset" {
			return fmt.Errorf("%w: unknown command \"rekey sp credential %s\"; want: rekey sp credential reset --id APPID", errUsage, args[1])
		}
		args = append([]string{"credential"}, args[2:]...)
	}
	return dispatch(ctx, "sp", mlAPIVersion, cmds, args, getenv, stdout, stderr)
}

// runSigningKey is "rekey signing-key rotate".
func runSigningKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmds := []command{
		{name: "rotate", help: "Make a new token signing key current.\n\nNew tokens are signed with it within seconds, on every process sharing\nthe store; the old key stays published, and its tokens valid, until\nthey expire.\n\nExample:\n  rekey signing-key rotate\n",
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				_, data, err := c.do(ctx, http.MethodPost, c.base+"/rekey/v1/signingKeys/rotate", nil)
				if err != nil {
					return err
				}
				if f.output == "json" {
					return printJSON(stdout, data)
				}
				var k struct{ Kid string }
				json.Unmarshal(data, &k)
				fmt.Fprintf(stdout, "New signing key %s; the previous one stays published until its tokens expire.\n", k.Kid)
				return nil
			}},
	}
	return dispatch(ctx, "signing-key", mlAPIVersion, cmds, args, getenv, stdout, stderr)
}
