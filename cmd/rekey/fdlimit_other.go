//go:build !unix

package main

import "log/slog"

// warnFDLimit has no limit to check on this platform.
func warnFDLimit(*serveConfig, *slog.Logger) {}
