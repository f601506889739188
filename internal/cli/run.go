package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"
)

const usage = `rekey serves Azure's endpoint-key APIs (Azure Machine Learning online
endpoints, QnA Maker endpoint keys and their Cognitive Services accounts)
so that unmodified Azure SDKs, CLIs and curl can drive them.

Usage:
  rekey <command> [flags]

Server:
  serve        run the management API (HTTPS on 127.0.0.1:7443) and the
               data-plane gateway (HTTP on 127.0.0.1:7080)

Client (talks to a running server; defaults come from ./rekey-data):
  workspace    create, list, show and delete workspaces
  endpoint     create, list, show and delete online endpoints; set traffic
  deployment   create, list and delete deployments (the upstream behind an endpoint)
  keys         list, regenerate and see the usage of an endpoint's keys
  token        get a token for an AMLToken endpoint
  account      create, list, show and delete Cognitive Services accounts;
               account keys list|regenerate|usage
  qna          QnA Maker endpoint keys: qna keys show|refresh
  sp           service principals of the token service: create, list, show,
               delete, credential reset
  signing-key  rotate the token service's signing key
  reset        remove every resource, key, operation and usage count;
               keep the server's identity (asks first; --yes in scripts)
  fault        make the server fail on purpose: fault add|list|delete|clear

Other:
  version      print the version
  help         print this help

Run "rekey <command> -h" for a command's flags and examples.
`

// errUsage marks an error that was a mistake in the command line.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// run is the whole program; main only calls it. It returns instead of
// exiting, so tests drive it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "workspace", "workspaces":
		return runWorkspace(ctx, rest, getenv, stdout, stderr)
	case "endpoint", "endpoints", "online-endpoint":
		return runEndpoint(ctx, rest, getenv, stdout, stderr)
	case "keys":
		return runKeys(ctx, rest, getenv, stdout, stderr)
	case "token":
		return runToken(ctx, rest, getenv, stdout, stderr)
	case "deployment", "deployments":
		return runDeployment(ctx, rest, getenv, stdout, stderr)
	case "account", "accounts":
		return runAccount(ctx, rest, getenv, stdout, stderr)
	case "qna":
		return runQnA(ctx, rest, getenv, stdout, stderr)
	case "sp":
		return runSP(ctx, rest, getenv, stdout, stderr)
	case "signing-key":
		return runSigningKey(ctx, rest, getenv, stdout, stderr)
	case "reset":
		return runReset(ctx, rest, getenv, stdin, stdout, stderr)
	case "fault", "faults":
		return runFault(ctx, rest, getenv, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "rekey", version())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// parseFlags parses a subcommand's flags; -h prints its usage and returns
// flag.ErrHelp, which callers pass up as success.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, help string) error {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// helpOK turns a -h request into success.
func helpOK(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
