package arm

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey"
)

// TestRouteActions: every route names an Azure action of its own
// provider, over a scope that is a prefix of its path.
func TestRouteActions(t *testing.T) {
	a := &api{}
	seen := map[string]bool{}
	for _, rt := range a.routes() {
		key := rt.method + " " + rt.path
		if seen[key] {
			t.Errorf("%s listed twice", key)
		}
		seen[key] = true
		if rt.action == "" {
			t.Errorf("%s names no action", key)
			continue
		}
		if !strings.HasPrefix(rt.path, rt.scope) && rt.scope != "/" {
			t.Errorf("%s: scope %s is not a prefix of the path", key, rt.scope)
		}
		ns, _, _ := strings.Cut(string(rt.action), "/")
		if ns != "Microsoft.Resources" && !strings.Contains(rt.path, "/providers/"+ns+"/") {
			t.Errorf("%s: action %s is not of the path's provider", key, rt.action)
		}
		verb := string(rt.action[strings.LastIndexByte(string(rt.action), '/')+1:])
		want := map[string]string{"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete", "POST": "action"}[rt.method]
		if verb != want {
			t.Errorf("%s: action %s ends in %q, want %q", key, rt.action, verb, want)
		}
	}
}

// TestScopeOf: the scope is filled in from the request's path values.
func TestScopeOf(t *testing.T) {
	const p = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}/onlineEndpoints/{endpointName}"
	var got rekey.Request
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+p+"/listKeys", func(w http.ResponseWriter, r *http.Request) {
		got = rekey.Request{Action: rekey.ActionEndpointListKeys, Scope: scopeOf(p, r)}
	})
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e/listKeys", nil))
	if want := "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e"; got.Scope != want {
		t.Errorf("scope = %q, want %q", got.Scope, want)
	}
	if s := scopeOf("/", nil); s != "/" {
		t.Errorf("root scope = %q", s)
	}
}
