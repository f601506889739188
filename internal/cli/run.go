package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"slices"
	"strings"
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

Client (talks to a running server, found through --data, default
./rekey-data: its URL and CA in server.json, its admin token):
  workspace    create, list, show and delete workspaces
  endpoint     create, update, list, show and delete online endpoints;
               set traffic and mirroring
  deployment   create, list and delete deployments (the upstream behind an endpoint)
  keys         list, regenerate and see the usage of an endpoint's keys
  token        get a token for an AMLToken endpoint
  account      create, update, list, show and delete Cognitive Services accounts;
               account keys list|regenerate|usage
  qna          QnA Maker endpoint keys: qna keys show|refresh
  sp           service principals of the token service: create, list, show,
               delete, credential reset
  role         roles as Azure RBAC has them: role assignment create|list|delete,
               role definition list (a new service principal may do nothing
               until it is assigned a role)
  signing-key  rotate the token service's signing key
  apply        apply a seed file (YAML or JSON): workspaces, endpoints, keys,
               deployments, accounts, service principals; idempotent
  reset        remove every resource, key, operation and usage count;
               keep the server's identity (asks first; --yes in scripts)
  fault        make the server fail on purpose: fault add|list|delete|clear
  audit        the audit log: who read or rotated which key, and when
               (audit list)

Other:
  db           db copy: move an installation between SQLite and PostgreSQL
  healthcheck  ask a running server on this machine whether it is ready
  completion   print a shell completion script: bash, zsh or fish
  version      print the version
  help         print this help

Run "rekey <command> -h" for a command's flags and examples.
`

// topCommand is one of rekey's commands. The table drives dispatch and
// shell completion.
type topCommand struct {
	name    string
	aliases []string
	run     func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
	// flags binds the flags of a command without subcommands (for
	// completion); commands with subcommands describe theirs through
	// dispatch, and groups lists nested command groups ("account keys").
	flags  func(fs *flag.FlagSet)
	groups []string
}

// commandTable lists rekey's commands. It is a function, not a variable,
// because "completion" reads it.
func commandTable() []topCommand {
	return []topCommand{
		{name: "serve", run: runServe, flags: func(fs *flag.FlagSet) { bindServe(fs, noEnv) }},
		{name: "workspace", aliases: []string{"workspaces"}, run: runWorkspace},
		{name: "endpoint", aliases: []string{"endpoints", "online-endpoint"}, run: runEndpoint},
		{name: "deployment", aliases: []string{"deployments"}, run: runDeployment},
		{name: "keys", run: runKeys},
		{name: "token", run: runToken},
		{name: "account", aliases: []string{"accounts"}, run: runAccount, groups: []string{"keys"}},
		{name: "qna", run: runQnA, groups: []string{"keys"}},
		{name: "sp", run: runSP},
		{name: "role", aliases: []string{"roles"}, run: runRole, groups: []string{"assignment", "definition"}},
		{name: "signing-key", run: runSigningKey},
		{name: "apply", run: runApply},
		{name: "fault", aliases: []string{"faults"}, run: runFault},
		{name: "audit", run: runAudit},
		{name: "reset", run: func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
			return runReset(ctx, args, getenv, stdinFrom(ctx), stdout, stderr)
		}},
		{name: "db", run: runDB},
		{name: "healthcheck", run: runHealthcheck, flags: func(fs *flag.FlagSet) { bindHealthcheck(fs, noEnv) }},
		{name: "completion", run: runCompletion, flags: func(*flag.FlagSet) {}},
		{name: "version", aliases: []string{"-version", "--version"}, flags: func(*flag.FlagSet) {},
			run: func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
				fmt.Fprintln(stdout, "rekey", version())
				return nil
			}},
		{name: "help", aliases: []string{"-h", "-help", "--help"}, flags: func(*flag.FlagSet) {},
			run: func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
				fmt.Fprint(stdout, usage)
				return nil
			}},
	}
}

type stdinKey struct{}

// stdinFrom returns the standard input run was given.
func stdinFrom(ctx context.Context) io.Reader {
	if r, ok := ctx.Value(stdinKey{}).(io.Reader); ok && r != nil {
		return r
	}
	return strings.NewReader("")
}

// noEnv is an empty environment.
func noEnv(string) string { return "" }

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
	ctx = context.WithValue(ctx, stdinKey{}, stdin) // for commands that ask (reset)
	for _, c := range commandTable() {
		if c.name == cmd || slices.Contains(c.aliases, cmd) {
			return c.run(ctx, rest, getenv, stdout, stderr)
		}
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// parseFlags parses a subcommand's flags. -h prints its usage on stdout
// (so that "rekey x -h | less" shows it) and returns flag.ErrHelp, which
// callers pass up as success; a mistake prints the usage on stderr.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, help string) error {
	usageTo := func(w io.Writer) {
		fmt.Fprint(w, help)
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fs.SetOutput(io.Discard) // the error is returned, and main prints it once
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usageTo(stdout)
			return err
		}
		usageTo(stderr)
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		usageTo(stderr)
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
