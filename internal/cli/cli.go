// Package cli is the rekey command: "rekey serve", which wires the stores,
// APIs and gateway together, and the client commands that talk to a
// running server. cmd/rekey's main only calls Run; the package is separate
// so that rekeytest can start the very same server in users' tests.
package cli

import (
	"context"
	"io"
)

// Run runs the rekey command line args (without the program name), with
// the environment read through getenv. It returns instead of exiting;
// main prints the error and exits with ExitCode(err).
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return run(ctx, args, getenv, stdin, stdout, stderr)
}

// ExitCode is the process exit status for an error Run returned: 2 for a
// mistake in the command line, 1 otherwise.
func ExitCode(err error) int { return exitCode(err) }
