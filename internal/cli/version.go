package cli

import (
	"runtime/debug"
	"strings"
)

// release is rekey's version. Raise it with each CHANGELOG.md entry; a
// test checks that the two agree.
const release = "0.2.0"

// version is the release, then the commit when the build carries VCS
// information ("+dirty" for uncommitted changes), then the Go version.
// Builds with -buildvcs=false, and "go install ...@version", have no
// commit; the module version "go install" records is shown instead when
// it is not the release's tag.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return release
	}
	return describe(info)
}

func describe(info *debug.BuildInfo) string {
	parts := []string{release}
	if v := info.Main.Version; v != "" && v != "(devel)" && v != "v"+release {
		parts = append(parts, "(module "+v+")")
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "+dirty"
		}
		parts = append(parts, rev)
	}
	if info.GoVersion != "" {
		parts = append(parts, info.GoVersion)
	}
	return strings.Join(parts, " ")
}
