package rekey_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection enforces the layering of STYLE.md: the domain
// imports only the standard library; dialects, gateway, runner and server
// never reach a store; only the command (internal/cli, which cmd/rekey's
// main calls) and rekeytest, which runs it, wire stores to APIs.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/rekey-dev/rekey"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		for _, imp := range p.Imports {
			irel, internal := strings.CutPrefix(imp, mod+"/")
			third := !internal && imp != mod && strings.Contains(strings.Split(imp, "/")[0], ".")
			switch {
			case rel == "" && (internal || third || imp == "net/http" || imp == "database/sql"):
				t.Errorf("the domain package imports %s; it may use the standard library only (not net/http or database/sql)", imp)
			case rel != "internal/cli" && !strings.HasPrefix(rel, "store") && internal && strings.HasPrefix(irel, "store"):
				t.Errorf("%s imports %s; only internal/cli (the rekey command) may choose a store", rel, imp)
			case strings.HasPrefix(rel, "store") && internal && (strings.HasPrefix(irel, "api") || irel == "server" || irel == "gateway" || irel == "ops"):
				t.Errorf("%s imports %s; stores depend on the domain only", rel, imp)
			case strings.HasPrefix(rel, "api/") && internal && (strings.HasPrefix(irel, "api/") || irel == "server" || irel == "gateway"):
				t.Errorf("%s imports %s; a dialect depends on the domain only", rel, imp)
			}
		}
	}
}
