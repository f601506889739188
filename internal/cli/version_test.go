package cli

import (
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// TestReleaseMatchesChangelog: the release in the source is the top entry
// of CHANGELOG.md, so raising one without the other fails.
func TestReleaseMatchesChangelog(t *testing.T) {
	data, err := os.ReadFile("../../CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\]`).FindSubmatch(data)
	if m == nil {
		t.Fatal("CHANGELOG.md has no \"## [X.Y.Z]\" entry")
	}
	if got := string(m[1]); got != release {
		t.Errorf("CHANGELOG.md's top entry is %s, the source's release is %s", got, release)
	}
}

func TestVersionDescribe(t *testing.T) {
	for _, tt := range []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"no vcs (-buildvcs=false)", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			release + " go1.26.8"},
		{"clean checkout", debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "false"}}},
			release + " 0123456789ab go1.26.8"},
		{"uncommitted changes", debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}},
			release + " 0123456789ab+dirty go1.26.8"},
		{"go install of the release tag", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v" + release}},
			release + " go1.26.8"},
		{"go install of a commit", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261129220000-0123456789ab"}},
			release + " (module v0.0.0-20261129220000-0123456789ab) go1.26.8"},
	} {
		if got := describe(&tt.info); got != tt.want {
			t.Errorf("%s: describe = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestVersionCommand: "rekey version" prints the release.
func TestVersionCommand(t *testing.T) {
	out, _, err := cli(t, envOf(), "version")
	if err != nil || !strings.HasPrefix(out, "rekey "+release) {
		t.Errorf("rekey version = %q, %v; want it to start with %q", out, err, "rekey "+release)
	}
}
