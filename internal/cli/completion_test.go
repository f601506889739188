package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestCompletionBash: the bash script parses (bash -n) and, sourced,
// completes subcommands, nested groups, aliases and flags from the
// command table.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	out, _, err := cli(t, envOf(), "completion", "bash")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "rekey.bash")
	if err := os.WriteFile(script, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(bash, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, msg)
	}
	for _, tt := range []struct {
		words []string // the last one is being completed
		want  string   // one of the completions
		not   string   // must not be offered
	}{
		{[]string{""}, "serve", ""},
		{[]string{"comp"}, "completion", "serve"},
		{[]string{"account", "keys", "re"}, "regenerate", ""},
		{[]string{"workspaces", "create", "--na"}, "--name", ""},                     // an alias
		{[]string{"endpoint", "create", "--name", "ep1", "--wo"}, "--workspace", ""}, // a flag's value is skipped
		{[]string{"serve", "--gateway-l"}, "--gateway-listen", ""},
		{[]string{"keys", ""}, "regenerate", "create"},
		{[]string{"completion", ""}, "fish", ""},
		{[]string{"db", ""}, "copy", ""},
		{[]string{"db", "copy", "--fr"}, "--from", ""},
		{[]string{"role", "assignment", "create", "--as"}, "--assignee", ""},
		{[]string{"audit", "list", "--si"}, "--since", ""},
	} {
		words := append([]string{"rekey"}, tt.words...)
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = shellQuote(w)
		}
		prog := "source " + shellQuote(script) + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
			strconv.Itoa(len(words)-1) + "; _rekey; printf '%s\\n' \"${COMPREPLY[@]}\""
		got, err := exec.Command(bash, "-c", prog).Output()
		if err != nil {
			t.Fatalf("%v: %v", tt.words, err)
		}
		lines := strings.Fields(string(got))
		if !slices.Contains(lines, tt.want) || tt.not != "" && slices.Contains(lines, tt.not) {
			t.Errorf("completing %q: %v; want %q offered and %q not", tt.words, lines, tt.want, tt.not)
		}
	}
}

// TestCompletionZshFish: the zsh and fish scripts parse, where those
// shells are installed.
func TestCompletionZshFish(t *testing.T) {
	for _, sh := range []string{"zsh", "fish"} {
		t.Run(sh, func(t *testing.T) {
			out, _, err := cli(t, envOf(), "completion", sh)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "workspace") || !strings.Contains(out, "gateway-listen") {
				t.Fatalf("the %s script lacks commands or flags", sh)
			}
			path, err := exec.LookPath(sh)
			if err != nil {
				t.Skipf("no %s to parse the script with", sh)
			}
			script := filepath.Join(t.TempDir(), "rekey."+sh)
			if err := os.WriteFile(script, []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}
			if msg, err := exec.Command(path, "-n", script).CombinedOutput(); err != nil {
				t.Fatalf("%s -n: %v\n%s", sh, err, msg)
			}
		})
	}
	if _, _, err := cli(t, envOf(), "completion", "powershell"); err == nil {
		t.Errorf("completion powershell succeeded; want a usage error")
	}
}
