package gateway

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestNameIndex drives the index and a map side by side through random
// puts and removes of names that collide in a small table (so probes wrap
// around and removals shift entries back), and checks every name after
// every step.
func TestNameIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := make([]string, 300)
	for i := range names {
		names[i] = fmt.Sprintf("ep-%d", i)
		if i%7 == 0 { // some longer than an entry holds inline
			names[i] += strings.Repeat("x", shortName+i%5)
		}
	}
	x := newNameIndex(0)
	model := map[string]*endpoint{}
	for step := range 5000 {
		name := names[r.IntN(len(names))]
		if r.IntN(3) == 0 {
			x.remove(name)
			delete(model, name)
		} else {
			ep := &endpoint{name: name, keys: &keySet{owner: name}}
			x.put(name, ep)
			model[name] = ep
		}
		if x.n != len(model) {
			t.Fatalf("step %d: %d names indexed, want %d", step, x.n, len(model))
		}
		if step%50 != 0 {
			continue
		}
		for _, n := range names {
			ep, ks := x.get(n)
			if want := model[n]; ep != want || (want != nil && ks != want.keys) || (want == nil && ks != nil) {
				t.Fatalf("step %d: get(%q) = %p, %p; want %p", step, n, ep, ks, want)
			}
		}
	}
}

// TestNameIndexCase: names match in any case, with strings.ToLower's
// rules (which the map this index replaced used), and no longer than an
// endpoint name can be.
func TestNameIndexCase(t *testing.T) {
	x := newNameIndex(0)
	long := strings.Repeat("a", maxName)
	eps := map[string]*endpoint{}
	for _, n := range []string{"scoring", "key", "my-endpoint_" + strings.Repeat("b", 40), long} {
		eps[n] = &endpoint{name: n, keys: &keySet{}}
		x.put(n, eps[n])
	}
	for _, c := range []struct {
		name, want string
	}{
		{"scoring", "scoring"},
		{"SCORING", "scoring"},
		{"ScOrInG", "scoring"},
		{"\u212Aey", "key"}, // KELVIN SIGN lowers to 'k'
		{"MY-ENDPOINT_" + strings.Repeat("B", 40), "my-endpoint_" + strings.Repeat("b", 40)},
		{strings.ToUpper(long), long},
		{long + "a", ""},
		{"scorin", ""},
		{"scoringg", ""},
		{"", ""},
		{"sc\u00f6ring", ""},
	} {
		ep, ks := x.get(c.name)
		if want := eps[c.want]; ep != want || (want != nil && ks != want.keys) {
			t.Errorf("get(%.20q) = %v, want the endpoint %q", c.name, ep != nil, c.want)
		}
	}
}

// TestNameIndexGetAllocs: a lookup allocates nothing for ASCII names.
func TestNameIndexGetAllocs(t *testing.T) {
	x := newNameIndex(0)
	x.put("scoring", &endpoint{keys: &keySet{}})
	if n := testing.AllocsPerRun(100, func() { x.get("Scoring"); x.get("missing") }); n != 0 {
		t.Errorf("get allocates %v times, want 0", n)
	}
}
