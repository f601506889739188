package gateway

import (
	"context"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/metrics"
)

// recordUse counts a request against the slot it used; name is the
// endpoint's name (or "qna:" and the account's) for the metric labels,
// which never carry ARM ids.
func (g *Gateway) recordUse(ks *keySet, m match, now int64, name string) {
	s := &ks.slots[m.slot]
	s.requests.Add(1)
	if m.inGrace {
		s.graceRequests.Add(1)
		g.m.graceRequests.Add(1, name, slotNames[m.slot])
	}
	s.lastUsed.Store(now)
	if !ks.dirty.Load() && ks.dirty.CompareAndSwap(false, true) {
		g.dirtyMu.Lock()
		g.dirty = append(g.dirty, ks)
		g.dirtyMu.Unlock()
	}
}

// FlushUsage writes the counts gathered since the last flush to the store,
// where the management API reads them. Counts that fail to write are put
// back for the next flush. It runs every UsageFlush, on Stop, and when the
// usage API is asked in the same process.
func (g *Gateway) FlushUsage(ctx context.Context) error {
	g.dirtyMu.Lock()
	dirty := g.dirty
	g.dirty = nil
	g.dirtyMu.Unlock()
	var batch []rekey.KeyUsage
	for _, ks := range dirty {
		ks.dirty.Store(false)
		for i := range ks.slots {
			s := &ks.slots[i]
			u := rekey.KeyUsage{Owner: ks.owner, Slot: rekey.Slots[i], Requests: s.requests.Swap(0), GraceRequests: s.graceRequests.Swap(0)}
			if u.Requests == 0 {
				continue
			}
			u.LastUsed = time.Unix(0, s.lastUsed.Load()).UTC()
			batch = append(batch, u)
		}
	}
	if len(batch) == 0 {
		return nil
	}
	err := g.cfg.Source.Update(ctx, func(tx rekey.Tx) error {
		for _, u := range batch {
			if err := tx.AddKeyUsage(u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		g.cfg.Logger.Error("flushing key usage", "err", err)
		g.dirtyMu.Lock()
		defer g.dirtyMu.Unlock()
		for _, u := range batch {
			for _, ks := range dirty {
				if ks.owner == u.Owner {
					s := &ks.slots[slotIndex(u.Slot)]
					s.requests.Add(u.Requests)
					s.graceRequests.Add(u.GraceRequests)
					if ks.dirty.CompareAndSwap(false, true) {
						g.dirty = append(g.dirty, ks)
					}
				}
			}
		}
	}
	return err
}

// gatewayMetrics are the data plane's Prometheus series.
type gatewayMetrics struct {
	requests        *metrics.CounterVec
	upstreamLatency *metrics.HistogramVec
	authFailures    *metrics.CounterVec
	throttled       *metrics.CounterVec
	graceRequests   *metrics.CounterVec
	mirrored        *metrics.CounterVec
	mirrorDropped   *metrics.CounterVec
	revoked         *metrics.CounterVec
}

func newGatewayMetrics(r *metrics.Registry) gatewayMetrics {
	return gatewayMetrics{
		requests: r.Counter("rekey_gateway_requests_total", "Data-plane requests by endpoint, deployment, key slot and status; code=truncated for responses cut off at the gateway's response size limit.",
			"endpoint", "deployment", "slot", "code"),
		upstreamLatency: r.Histogram("rekey_gateway_upstream_latency_seconds", "Time from accepting a request to the upstream's response headers.",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}, "endpoint", "deployment"),
		authFailures:  r.Counter("rekey_gateway_auth_failures_total", "Requests refused for a missing, malformed or wrong credential.", "endpoint"),
		throttled:     r.Counter("rekey_gateway_throttled_total", "Requests answered 429, without their credential being checked, because their address failed authentication too often.", "endpoint"),
		graceRequests: r.Counter("rekey_gateway_grace_requests_total", "Requests that used a replaced key within the window recorded when it was replaced.", "endpoint", "slot"),
		mirrored:      r.Counter("rekey_gateway_mirrored_total", "Mirrored copies sent, by endpoint, deployment and upstream status.", "endpoint", "deployment", "code"),
		mirrorDropped: r.Counter("rekey_gateway_mirror_dropped_total", "Mirrored copies dropped because too many were in flight.", "endpoint", "deployment"),
		revoked:       r.Counter("rekey_gateway_streams_revoked_total", "Upgraded connections and streams closed because the credential they were admitted with stopped being valid.", "endpoint"),
	}
}
