package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/seed"
)

// loadSeed reads and checks the --seed file ("" for none), so that a
// file with errors stops the start before the data directory is touched.
func loadSeed(path string) (*seed.File, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--seed: %w", err)
	}
	f, err := seed.Parse(filepath.Base(path), data)
	if err != nil {
		return nil, seedRefused(filepath.Base(path), err)
	}
	return f, nil
}

// seedRefused turns a seed file's problems into one error that lists them.
func seedRefused(name string, err error) error {
	var errs seed.Errors
	if !errors.As(err, &errs) {
		return fmt.Errorf("--seed %s: %w", name, err)
	}
	return fmt.Errorf("%s: %d problem(s); nothing was applied:\n%w", name, len(errs), errs)
}

// applySeed applies the --seed file at start: after migrations, before
// any listener serves, so the first request sees the seeded resources.
func applySeed(ctx context.Context, f *seed.File, store rekey.Store, keyring *rekey.Keyring, logger *slog.Logger, stdout io.Writer) error {
	if f == nil {
		return nil
	}
	// No Wake: the operation runner is not started yet, and finishes the
	// seed's operations when it starts.
	res, err := (&seed.Applier{Store: store, Keyring: keyring, Logger: logger}).Apply(ctx, f)
	if err != nil {
		return seedRefused(f.Name, err)
	}
	fmt.Fprintf(stdout, "rekey: seeded from %s: %s\n", f.Name, seedCounts(res))
	for _, o := range res.Resources {
		if len(o.Generated) > 0 {
			fmt.Fprintf(stdout, "  %s %s: generated %s; read them with: %s\n", o.Type, o.Name, strings.Join(o.Generated, ", "), o.ReadKeys)
		}
		if len(o.Kept) > 0 {
			fmt.Fprintf(stdout, "  %s %s: %s\n", o.Type, o.Name, keptNote(o.Kept))
		}
	}
	return nil
}

// keptNote says why chosen keys were not applied.
func keptNote(kept []string) string {
	return "kept the " + strings.Join(kept, ", ") + " in force: a seed sets chosen keys and secrets only when it creates the resource, so a rotated key never comes back (an endpoint's key can be set with rekey keys regenerate --key-value; account and QnA keys can only be regenerated; a secret is reset with rekey sp credential reset)"
}

func seedCounts(r *seed.Result) string {
	return fmt.Sprintf("%d created, %d updated, %d unchanged", r.Created, r.Updated, r.Unchanged)
}

const applyHelp = `Usage: rekey apply [flags] FILE

Applies a seed file (YAML or JSON) to a running server: the workspaces,
online endpoints (with chosen or generated keys, deployments and traffic),
Cognitive Services accounts and service principals it declares are created,
or updated where they differ from the file. Applying the same file again
changes nothing. A file with errors is refused whole, with every error and
its line; nothing of it is applied. Keys are never printed: where rekey
generated some, the output names the command that prints them.

See examples/seed.yaml for the format. rekey serve --seed FILE applies a
file at start. The file names its own subscription and resource group
(default: 00000000-0000-0000-0000-000000000000 and rekey); --subscription,
--resource-group and --api-version do not change it.

Examples:
  rekey apply examples/seed.yaml
  rekey apply --output json seed.json
`

// runApply is "rekey apply FILE": POST /rekey/v1/apply with the file.
func runApply(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	cf := bindClient(fs, getenv, mlAPIVersion)
	// The file may come before or after the flags.
	var file string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		file, args = args[0], args[1:]
	}
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stdout, applyHelp)
		fmt.Fprintln(stdout, "\nFlags:")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if file == "" && fs.NArg() > 0 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q: rekey apply takes one file", errUsage, fs.Arg(0))
	}
	if file == "" || fs.NArg() > 1 {
		fmt.Fprint(stderr, applyHelp)
		return fmt.Errorf("%w: rekey apply needs one seed FILE, e.g. rekey apply examples/seed.yaml", errUsage)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	name := filepath.Base(file)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/rekey/v1/apply?name="+url.QueryEscape(name), bytes.NewReader(data))
	if err != nil {
		return err
	}
	if c.token == "" {
		return fmt.Errorf("no admin token: set REKEY_TOKEN or --token, or point --data at the server's data directory")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/yaml")
	_, body, err := c.send(req)
	var apiErr *apiError
	if errors.As(err, &apiErr) && apiErr.Code == "InvalidSeedFile" {
		var env struct {
			Error struct {
				Details []struct{ Message string } `json:"details"`
			} `json:"error"`
		}
		json.Unmarshal(body, &env)
		for _, d := range env.Error.Details {
			fmt.Fprintln(stderr, d.Message)
		}
		return errors.New(apiErr.Message)
	}
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return printJSON(stdout, body)
	}
	var res seed.Result
	if err := json.Unmarshal(body, &res); err != nil {
		return err
	}
	var rows [][]string
	for _, o := range res.Resources {
		note := ""
		if len(o.Generated) > 0 {
			note = "generated " + strings.Join(o.Generated, ", ") + "; read them with: " + o.ReadKeys
		}
		if len(o.Kept) > 0 {
			note = strings.TrimPrefix(note+"; "+keptNote(o.Kept), "; ")
		}
		rows = append(rows, []string{o.Action, o.Type, o.Name, note})
	}
	if err := printTable(stdout, []string{"ACTION", "TYPE", "NAME", "NOTE"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s\n", res.File, seedCounts(&res))
	return nil
}
