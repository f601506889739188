package fault

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkMiddleware measures what the fault middleware adds to a
// gateway request: with no fault set (the normal case) and with one fault
// that does not match.
func BenchmarkMiddleware(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	req := httptest.NewRequest("POST", "/endpoints/ep1/score", nil)
	w := httptest.NewRecorder()
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ok.ServeHTTP(w, req)
		}
	})
	for _, tc := range []struct {
		name   string
		faults []Fault
	}{
		{"no-faults", nil},
		{"one-other-fault", []Fault{{Kind: Reset, Operation: Gateway, Resource: "other"}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			in := &Injector{Set: NewSet()}
			for _, f := range tc.faults {
				if _, err := in.Set.Add(f); err != nil {
					b.Fatal(err)
				}
			}
			h := in.Middleware(DialectGateway, ok)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}

// TestMiddlewarePassesThrough: with no matching fault the request reaches
// the API untouched.
func TestMiddlewarePassesThrough(t *testing.T) {
	in := &Injector{Set: NewSet()}
	in.Set.Add(Fault{Kind: Throttle, Operation: Gateway, Resource: "other"})
	h := in.Middleware(DialectGateway, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, path := range []string{"/endpoints/ep1/score", "/qnamaker/knowledgebases/kb/generateAnswer", "/healthz"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", path, nil))
		if w.Code != http.StatusTeapot {
			t.Errorf("%s = %d, want the API's own 418", path, w.Code)
		}
	}
}
