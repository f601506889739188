package parity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const dir = "../../testdata/parity"

// TestTestdata checks the stored recordings: they load, cover at least 40
// exchanges, and each is named with its commit in SOURCES.md.
func TestTestdata(t *testing.T) {
	recs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sources, err := os.ReadFile(filepath.Join(dir, "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		n += r.Compared()
		for _, want := range []string{r.Name + ".json", r.Source.Path, r.Source.Commit} {
			if !strings.Contains(string(sources), want) {
				t.Errorf("SOURCES.md does not mention %s of %s", want, r.Name)
			}
		}
	}
	if n < 40 {
		t.Errorf("%d compared exchanges, want at least 40", n)
	}
	if _, err := LoadDeviations(dir); err != nil {
		t.Error(err)
	}
	if _, err := LoadPending(dir); err != nil {
		t.Error(err)
	}
}

func TestLoadRejects(t *testing.T) {
	tests := map[string]string{
		"no commit":     `{"source":{"repo":"a/b","path":"p","commit":"main"},"exchanges":[]}`,
		"no status":     `{"source":{"repo":"a/b","path":"p","commit":"0123456789abcdef0123456789abcdef01234567"},"exchanges":[{"name":"x","method":"GET","path":"/"}]}`,
		"repeated name": `{"source":{"repo":"a/b","path":"p","commit":"0123456789abcdef0123456789abcdef01234567"},"exchanges":[{"name":"x","method":"GET","path":"/","status":200},{"name":"x","method":"GET","path":"/","status":200}]}`,
		"bad follow":    `{"source":{"repo":"a/b","path":"p","commit":"0123456789abcdef0123456789abcdef01234567"},"exchanges":[{"name":"x","method":"GET","follow":"Link","status":200}]}`,
		"unknown field": `{"source":{"repo":"a/b","path":"p","commit":"0123456789abcdef0123456789abcdef01234567"},"exchanges":[],"extra":1}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			d := t.TempDir()
			if err := os.WriteFile(filepath.Join(d, "r.json"), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(d); err == nil {
				t.Errorf("Load accepted %s", body)
			}
		})
	}
}
