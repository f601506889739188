// Package throttle slows down credential guessing. An address that fails
// authentication limit times within a window serves a penalty of one
// window, during which every request it sends is refused before any
// credential is looked at: a guess made during the penalty is never
// judged, so throttling caps guesses at about limit per window. The
// gateway, the management API and the QnA authoring API each keep one
// Limiter.
//
// The price is that an attacker who shares an address with legitimate
// clients (behind a NAT or a proxy) can lock them out for a penalty at a
// time. Penalties are kept short (the window, 10 s by default) to bound
// that.
package throttle

import (
	"hash/maphash"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limiter counts failed authentications per address. A nil *Limiter
// throttles nothing. Safe for concurrent use.
type Limiter struct {
	limit  int
	window int64 // nanoseconds; also the penalty

	// latest is the end of the latest penalty handed out (Unix ns). While
	// no address is serving one, Throttled is a single atomic load.
	latest atomic.Int64
	seed   maphash.Seed
	shards [shardCount]shard
}

const (
	shardCount = 16
	// maxTracked bounds the addresses a shard tracks before it sweeps the
	// ones whose window and penalty are over.
	maxTracked = 100_000 / shardCount
)

type shard struct {
	mu   sync.Mutex
	seen map[string]*entry // guarded by mu
}

type entry struct {
	start int64 // window start, Unix ns
	count int   // failures in the window
	until int64 // end of the penalty, Unix ns; 0 if none
}

// New returns a Limiter that throttles an address for window once it has
// failed limit times within window. A limit below 1 returns nil, which
// throttles nothing.
func New(limit int, window time.Duration) *Limiter {
	if limit < 1 || window <= 0 {
		return nil
	}
	l := &Limiter{limit: limit, window: int64(window), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].seen = map[string]*entry{}
	}
	return l
}

func (l *Limiter) shard(addr string) *shard {
	return &l.shards[maphash.String(l.seed, addr)%shardCount]
}

// Throttled reports whether addr is serving a penalty at now, and for how
// much longer. Callers ask before they judge a credential.
func (l *Limiter) Throttled(addr string, now time.Time) (retryAfter time.Duration, throttled bool) {
	if l == nil {
		return 0, false
	}
	n := now.UnixNano()
	if n >= l.latest.Load() {
		return 0, false // nobody is serving a penalty
	}
	s := l.shard(addr)
	s.mu.Lock()
	var until int64
	if e := s.seen[addr]; e != nil {
		until = e.until
	}
	s.mu.Unlock()
	if n < until {
		return time.Duration(until - n), true
	}
	return 0, false
}

// Fail records a failed authentication from addr at now. The limit-th
// failure within a window starts a penalty of one window.
func (l *Limiter) Fail(addr string, now time.Time) {
	if l == nil {
		return
	}
	n := now.UnixNano()
	s := l.shard(addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.seen[addr]
	if e == nil {
		if len(s.seen) >= maxTracked {
			l.sweepLocked(s, n)
		}
		e = &entry{start: n}
		s.seen[strings.Clone(addr)] = e
	}
	if n-e.start >= l.window {
		e.start, e.count = n, 0
	}
	e.count++
	if e.count >= l.limit && n >= e.until {
		e.until, e.start, e.count = n+l.window, n+l.window, 0
		for {
			cur := l.latest.Load()
			if e.until <= cur || l.latest.CompareAndSwap(cur, e.until) {
				break
			}
		}
	}
}

func (l *Limiter) sweepLocked(s *shard, now int64) {
	for a, e := range s.seen {
		if now-e.start >= l.window && now >= e.until {
			delete(s.seen, a)
		}
	}
}

// Addr is the address a request is throttled by: the peer's IPv4
// address, or the /64 network of its IPv6 address, since one host is
// commonly handed a whole /64 and could otherwise guess from 2^64
// addresses. Forwarded headers are not trusted, since any client can set
// them.
func Addr(r *http.Request) string {
	return HostAddr(r.RemoteAddr)
}

// HostAddr is Addr for a peer's "host:port", for servers that do not
// hand requests over as *http.Request.
func HostAddr(hostport string) string {
	host := hostport
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = strings.Trim(host, "[]")
	if strings.IndexByte(host, ':') >= 0 {
		if a, err := netip.ParseAddr(host); err == nil && !a.Is4In6() {
			return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
		}
	}
	return host
}

// RetryAfter is the Retry-After header value for a penalty with d left:
// whole seconds, rounded up.
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

// Message is the error message of a throttled request, the same in every
// dialect.
func Message(d time.Duration) string {
	return "Too many failed authentications from this client's address: it is throttled, and its requests are refused without checking their credentials. Retry after " + RetryAfter(d) + " seconds."
}
