package reqinfo_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey/reqinfo"
)

func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(reqinfo.LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx := reqinfo.With(context.Background(), &reqinfo.Info{ID: "req-1"})
	logger.InfoContext(ctx, "in a request")
	logger.LogAttrs(ctx, slog.LevelWarn, "names its own", slog.String("request_id", "req-2"))
	logger.Info("outside a request")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{`"request_id":"req-1"`, `"request_id":"req-2"`, ""} {
		if n := strings.Count(lines[i], `"request_id"`); want == "" && n != 0 || want != "" && (n != 1 || !strings.Contains(lines[i], want)) {
			t.Errorf("line %d = %s; want request_id %q once", i, lines[i], want)
		}
	}
	reqinfo.SetOperation(context.Background(), "ignored outside a request") // must not panic
	info := &reqinfo.Info{}
	reqinfo.SetOperation(reqinfo.With(context.Background(), info), "GET /x")
	if info.Operation != "GET /x" {
		t.Errorf("Operation = %q", info.Operation)
	}
}
