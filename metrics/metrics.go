// Package metrics is rekey's Prometheus registry, on
// github.com/prometheus/client_golang. CounterVec and HistogramVec keep
// the gateway's call sites short (Add(n, labels...)); they are
// client_golang's vectors, whose labelled increment allocates nothing and
// costs what the hand-written registry it replaced did (BenchmarkCounterAdd,
// BenchmarkHistogramObserve). It holds no secrets: callers label with
// endpoint, deployment and slot names, never with keys.
package metrics

import (
	"errors"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is a Prometheus registry. The zero value is ready to use.
type Registry struct {
	once sync.Once
	reg  *prometheus.Registry
}

func (r *Registry) prom() *prometheus.Registry {
	r.once.Do(func() { r.reg = prometheus.NewRegistry() })
	return r.reg
}

// Registerer is where client_golang metrics of other packages register.
func (r *Registry) Registerer() prometheus.Registerer { return r.prom() }

// MustRegister registers client_golang collectors; it panics on a
// conflicting registration, a programming error.
func (r *Registry) MustRegister(cs ...prometheus.Collector) { r.prom().MustRegister(cs...) }

// RegisterRuntime adds the Go runtime, process and build-info collectors.
func (r *Registry) RegisterRuntime() {
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector())
}

// Handler serves the registry in Prometheus' exposition formats.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.prom(), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// register adds c, or returns the family already registered under the
// same name and labels (a second gateway on the same registry shares it).
func register[C prometheus.Collector](r *Registry, c C) C {
	var are prometheus.AlreadyRegisteredError
	if err := r.prom().Register(c); errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
		panic(err)
	} else if err != nil {
		panic(err)
	}
	return c
}

// CounterVec is a counter with labels.
type CounterVec struct{ vec *prometheus.CounterVec }

// Counter registers a counter family.
func (r *Registry) Counter(name, help string, labels ...string) *CounterVec {
	vec := register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
	return &CounterVec{vec}
}

// Add adds n to the counter with the given label values.
func (c *CounterVec) Add(n int64, values ...string) {
	c.vec.WithLabelValues(values...).Add(float64(n))
}

// HistogramVec is a histogram with labels.
type HistogramVec struct{ vec *prometheus.HistogramVec }

// Histogram registers a histogram family with upper bucket bounds.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *HistogramVec {
	vec := register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels))
	return &HistogramVec{vec}
}

// Observe records v for the given label values.
func (h *HistogramVec) Observe(v float64, values ...string) {
	h.vec.WithLabelValues(values...).Observe(v)
}
