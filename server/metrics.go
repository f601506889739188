package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rekey-dev/rekey/reqinfo"
)

// apiMetrics are the management listener's request metrics.
type apiMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	if reg == nil {
		return nil
	}
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rekey_api_requests_total",
			Help: "Management API requests (ARM, QnA authoring, token service, admin API) by operation and status."},
			[]string{"operation", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rekey_api_request_duration_seconds",
			Help: "Time to answer a management API request, by operation.", Buckets: prometheus.DefBuckets},
			[]string{"operation"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

func (m *apiMetrics) observe(op string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(op).Observe(d.Seconds())
}

// operation names a request for the metrics by its route, never by values
// from its path: the name a dialect gave it (reqinfo.SetOperation), else
// the pattern a ServeMux matched, shortened to the method and the route
// after "/providers/" without its {parameters}:
// "POST Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys".
// Requests no route matched share "unmatched".
func operation(r *http.Request) string {
	if info := reqinfo.From(r.Context()); info != nil && info.Operation != "" {
		return info.Operation
	}
	if r.Pattern == "" || r.Pattern == "/" {
		return "unmatched"
	}
	return reqinfo.Route(r.Pattern)
}
