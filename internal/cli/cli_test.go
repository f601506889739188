package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func goldenText(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		os.WriteFile(path, []byte(got), 0o644)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/cli -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (-update to accept):\n--- got\n%s--- want\n%s", name, got, want)
	}
}

// cli runs the rekey command line in-process.
func cli(t *testing.T, getenv func(string) string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, getenv, nil, &out, &errb)
	return out.String(), errb.String(), err
}

func TestHelpAndUsage(t *testing.T) {
	out, _, err := cli(t, envOf(), "help")
	if err != nil {
		t.Fatal(err)
	}
	goldenText(t, "help", out)
	if _, _, err := cli(t, envOf(), "frobnicate"); !errors.Is(err, errUsage) || exitCode(err) != 2 {
		t.Errorf("unknown command error = %v (exit %d), want a usage error, exit 2", err, exitCode(err))
	}
	out, _, err = cli(t, envOf(), "serve", "-h")
	if err != nil || !strings.Contains(out, "--operation-delay") && !strings.Contains(out, "-operation-delay") || !strings.Contains(out, "Examples:") {
		t.Errorf("serve -h = %v, stdout %q; want flags and examples", err, out)
	}
	out, _, err = cli(t, envOf(), "keys", "regenerate", "-h")
	if err != nil || !strings.Contains(out, "-key-type") {
		t.Errorf("keys regenerate -h = %v, %q; want its flags", err, out)
	}
	out, _, _ = cli(t, envOf(), "version")
	if !strings.HasPrefix(out, "rekey ") {
		t.Errorf("version = %q", out)
	}
}

func TestServeConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--listen", "nonsense"}, "--listen"},
		{nil, []string{"--tls-cert", "x.pem"}, "--tls-key"},
		{nil, []string{"--operation-delay", "-1s"}, "--operation-delay"},
		{nil, []string{"--aml-token-lifetime", "10s"}, "--aml-token-lifetime"},
		{[]string{"REKEY_AML_TOKEN_LIFETIME", "a day"}, nil, "REKEY_AML_TOKEN_LIFETIME"},
		{nil, []string{"--gateway-url", "ftp://x"}, "--gateway-url"},
		{nil, []string{"--log-format", "xml"}, "--log-format"},
		{[]string{"REKEY_OPERATION_DELAY", "soon"}, nil, "REKEY_OPERATION_DELAY"},
		{[]string{"REKEY_INSECURE_HTTP", "maybe"}, nil, "REKEY_INSECURE_HTTP"},
		{nil, []string{"--operation-retention", "10s"}, "--operation-retention"},
		{nil, []string{"--usage-retention", "-1h"}, "--usage-retention"},
		{nil, []string{"--audit-retention", "-1h"}, "--audit-retention"},
		{[]string{"REKEY_OPERATION_RETENTION", "7 days"}, nil, "REKEY_OPERATION_RETENTION"},
		{[]string{"REKEY_MASTER_KEY", "c2hvcnQ="}, []string{"--data", t.TempDir(), "--listen", "127.0.0.1:0"}, "REKEY_MASTER_KEY"},
		{nil, []string{"--database", "mysql://u:p@db/rekey"}, "--database"},
		{[]string{"REKEY_DATABASE_URL", "rekey.db"}, nil, "--database"},
		{nil, []string{"--database", "postgres://db/rekey", "--in-memory"}, "--in-memory"},
	} {
		_, _, err := cli(t, envOf(tt.env...), append([]string{"serve"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("serve %v %v = %v, want an error naming %s", tt.env, tt.args, err, tt.want)
		}
	}
}

// TestCLIAgainstServer drives a running server with the CLI, as the README
// quickstart does.
func TestCLIAgainstServer(t *testing.T) {
	s := startServer(t, "")
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir, "REKEY_RESOURCE_GROUP", "cli")
	step := func(golden string, args ...string) string {
		t.Helper()
		out, stderr, err := cli(t, env, args...)
		if err != nil {
			t.Fatalf("rekey %v: %v\n%s", args, err, stderr)
		}
		if golden != "" {
			goldenText(t, golden, strings.ReplaceAll(out, s.Gateway, "http://GATEWAY"))
		}
		return out
	}
	step("cli_workspace_create", "workspace", "create", "--name", "ws1", "--location", "westeurope")
	step("cli_endpoint_create", "endpoint", "create", "--workspace", "ws1", "--name", "my-endpoint")
	step("", "endpoint", "create", "--workspace", "ws1", "--name", "tok-endpoint", "--auth-mode", "AMLToken")
	step("cli_endpoint_list", "endpoint", "list", "--workspace", "ws1")

	var before struct{ PrimaryKey, SecondaryKey string }
	json.Unmarshal([]byte(step("", "keys", "list", "--workspace", "ws1", "--endpoint", "my-endpoint", "--output", "json")), &before)
	if before.PrimaryKey == "" || before.SecondaryKey == "" {
		t.Fatalf("keys list --output json gave no keys")
	}
	step("cli_keys_regenerate", "keys", "regenerate", "--workspace", "ws1", "--endpoint", "my-endpoint", "--key-type", "primary")
	var after struct{ PrimaryKey, SecondaryKey string }
	json.Unmarshal([]byte(step("", "keys", "list", "--workspace", "ws1", "--endpoint", "my-endpoint", "--output", "json")), &after)
	if after.PrimaryKey == before.PrimaryKey || after.SecondaryKey != before.SecondaryKey {
		t.Errorf("after keys regenerate --key-type primary: primary changed %v, secondary kept %v; want true, true",
			after.PrimaryKey != before.PrimaryKey, after.SecondaryKey == before.SecondaryKey)
	}
	table := step("", "keys", "list", "--workspace", "ws1", "--endpoint", "my-endpoint")
	if !strings.Contains(table, after.PrimaryKey) || !strings.HasPrefix(table, "SLOT") {
		t.Errorf("keys list table = %q", table)
	}
	step("", "keys", "regenerate", "--workspace", "ws1", "--endpoint", "my-endpoint", "--key-type", "Secondary", "--key-value", "cli-chosen-secondary-key-01")
	json.Unmarshal([]byte(step("", "keys", "list", "--workspace", "ws1", "--endpoint", "my-endpoint", "--output", "json")), &after)
	if after.SecondaryKey != "cli-chosen-secondary-key-01" {
		t.Errorf("secondary after --key-value is not the chosen value")
	}
	if out := step("", "token", "get", "--workspace", "ws1", "--endpoint", "tok-endpoint", "--output", "json"); !strings.Contains(out, `"accessToken"`) {
		t.Errorf("token get = %q", out)
	}

	// Server errors come back as readable messages.
	_, _, err := cli(t, env, "keys", "regenerate", "--workspace", "ws1", "--endpoint", "my-endpoint", "--key-type", "primary", "--key-value", "short")
	if err == nil || !strings.Contains(err.Error(), "BadArgument") || !strings.Contains(err.Error(), "16 to 256") {
		t.Errorf("regenerate with a short key = %v, want the server's BadArgument message", err)
	}
	if _, _, err := cli(t, env, "keys", "regenerate", "--workspace", "ws1", "--endpoint", "my-endpoint", "--key-type", "tertiary"); !errors.Is(err, errUsage) {
		t.Errorf("--key-type tertiary = %v, want a usage error", err)
	}
	if _, _, err := cli(t, env, "endpoint", "show", "--workspace", "ws1"); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--name") {
		t.Errorf("endpoint show without --name = %v, want a usage error naming --name", err)
	}
	if _, _, err := cli(t, envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir, "REKEY_TOKEN", "wrong-token-xxxxxxxx"), "workspace", "list"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token = %v, want a 401", err)
	}

	step("cli_endpoint_delete", "endpoint", "delete", "--workspace", "ws1", "--name", "my-endpoint")
	step("cli_endpoint_delete_again", "endpoint", "delete", "--workspace", "ws1", "--name", "my-endpoint")
	step("cli_workspace_delete", "workspace", "delete", "--name", "ws1")
}

