package seed_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey/seed"
)

// FuzzParse: whatever the bytes, Parse returns a file or Errors (never
// both, never a panic), and every problem names the file and a line that
// exists in it.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"seed.yaml", "seed.json"} {
		data, err := os.ReadFile(filepath.Join("..", "examples", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("endpoints:\n  - name: e\n    workspace: w\n    authMode: Token\n"))
	f.Add([]byte("a: &a [1,1,1,1]\nb: &b [*a,*a,*a,*a]\nworkspaces: [*b,*b,*b,*b]\n"))
	f.Add([]byte("workspaces:\n  - name: ws\n    location: x\n---\nmore: 1\n"))
	f.Add([]byte(`{"endpoints":[{"name":"e","workspace":"w","traffic":{"a":50,"b":"x"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := seed.Parse("f.yaml", data)
		if (file == nil) == (err == nil) {
			t.Fatalf("Parse returned file %v and error %v; want exactly one", file != nil, err)
		}
		if err == nil {
			return
		}
		var errs seed.Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("Parse error %T %v, want non-empty seed.Errors", err, err)
		}
		// YAML breaks lines at \n, \r\n and a lone \r.
		lines := strings.Count(string(data), "\n") + strings.Count(string(data), "\r") + 2
		for _, p := range errs {
			if p.File != "f.yaml" || p.Line < 0 || p.Line > lines || p.Message == "" {
				t.Fatalf("problem %+v (file has %d lines)", p, lines)
			}
		}
	})
}
