package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rekey-dev/rekey/metrics"
)

// BenchmarkCounterAdd measures one labelled increment as the gateway makes
// it per request (four labels): through this package's CounterVec and
// through client_golang's WithLabelValues directly. Before client_golang,
// the hand-written registry measured the same (0 allocations).
//
//	go test ./metrics -run '^$' -bench . -benchmem
func BenchmarkCounterAdd(b *testing.B) {
	labels := []string{"endpoint", "deployment", "slot", "code"}
	b.Run("metrics.CounterVec", func(b *testing.B) {
		var r metrics.Registry
		c := r.Counter("requests_total", "Requests.", labels...)
		b.ReportAllocs()
		for b.Loop() {
			c.Add(1, "my-endpoint", "blue", "primary", "200")
		}
	})
	b.Run("client_golang", func(b *testing.B) {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total", Help: "Requests."}, labels)
		b.ReportAllocs()
		for b.Loop() {
			c.WithLabelValues("my-endpoint", "blue", "primary", "200").Inc()
		}
	})
}

// BenchmarkHistogramObserve is BenchmarkCounterAdd for the upstream
// latency histogram (two labels).
func BenchmarkHistogramObserve(b *testing.B) {
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	b.Run("metrics.HistogramVec", func(b *testing.B) {
		var r metrics.Registry
		h := r.Histogram("latency_seconds", "Latency.", buckets, "endpoint", "deployment")
		b.ReportAllocs()
		for b.Loop() {
			h.Observe(0.042, "my-endpoint", "blue")
		}
	})
	b.Run("client_golang", func(b *testing.B) {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "latency_seconds", Help: "Latency.", Buckets: buckets}, []string{"endpoint", "deployment"})
		b.ReportAllocs()
		for b.Loop() {
			h.WithLabelValues("my-endpoint", "blue").Observe(0.042)
		}
	})
}
