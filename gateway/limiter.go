package gateway

import (
	"sync"
	"time"
)

// limiter throttles brute force: once an address has failed
// authentication more than limit times within a window, its further
// failing requests are refused until the window ends. It is consulted only
// for failures, so a request with a valid key is never throttled.
type limiter struct {
	limit  int
	window time.Duration

	mu   sync.Mutex
	seen map[string]*failures // guarded by mu
}

type failures struct {
	start time.Time
	count int
}

const maxTracked = 100_000 // addresses; beyond it expired entries are swept

func newLimiter(limit int, window time.Duration) *limiter {
	return &limiter{limit: limit, window: window, seen: map[string]*failures{}}
}

// fail records a failed attempt from addr at now and reports whether addr
// is over the limit, and for how much longer.
func (l *limiter) fail(addr string, now time.Time) (throttled bool, retryAfter time.Duration) {
	if l.limit <= 0 {
		return false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.seen[addr]
	if f == nil || now.Sub(f.start) >= l.window {
		if f == nil && len(l.seen) >= maxTracked {
			l.sweepLocked(now)
		}
		f = &failures{start: now}
		l.seen[addr] = f
	}
	f.count++
	if f.count > l.limit {
		return true, f.start.Add(l.window).Sub(now)
	}
	return false, 0
}

func (l *limiter) sweepLocked(now time.Time) {
	for a, f := range l.seen {
		if now.Sub(f.start) >= l.window {
			delete(l.seen, a)
		}
	}
}
