//go:build unix

package cli

import (
	"log/slog"
	"syscall"
)

// warnFDLimit warns when the connection ceilings can outgrow the process's
// file descriptor limit (Go raises the soft limit to the hard one at
// start): accept then fails with "too many open files" before the ceiling
// is reached, and upstream connections and the database fail with it.
func warnFDLimit(c *serveConfig, logger *slog.Logger) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return
	}
	need := uint64(64) // database, listeners, logs
	if c.management() {
		if c.MaxConnections == 0 {
			return
		}
		need += uint64(c.MaxConnections)
	}
	if c.gateway() {
		if c.GatewayMaxConnections == 0 {
			return
		}
		need += 2 * uint64(c.GatewayMaxConnections) // each may hold an upstream connection too
	}
	if need > lim.Cur {
		logger.Warn("the connection ceilings can exceed the open-file limit: raise it (ulimit -n) or lower --max-connections and --gateway-max-connections",
			"open_file_limit", lim.Cur, "needed", need)
	}
}
