package arm_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// listTargets are every list operation of the ARM API, with the name of
// its page-size parameter ("" when the contract has none).
var listTargets = []struct{ name, path, size string }{
	{"endpoints", base + "/workspaces/ws1/onlineEndpoints" + av, "count"},
	{"deployments", base + "/workspaces/ws1/onlineEndpoints/ep1/deployments" + av, "$top"},
	{"workspaces_rg", base + "/workspaces" + av, ""},
	{"workspaces_sub", "/subscriptions/" + sub + "/providers/Microsoft.MachineLearningServices/workspaces" + av, ""},
	{"accounts_rg", csBase + "?api-version=2025-06-01", ""},
	{"accounts_sub", "/subscriptions/" + sub + "/providers/Microsoft.CognitiveServices/accounts?api-version=2025-06-01", ""},
}

func listEnv(t *testing.T) *env {
	e := newEnv(t)
	e.workspace("ws1")
	e.endpoint("ws1", "ep1", "Key")
	resp, _ := e.must(http.StatusCreated, "PUT", base+"/workspaces/ws1/onlineEndpoints/ep1/deployments/blue"+av,
		`{"location":"eastus","properties":{"endpointComputeType":"Managed","properties":{"rekey.upstream":"http://127.0.0.1:9"}}}`)
	e.waitOp(resp.Header.Get("Azure-AsyncOperation"))
	e.must(http.StatusCreated, "PUT", csBase+"/face1?api-version=2025-06-01", `{"location":"westus","kind":"Face","sku":{"name":"F0"}}`)
	return e
}

// listValues GETs a list and returns its status, value count and nextLink.
func listValues(t *testing.T, e *env, path string) (int, int, string, []byte) {
	t.Helper()
	resp := e.do("GET", path, "")
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var page struct {
		Value    []json.RawMessage
		NextLink *string
	}
	json.Unmarshal(data, &page)
	next := ""
	if page.NextLink != nil {
		next = *page.NextLink
	}
	return resp.StatusCode, len(page.Value), next, data
}

// TestListPagingBounds: huge, negative and overflowing paging parameters
// on every list answer ARM's 400 envelope or an empty last page, never a
// panic or a 500 (issue: $skip=9223372036854775800&count=100 answered 500).
func TestListPagingBounds(t *testing.T) {
	e := listEnv(t)
	for _, tt := range listTargets {
		for _, c := range []struct {
			query string
			want  int // status; 200 means an empty last page
		}{
			{"$skip=9223372036854775800", 200},
			{"$skip=9223372036854775807", 200},
			{"$skip=1", 200},
			{"$skip=9223372036854775808", 400},
			{"$skip=99999999999999999999999", 400},
			{"$skip=-1", 400},
			{"$skip=-9223372036854775808", 400},
			{"$skip=1e3", 400},
		} {
			t.Run(tt.name+"/"+c.query, func(t *testing.T) {
				e.t = t
				status, n, next, data := listValues(t, e, tt.path+"&"+c.query)
				if status != c.want {
					t.Fatalf("status = %d %s, want %d", status, data, c.want)
				}
				if status == 200 && (n != 0 || next != "") {
					t.Errorf("got %d values, nextLink %q; want an empty last page", n, next)
				}
				if status == 400 && !strings.Contains(string(data), `"code":"BadArgument"`) {
					t.Errorf("body = %s, want ARM's envelope with BadArgument", data)
				}
			})
		}
		if tt.size == "" {
			continue
		}
		for _, c := range []struct {
			query string
			want  int
		}{
			{tt.size + "=100&$skip=9223372036854775800", 200},
			{tt.size + "=1000&$skip=9223372036854775807", 200},
			{tt.size + "=1001", 400},
			{tt.size + "=0", 400},
			{tt.size + "=-5", 400},
			{tt.size + "=9223372036854775807", 400},
			{tt.size + "=99999999999999999999999", 400},
		} {
			t.Run(tt.name+"/"+c.query, func(t *testing.T) {
				e.t = t
				status, n, _, data := listValues(t, e, tt.path+"&"+c.query)
				if status != c.want || (status == 200 && n != 0) {
					t.Fatalf("status = %d %s, want %d (and no values)", status, data, c.want)
				}
			})
		}
	}
}

// TestListPages: every list pages with $skip, and its nextLink leads to
// the rest.
func TestListPages(t *testing.T) {
	e := listEnv(t)
	e.endpoint("ws1", "ep2", "Key")
	resp, _ := e.must(http.StatusCreated, "PUT", base+"/workspaces/ws1/onlineEndpoints/ep1/deployments/green"+av,
		`{"location":"eastus","properties":{"endpointComputeType":"Managed","properties":{"rekey.upstream":"http://127.0.0.1:9"}}}`)
	e.waitOp(resp.Header.Get("Azure-AsyncOperation"))
	for _, path := range []string{
		base + "/workspaces/ws1/onlineEndpoints" + av + "&count=1",
		base + "/workspaces/ws1/onlineEndpoints/ep1/deployments" + av + "&$top=1",
	} {
		_, n, next, data := listValues(t, e, path)
		if n != 1 || next == "" {
			t.Fatalf("GET %s: %d values, nextLink %q, want 1 and a link: %s", path, n, next, data)
		}
		u, _ := url.Parse(next)
		_, n, next, data = listValues(t, e, u.RequestURI())
		if n != 1 || next != "" {
			t.Errorf("GET nextLink: %d values, nextLink %q, want 1 and none: %s", n, next, data)
		}
	}
	// Lists without a size parameter keep $skip as an offset.
	e.must(http.StatusCreated, "PUT", csBase+"/face2?api-version=2025-06-01", `{"location":"westus","kind":"Face","sku":{"name":"F0"}}`)
	if _, n, _, data := listValues(t, e, csBase+"?api-version=2025-06-01&$skip=1"); n != 1 {
		t.Errorf("accounts with $skip=1: %d values, want 1: %s", n, data)
	}
}