// TestCLIAccountsAndQnA follows the README's QnA quickstart with the CLI.
func TestCLIAccountsAndQnA(t *testing.T) {
	// account create waits for the asynchronous creation, so it shows the
	// account Succeeded even with an operation delay.
	s := startServer(t, "", "--operation-delay", "300ms")
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir, "REKEY_RESOURCE_GROUP", "cli")
	step := func(golden string, args ...string) string {
		t.Helper()
		out, stderr, err := cli(t, env, args...)
		if err != nil {
			t.Fatalf("rekey %v: %v\n%s", args, err, stderr)
		}
		if golden != "" {
			goldenText(t, golden, strings.ReplaceAll(out, s.URL, "https://SERVER"))
		}
		return out
	}
	step("cli_account_create", "account", "create", "--name", "my-qna", "--qna-runtime-endpoint", "http://127.0.0.1:8000")
	step("cli_account_list", "account", "list")
	var keys struct{ Key1, Key2 string }
	json.Unmarshal([]byte(step("", "account", "keys", "list", "--name", "my-qna", "--output", "json")), &keys)
	if len(keys.Key1) != 32 {
		t.Fatalf("account keys list gave key1 of %d characters", len(keys.Key1))
	}

	qenv := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir, "REKEY_QNA_KEY", keys.Key1)
	qna := func(args ...string) (d struct{ PrimaryEndpointKey, SecondaryEndpointKey string }) {
		t.Helper()
		out, stderr, err := cli(t, qenv, append(args, "--output", "json")...)
		if err != nil {
			t.Fatalf("rekey %v: %v\n%s", args, err, stderr)
		}
		json.Unmarshal([]byte(out), &d)
		return d
	}
	before := qna("qna", "keys", "show")
	after := qna("qna", "keys", "refresh", "--key-type", "secondary", "--qna-version", "v4.0")
	if before.SecondaryEndpointKey == after.SecondaryEndpointKey || before.PrimaryEndpointKey != after.PrimaryEndpointKey || after.PrimaryEndpointKey == "" {
		t.Errorf("qna keys refresh secondary: secondary changed %v, primary kept %v", before.SecondaryEndpointKey != after.SecondaryEndpointKey, before.PrimaryEndpointKey == after.PrimaryEndpointKey)
	}

	var regen struct{ Key1, Key2 string }
	json.Unmarshal([]byte(step("", "account", "keys", "regenerate", "--name", "my-qna", "--key-name", "key1", "--output", "json")), &regen)
	if regen.Key1 == keys.Key1 || regen.Key2 != keys.Key2 {
		t.Errorf("account keys regenerate key1: key1 changed %v, key2 kept %v", regen.Key1 != keys.Key1, regen.Key2 == keys.Key2)
	}
	if _, _, err := cli(t, qenv, "qna", "keys", "show"); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("qna keys show with the old key1 = %v, want Unauthorized", err)
	}
	if _, _, err := cli(t, qenv, "qna", "keys", "refresh", "--key-type", "tertiary"); !errors.Is(err, errUsage) {
		t.Errorf("--key-type tertiary = %v, want a usage error", err)
	}
	step("cli_account_delete", "account", "delete", "--name", "my-qna")
}

// TestCLIGatewayQuickstart: put rekey in front of a model server with the
// CLI, call it, and see which key slot is in use.
func TestCLIGatewayQuickstart(t *testing.T) {
	model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok":true}`) }))
	defer model.Close()
	s := startServer(t, "", "--usage-flush", "20ms")
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir, "REKEY_RESOURCE_GROUP", "cli")
	run := func(args ...string) string {
		t.Helper()
		out, stderr, err := cli(t, env, args...)
		if err != nil {
			t.Fatalf("rekey %v: %v\n%s", args, err, stderr)
		}
		return out
	}
	run("workspace", "create", "--name", "ws1")
	run("endpoint", "create", "--workspace", "ws1", "--name", "llm")
	out := run("deployment", "create", "--workspace", "ws1", "--endpoint", "llm", "--name", "blue", "--upstream", model.URL)
	if !strings.Contains(out, "Succeeded") || !strings.Contains(out, model.URL) {
		t.Errorf("deployment create = %q", out)
	}
	if _, _, err := cli(t, env, "endpoint", "traffic", "--workspace", "ws1", "--name", "llm", "--set", "green=100"); err == nil || !strings.Contains(err.Error(), "green") {
		t.Errorf("traffic to a missing deployment = %v, want the server's error naming it", err)
	}
	run("endpoint", "traffic", "--workspace", "ws1", "--name", "llm", "--set", "blue=100")
	var keys struct{ SecondaryKey string }
	json.Unmarshal([]byte(run("keys", "list", "--workspace", "ws1", "--endpoint", "llm", "--output", "json")), &keys)
	for range 3 {
		req, _ := http.NewRequest("POST", s.Gateway+"/endpoints/llm/score", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+keys.SecondaryKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("scoring = %v, %v", resp, err)
		}
		resp.Body.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := run("keys", "usage", "--workspace", "ws1", "--endpoint", "llm")
		if strings.Contains(out, "secondary  3 ") && strings.Contains(out, "primary    0 ") && strings.Contains(out, "never") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys usage = %q, want secondary used 3 times and primary never", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := run("deployment", "list", "--workspace", "ws1", "--endpoint", "llm"); !strings.Contains(out, "blue") {
		t.Errorf("deployment list = %q", out)
	}
}
