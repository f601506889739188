package metrics_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

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
	r.Counter("requests_total", "Requests.", "endpoint", "code").Add(0, "a", "200") // the same family
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "other_total", Help: "A client_golang counter."})
	r.MustRegister(other)
	other.Add(3)
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := `# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{endpoint="a",le="0.1"} 1
latency_seconds_bucket{endpoint="a",le="1"} 2
latency_seconds_bucket{endpoint="a",le="+Inf"} 3
latency_seconds_sum{endpoint="a"} 5.55
latency_seconds_count{endpoint="a"} 3
# HELP other_total A client_golang counter.
# TYPE other_total counter
other_total 3
# HELP requests_total Requests.
# TYPE requests_total counter
requests_total{code="200",endpoint="a"} 2
requests_total{code="500",endpoint="we\"ird\\"} 1
`
	if got := rec.Body.String(); got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q", rec.Header().Get("Content-Type"))
	}
}
