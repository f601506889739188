//go:build !unix

package cli

import "log/slog"

// warnFDLimit has no limit to check on this platform.
func warnFDLimit(*serveConfig, *slog.Logger) {}
