package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/rekey-dev/rekey"
)

// revokeInterval is how often open streams are re-checked between table
// changes, for windows that end by themselves (a grace period, a
// simulated propagation delay). A table change re-checks them at once.
const revokeInterval = 250 * time.Millisecond

// admitKind says what let a request in.
type admitKind uint8

const (
	admitNone  admitKind = iota
	admitKey             // an endpoint key
	admitToken           // an AMLToken for the endpoint's uid
	admitQnA             // a QnA endpoint key of an account
)

// admission is what a request was let in with, kept so that a response
// that outlives the request's admission (an upgraded connection, a
// stream) can be re-checked when keys change. It holds the credential's
// fingerprint, never the credential. It lives in the request's outcome,
// so ordinary requests pay no allocation for it.
type admission struct {
	kind   admitKind
	route  string // the endpoint's or account's Key()
	uid    string // admitToken: the endpoint UID the token was issued for
	name   string // the endpoint's name, or "qna:" and the account's, for logs and metrics
	reqID  string // the request's id, for the log line when it is closed
	fp     fingerprint
	g      *Gateway
	cancel context.CancelFunc // ends the proxied exchange
	// watched is set when the response turned out long-lived and the
	// admission joined Gateway.streams; owned by the request goroutine.
	watched bool
}

// streams are the admissions of open long-lived responses.
type streams struct {
	mu      sync.Mutex
	set     map[*admission]struct{} // guarded by mu
	running bool                    // a watch loop runs; guarded by mu
}

// watch registers a as a long-lived response: from now on it is closed
// within revokeInterval of its credential no longer being valid.
func (a *admission) watch() {
	if a.watched || a.kind == admitNone || a.g == nil {
		return
	}
	a.watched = true
	g := a.g
	g.streams.mu.Lock()
	if g.streams.set == nil {
		g.streams.set = map[*admission]struct{}{}
	}
	g.streams.set[a] = struct{}{}
	start := !g.streams.running
	g.streams.running = true
	g.streams.mu.Unlock()
	if start {
		go g.watchLoop()
	}
	// The credential may have lost its validity between admission and
	// the response, before it was registered; check it once now.
	g.tbl.mu.RLock()
	ok := g.tbl.stillAdmits(a, g.cfg.Now().UnixNano())
	g.tbl.mu.RUnlock()
	if !ok {
		g.revoke([]*admission{a})
	}
}

// unwatch removes a when its response ends.
func (a *admission) unwatch() {
	if !a.watched {
		return
	}
	a.g.streams.mu.Lock()
	delete(a.g.streams.set, a)
	a.g.streams.mu.Unlock()
}

// watchLoop re-checks open streams every revokeInterval while there are
// any, and ends with the last one or when the gateway stops.
func (g *Gateway) watchLoop() {
	tick := time.NewTicker(revokeInterval)
	defer tick.Stop()
	for {
		select {
		case <-g.closed:
		case <-tick.C:
			g.recheck()
		}
		g.streams.mu.Lock()
		select {
		case <-g.closed:
			g.streams.running = false
		default:
			g.streams.running = len(g.streams.set) > 0
		}
		running := g.streams.running
		g.streams.mu.Unlock()
		if !running {
			return
		}
	}
}

// recheck ends every open stream whose admitting credential is no longer
// valid: its key was rotated out (at once or at the end of the window
// recorded for it), or its endpoint or account is gone. It runs after
// every table change and every revokeInterval.
func (g *Gateway) recheck() {
	g.streams.mu.Lock()
	if len(g.streams.set) == 0 {
		g.streams.mu.Unlock()
		return
	}
	open := make([]*admission, 0, len(g.streams.set))
	for a := range g.streams.set {
		open = append(open, a)
	}
	g.streams.mu.Unlock()
	now := g.cfg.Now().UnixNano()
	var revoked []*admission
	g.tbl.mu.RLock()
	for _, a := range open {
		if !g.tbl.stillAdmits(a, now) {
			revoked = append(revoked, a)
		}
	}
	g.tbl.mu.RUnlock()
	g.revoke(revoked)
}

// revoke ends the exchanges of admissions no longer valid.
func (g *Gateway) revoke(revoked []*admission) {
	if len(revoked) == 0 {
		return
	}
	g.streams.mu.Lock()
	for _, a := range revoked {
		delete(g.streams.set, a)
	}
	g.streams.mu.Unlock()
	for _, a := range revoked {
		a.cancel()
		g.m.revoked.Add(1, a.name)
		g.cfg.Logger.Info("closed a long-lived response: the credential it was admitted with is no longer valid", "route", a.name, "request_id", a.reqID)
	}
}

// stillAdmits reports whether the credential behind a would be let in now,
// through the route it was let in by. Callers hold t.mu for reading.
func (t *table) stillAdmits(a *admission, now int64) bool {
	switch a.kind {
	case admitKey:
		ep := t.byKey[a.route]
		return ep != nil && ep.authMode == rekey.AuthKey && check(ep.keys, &a.fp, now).ok
	case admitToken:
		ep := t.byKey[a.route]
		return ep != nil && ep.authMode == rekey.AuthAMLToken && ep.uid == a.uid
	case admitQnA:
		acc := t.accounts[a.route]
		return acc != nil && check(acc.keys, &a.fp, now).ok
	}
	return false
}
