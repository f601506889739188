package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

const resetHelp = `Usage: rekey reset [--yes] [flags]

Removes every workspace, endpoint, deployment, account, key, operation
and usage count from the server, which then answers as a new one. The
server's identity stays: its CA, the admin token, the tenant, the token
service's signing keys and service principals, so connected clients keep
working. The gateway refuses every old key at once.

On a terminal it asks first; otherwise it refuses to run without --yes.

Examples:
  rekey reset
  rekey reset --yes --data /tmp/rekey-123456     # in a CI script
`

// runReset is "rekey reset": POST /rekey/v1/reset after a confirmation.
func runReset(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reset", flag.ContinueOnError)
	cf := bindClient(fs, getenv, mlAPIVersion)
	yes := fs.Bool("yes", false, "reset without asking")
	if err := parseFlags(fs, args, stderr, resetHelp); err != nil {
		return helpOK(err)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	if !*yes {
		if !isTerminal(stdin) {
			return fmt.Errorf("%w: refusing to reset %s without --yes: standard input is not a terminal to confirm on", errUsage, c.base)
		}
		fmt.Fprintf(stderr, "Remove every resource, key, operation and usage count from %s? [y/N] ", c.base)
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return fmt.Errorf("reset cancelled: nothing was removed")
		}
	}
	if _, _, err := c.do(ctx, http.MethodPost, c.base+"/rekey/v1/reset", nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Reset %s: every resource, key, operation and usage count is gone; the CA, admin token, tenant, signing keys and service principals stay.\n", c.base)
	return nil
}

// isTerminal reports whether r is a terminal (a character device), where
// a person can answer a question.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok || f == nil {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
