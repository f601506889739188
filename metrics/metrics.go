// Package metrics is a small Prometheus registry: labelled counters and
// histograms, exposed in the text format. It holds no secrets: callers
// label with endpoint, deployment and slot names, never with keys.
package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metric families in registration order.
type Registry struct {
	mu       sync.Mutex
	families []family
}

type family interface {
	write(w io.Writer)
}

// Handler serves the registry in Prometheus' text format.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.mu.Lock()
		fams := append([]family(nil), r.families...)
		r.mu.Unlock()
		for _, f := range fams {
			f.write(w)
		}
	})
}

// MaxLabels is the most labels a family may have. Label values are kept
// in a fixed-size array, so recording a value allocates nothing.
const MaxLabels = 4

type labelValues [MaxLabels]string

func toKey(values []string) labelValues {
	var k labelValues
	copy(k[:], values)
	return k
}

// CounterVec is a counter with labels.
type CounterVec struct {
	name, help string
	labels     []string
	mu         sync.RWMutex
	values     map[labelValues]*atomic.Int64 // guarded by mu
}

// Counter registers a counter family.
func (r *Registry) Counter(name, help string, labels ...string) *CounterVec {
	if len(labels) > MaxLabels {
		panic("metrics: too many labels for " + name)
	}
	c := &CounterVec{name: name, help: help, labels: labels, values: map[labelValues]*atomic.Int64{}}
	r.mu.Lock()
	r.families = append(r.families, c)
	r.mu.Unlock()
	return c
}

// Add adds n to the counter with the given label values.
func (c *CounterVec) Add(n int64, values ...string) {
	key := toKey(values)
	c.mu.RLock()
	v := c.values[key]
	c.mu.RUnlock()
	if v == nil {
		c.mu.Lock()
		if v = c.values[key]; v == nil {
			v = new(atomic.Int64)
			c.values[key] = v
		}
		c.mu.Unlock()
	}
	v.Add(n)
}

// Value returns the counter's current value (for tests).
func (c *CounterVec) Value(values ...string) int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if v := c.values[toKey(values)]; v != nil {
		return v.Load()
	}
	return 0
}

func (c *CounterVec) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, k := range sortedKeys(c.values) {
		fmt.Fprintf(w, "%s%s %d\n", c.name, labelString(c.labels, k, ""), c.values[k].Load())
	}
}

// HistogramVec is a histogram with labels.
type HistogramVec struct {
	name, help string
	labels     []string
	buckets    []float64
	mu         sync.RWMutex
	values     map[labelValues]*histogram // guarded by mu
}

type histogram struct {
	counts []atomic.Uint64 // per bucket, not cumulative
	count  atomic.Uint64
	sum    atomic.Uint64 // float64 bits
}

// Histogram registers a histogram family with upper bucket bounds.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *HistogramVec {
	if len(labels) > MaxLabels {
		panic("metrics: too many labels for " + name)
	}
	h := &HistogramVec{name: name, help: help, labels: labels, buckets: buckets, values: map[labelValues]*histogram{}}
	r.mu.Lock()
	r.families = append(r.families, h)
	r.mu.Unlock()
	return h
}

// Observe records v for the given label values.
func (h *HistogramVec) Observe(v float64, values ...string) {
	key := toKey(values)
	h.mu.RLock()
	x := h.values[key]
	h.mu.RUnlock()
	if x == nil {
		h.mu.Lock()
		if x = h.values[key]; x == nil {
			x = &histogram{counts: make([]atomic.Uint64, len(h.buckets))}
			h.values[key] = x
		}
		h.mu.Unlock()
	}
	if i := sort.SearchFloat64s(h.buckets, v); i < len(h.buckets) {
		x.counts[i].Add(1)
	}
	x.count.Add(1)
	for {
		old := x.sum.Load()
		if x.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
}

func (h *HistogramVec) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", h.name, h.help, h.name)
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, k := range sortedKeys(h.values) {
		x := h.values[k]
		var cum uint64
		for i, b := range h.buckets {
			cum += x.counts[i].Load()
			fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelString(h.labels, k, fmt.Sprint(b)), cum)
		}
		fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelString(h.labels, k, "+Inf"), x.count.Load())
		fmt.Fprintf(w, "%s_sum%s %g\n", h.name, labelString(h.labels, k, ""), math.Float64frombits(x.sum.Load()))
		fmt.Fprintf(w, "%s_count%s %d\n", h.name, labelString(h.labels, k, ""), x.count.Load())
	}
}

func sortedKeys[V any](m map[labelValues]V) []labelValues {
	keys := make([]labelValues, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		for n := range keys[i] {
			if keys[i][n] != keys[j][n] {
				return keys[i][n] < keys[j][n]
			}
		}
		return false
	})
	return keys
}

// labelString renders {a="x",b="y"[,le="..."]}.
func labelString(names []string, values labelValues, le string) string {
	var parts []string
	for i, n := range names {
		parts = append(parts, n+"="+quote(values[i]))
	}
	if le != "" {
		parts = append(parts, "le="+quote(le))
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func quote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}
