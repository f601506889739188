package ops

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rekey-dev/rekey"
)

// backlogLimit bounds the operations a scrape reads; the due gauge
// saturates there.
const backlogLimit = 1000

var (
	dueDesc = prometheus.NewDesc("rekey_operations_due",
		"Long-running operations due and not yet completed: the runner's queue (saturates at 1000).", nil, nil)
	ageDesc = prometheus.NewDesc("rekey_operations_oldest_due_age_seconds",
		"How long the oldest due operation has waited past its due time; 0 when none is due. A growing value means the runner is stuck.", nil, nil)
)

// Describe and Collect make the runner a prometheus.Collector of its
// queue: read from the store at each scrape, so they are right for
// operations written by other processes too.
func (r *Runner) Describe(ch chan<- *prometheus.Desc) {
	ch <- dueDesc
	ch <- ageDesc
}

func (r *Runner) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	now := r.Now()
	var due []*rekey.Operation
	err := r.store.View(ctx, func(tx rekey.Tx) (err error) {
		due, err = tx.DueOperations(now, backlogLimit)
		return err
	})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(dueDesc, err)
		return
	}
	age := 0.0
	if len(due) > 0 { // ordered by due time
		age = max(now.Sub(due[0].NotBefore).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(dueDesc, prometheus.GaugeValue, float64(len(due)))
	ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, age)
}
