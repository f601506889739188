package metrics_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey/metrics"
)

func TestExposition(t *testing.T) {
	var r metrics.Registry
	c := r.Counter("requests_total", "Requests.", "endpoint", "code")
	h := r.Histogram("latency_seconds", "Latency.", []float64{0.1, 1}, "endpoint")
	c.Add(2, "a", "200")
	c.Add(1, `we"ird\`, "500")
	h.Observe(0.05, "a")
	h.Observe(0.5, "a")
	h.Observe(5, "a")
	if got := c.Value("a", "200"); got != 2 {
		t.Errorf("Value = %d, want 2", got)
	}
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := `# HELP requests_total Requests.
# TYPE requests_total counter
requests_total{endpoint="a",code="200"} 2
requests_total{endpoint="we\"ird\\",code="500"} 1
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{endpoint="a",le="0.1"} 1
latency_seconds_bucket{endpoint="a",le="1"} 2
latency_seconds_bucket{endpoint="a",le="+Inf"} 3
latency_seconds_sum{endpoint="a"} 5.55
latency_seconds_count{endpoint="a"} 3
`
	if got := rec.Body.String(); got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q", rec.Header().Get("Content-Type"))
	}
}
