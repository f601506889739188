// Command rekey serves Azure's endpoint-key APIs for real, and is the
// command-line client for a running server. Run "rekey help".
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/rekey-dev/rekey/internal/cli"
)

func main() {
	if err := cli.Run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "rekey:", err)
		os.Exit(cli.ExitCode(err))
	}
}
