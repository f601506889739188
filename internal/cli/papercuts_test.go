package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestSubcommandHelpOnStdout: "rekey x -h | less" shows the help, and
// asking for it is a success.
func TestSubcommandHelpOnStdout(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "-h"},
		{"serve", "--help"},
		{"keys", "regenerate", "-h"},
		{"endpoint", "traffic", "-h"},
		{"account", "keys", "list", "-h"},
		{"token", "get", "-h"},
		{"sp", "create", "-h"},
	} {
		out, stderr, err := cli(t, envOf(), args...)
		if err != nil || stderr != "" || !strings.HasPrefix(out, "Usage: rekey ") || !strings.Contains(out, "Flags:") {
			t.Errorf("rekey %v = %v, stdout %.60q, stderr %.60q; want the usage and flags on stdout only", args, err, out, stderr)
		}
	}
	// A mistake still prints the usage on stderr, and fails.
	out, stderr, err := cli(t, envOf(), "keys", "list", "--no-such-flag")
	if !errors.Is(err, errUsage) || out != "" || !strings.Contains(stderr, "Usage: rekey keys list") {
		t.Errorf("bad flag = %v, stdout %q, stderr %.60q; want a usage error with the usage on stderr", err, out, stderr)
	}
}

// TestServeHelpDescribesBothListeners: serve --help names the gateway and
// the management API, and the main flags.
func TestServeHelpDescribesBothListeners(t *testing.T) {
	out, _, err := cli(t, envOf(), "serve", "--help")
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(out, "\nFlags:")
	for _, want := range []string{"management API", "gateway", "--listen", "--gateway-listen", "--data", "--role", "server.json", "Examples:"} {
		if !strings.Contains(head, want) {
			t.Errorf("serve --help (before the flag list) lacks %q", want)
		}
	}
}

// TestMissingSubcommandNamesTheRealForm: "rekey token --workspace ws1"
// means "rekey token get --workspace ws1", and the error says so.
func TestMissingSubcommandNamesTheRealForm(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "--workspace", "ws1", "--endpoint", "e"}, "rekey token get --workspace ws1 --endpoint e"},
		{[]string{"endpoint", "--workspace", "ws1"}, "rekey endpoint <create|update|traffic|list|show|delete> --workspace ws1"},
		{[]string{"keys", "frobnicate"}, `unknown command "rekey keys frobnicate"`},
	} {
		_, _, err := cli(t, envOf(), tt.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("rekey %v = %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
}

// TestCLIGracePeriodAndMirror: the grace period and mirroring are set with
// flags, and endpoint show's table shows the split, the mirror and the
// grace period.
func TestCLIGracePeriodAndMirror(t *testing.T) {
	s := startServer(t, "")
	env := envOf("REKEY_DATA", s.DataDir)
	run := func(args ...string) string {
		t.Helper()
		out, stderr, err := cli(t, env, args...)
		if err != nil {
			t.Fatalf("rekey %v: %v\n%s", args, err, stderr)
		}
		return out
	}
	grace := func(args ...string) string {
		t.Helper()
		var ep struct {
			Properties struct{ Properties map[string]string }
		}
		json.Unmarshal([]byte(run(append(args, "--output", "json")...)), &ep)
		return ep.Properties.Properties["rekey.keyGracePeriod"]
	}
	run("workspace", "create", "--name", "ws1")
	if got := grace("endpoint", "create", "--workspace", "ws1", "--name", "ep", "--grace-period", "5m"); got != "5m" {
		t.Errorf("endpoint create --grace-period 5m: grace = %q, want 5m", got)
	}
	if got := grace("endpoint", "update", "--workspace", "ws1", "--name", "ep", "--grace-period", "0"); got != "" {
		t.Errorf("endpoint update --grace-period 0: grace = %q, want none", got)
	}
	if got := grace("endpoint", "update", "--workspace", "ws1", "--name", "ep", "--grace-period", "90s"); got != "90s" {
		t.Errorf("endpoint update --grace-period 90s: grace = %q, want 90s", got)
	}
	if _, _, err := cli(t, env, "endpoint", "update", "--workspace", "ws1", "--name", "ep", "--grace-period", "soon"); !errors.Is(err, errUsage) {
		t.Errorf("--grace-period soon = %v, want a usage error", err)
	}
	if _, _, err := cli(t, env, "endpoint", "update", "--workspace", "ws1", "--name", "ep", "--grace-period", "48h"); err == nil || !strings.Contains(err.Error(), "24h") {
		t.Errorf("--grace-period 48h = %v, want the server's range error", err)
	}

	for _, d := range []string{"blue", "green"} {
		run("deployment", "create", "--workspace", "ws1", "--endpoint", "ep", "--name", d, "--upstream", "http://127.0.0.1:9")
	}
	run("endpoint", "traffic", "--workspace", "ws1", "--name", "ep", "--set", "blue=100", "--mirror", "green=10")
	table := run("endpoint", "show", "--workspace", "ws1", "--name", "ep")
	header, row, _ := strings.Cut(table, "\n")
	for _, want := range []string{"TRAFFIC", "MIRROR", "GRACE"} {
		if !strings.Contains(header, want) {
			t.Errorf("endpoint show header = %q, want a %s column", header, want)
		}
	}
	for _, want := range []string{"blue=100", "green=10", "90s"} {
		if !strings.Contains(row, want) {
			t.Errorf("endpoint show = %q, want %s in it", row, want)
		}
	}
	// --mirror alone keeps the split; none stops mirroring.
	var ep struct {
		Properties struct{ Traffic, MirrorTraffic map[string]int }
	}
	json.Unmarshal([]byte(run("endpoint", "traffic", "--workspace", "ws1", "--name", "ep", "--mirror", "none", "--output", "json")), &ep)
	if ep.Properties.Traffic["blue"] != 100 || len(ep.Properties.MirrorTraffic) != 0 && ep.Properties.MirrorTraffic["green"] != 0 {
		t.Errorf("after --mirror none: traffic %v, mirror %v; want blue=100 and no mirror", ep.Properties.Traffic, ep.Properties.MirrorTraffic)
	}
	if _, _, err := cli(t, env, "endpoint", "traffic", "--workspace", "ws1", "--name", "ep"); !errors.Is(err, errUsage) {
		t.Errorf("traffic without --set or --mirror = %v, want a usage error", err)
	}

	// Accounts: the grace period is the tag rekey.keyGracePeriod.
	tag := func(args ...string) string {
		t.Helper()
		var a struct{ Tags map[string]string }
		json.Unmarshal([]byte(run(append(args, "--output", "json")...)), &a)
		return a.Tags["rekey.keyGracePeriod"]
	}
	if got := tag("account", "create", "--name", "qna", "--qna-runtime-endpoint", "http://127.0.0.1:9", "--grace-period", "5m"); got != "5m" {
		t.Errorf("account create --grace-period 5m: tag = %q, want 5m", got)
	}
	if got := tag("account", "update", "--name", "qna", "--grace-period", "0"); got != "" {
		t.Errorf("account update --grace-period 0: tag = %q, want none", got)
	}
	if got := tag("account", "update", "--name", "qna", "--grace-period", "2m"); got != "2m" {
		t.Errorf("account update --grace-period 2m: tag = %q, want 2m", got)
	}
}
