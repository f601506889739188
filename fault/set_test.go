package fault

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*/onlineEndpoints/*", "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e", true},
		{"*/onlineendpoints/*", "/x/OnlineEndpoints/e/listKeys", true},
		{"*/onlineEndpoints/*", "/x/onlineEndpoints", false},
		{"*/onlineEndpoints/*/regenerateKeys", "/x/onlineEndpoints/e/regenerateKeys", true},
		{"*/onlineEndpoints/*/regenerateKeys", "/x/onlineEndpoints/e/listKeys", false},
		{"/subscriptions/*", "/subscriptions/", true},
		{"/a", "/a", true},
		{"/a", "/ab", false},
		{"*", "", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"**x", "yyx", true},
	} {
		if got := Glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

const ep = "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/ep1"

func TestMatchScope(t *testing.T) {
	regen := Request{Operation: RegenerateKeys, Method: "POST", Path: ep + "/regenerateKeys", Name: "ep1"}
	for _, tc := range []struct {
		name string
		f    Fault
		req  Request
		want bool
	}{
		{"operation", Fault{Operation: RegenerateKeys}, regen, true},
		{"other operation", Fault{Operation: ListKeys}, regen, false},
		{"name", Fault{Operation: RegenerateKeys, Resource: "EP1"}, regen, true},
		{"other name", Fault{Operation: RegenerateKeys, Resource: "ep2"}, regen, false},
		{"id prefix", Fault{Operation: RegenerateKeys, Resource: ep}, regen, true},
		{"workspace prefix", Fault{Operation: RegenerateKeys, Resource: strings.TrimSuffix(ep, "/onlineEndpoints/ep1") + "/"}, regen, true},
		{"prefix not at a boundary", Fault{Operation: RegenerateKeys, Resource: strings.TrimSuffix(ep, "1")}, regen, false},
		{"arm any method", Fault{Operation: ARM, Method: "*", Path: "*/regenerateKeys"}, regen, true},
		{"arm method", Fault{Operation: ARM, Method: "PUT", Path: "*/onlineEndpoints/*"}, regen, false},
		{"arm path", Fault{Operation: ARM, Method: "POST", Path: "*/accounts/*"}, regen, false},
		{"gateway name", Fault{Operation: Gateway, Resource: "ep1"}, Request{Operation: Gateway, Path: "/endpoints/ep1/score", Name: "ep1"}, true},
		{"gateway id", Fault{Operation: Gateway, Resource: ep}, Request{Operation: Gateway, Path: "/endpoints/ep1/score", Name: "ep1"}, true},
		{"gateway other", Fault{Operation: Gateway, Resource: "ep2"}, Request{Operation: Gateway, Path: "/endpoints/ep1/score", Name: "ep1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.matches(tc.req); got != tc.want {
				t.Errorf("matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCountExpires(t *testing.T) {
	s := NewSet()
	added, err := s.Add(Fault{Kind: Throttle, Operation: ListKeys, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Operation: ListKeys}
	for i := 1; i <= 2; i++ {
		f, ok := s.Match(req, nil)
		if !ok || f.ID != added.ID || f.Fired != i {
			t.Fatalf("match %d = %+v, %v; want the fault, fired %d", i, f, ok, i)
		}
	}
	if _, ok := s.Match(req, nil); ok {
		t.Errorf("third match fired; want the fault expired after its count of 2")
	}
	if got := len(s.List()); got != 0 {
		t.Errorf("%d faults left, want 0", got)
	}
}

func TestProbability(t *testing.T) {
	p := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		p, roll float64
		want    bool
	}{
		{0, 0, false}, // 0 never fires, even on the lowest roll
		{1, 0.999999, true},
		{0.3, 0.29, true},
		{0.3, 0.3, false},
	} {
		s := NewSet()
		s.Rand = func() float64 { return tc.roll }
		if _, err := s.Add(Fault{Kind: Reset, Operation: Token, Probability: p(tc.p), Count: 1}); err != nil {
			t.Fatal(err)
		}
		_, got := s.Match(Request{Operation: Token}, nil)
		if got != tc.want {
			t.Errorf("probability %v, roll %v: fired = %v, want %v", tc.p, tc.roll, got, tc.want)
		}
		// A fault that did not fire keeps its count.
		if left := len(s.List()); left != map[bool]int{true: 0, false: 1}[tc.want] {
			t.Errorf("probability %v, roll %v: %d faults left", tc.p, tc.roll, left)
		}
	}
}

func TestAddRefuses(t *testing.T) {
	p := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		f    Fault
		want string
	}{
		{Fault{Kind: "boom", Operation: Token}, "'kind' must be one of"},
		{Fault{Kind: Reset, Operation: "scoring"}, "'operation' must be one of"},
		{Fault{Kind: Reset, Operation: ARM}, "'path' is required"},
		{Fault{Kind: Reset, Operation: Token, Path: "/x"}, "apply only to operation \"arm\""},
		{Fault{Kind: Reset, Operation: Refresh, Resource: "acc"}, "cannot scope operation \"refresh\""},
		{Fault{Kind: Failed, Operation: Gateway}, "kind \"failed\" is for management"},
		{Fault{Kind: Reset, Operation: Token, Count: -1}, "'count'"},
		{Fault{Kind: Reset, Operation: Token, Probability: p(1.5)}, "'probability'"},
		{Fault{Kind: Error, Operation: Token, Status: 502}, "500 or 503"},
		{Fault{Kind: Latency, Operation: Token}, "'latency' must be above 0"},
		{Fault{Kind: Failed, Operation: Token, Code: "two words"}, "'code'"},
	} {
		_, err := NewSet().Add(tc.f)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Add(%+v) = %v, want an invalid fault error containing %q", tc.f, err, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		d            Dialect
		method, path string
		op           Operation
		name         string
	}{
		{DialectARM, "POST", ep + "/regenerateKeys", RegenerateKeys, "ep1"},
		{DialectARM, "POST", ep + "/listkeys", ListKeys, "ep1"},
		{DialectARM, "POST", ep + "/token", Token, "ep1"},
		{DialectARM, "PUT", ep, "", "ep1"},
		{DialectARM, "GET", ep + "/regenerateKeys", "", "ep1"},
		{DialectARM, "POST", "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/acc/regenerateKey", RegenerateKey, "acc"},
		{DialectARM, "POST", "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/acc/listKeys", ListKeys, "acc"},
		{DialectQnA, "PATCH", "//qnamaker/v5.0-preview.2/endpointkeys/PrimaryKey", Refresh, ""},
		{DialectQnA, "GET", "/qnamaker/v4.0/endpointkeys", "", ""},
		{DialectGateway, "POST", "/endpoints/ep1/score", Gateway, "ep1"},
		{DialectGateway, "POST", "/qnamaker/knowledgebases/kb/generateAnswer", "", ""},
	} {
		got := Classify(tc.d, httptest.NewRequest(tc.method, tc.path, nil))
		if got.Operation != tc.op || got.Name != tc.name {
			t.Errorf("Classify(%s, %s %s) = %q %q, want %q %q", tc.d, tc.method, tc.path, got.Operation, got.Name, tc.op, tc.name)
		}
	}
}
