package throttle

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := New(3, 10*time.Second)
	t0 := time.Unix(1_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for i := range 2 {
		l.Fail("10.0.0.1", at(time.Duration(i)*time.Second))
		if _, ok := l.Throttled("10.0.0.1", at(time.Duration(i)*time.Second)); ok {
			t.Fatalf("throttled after %d failures, want only after 3", i+1)
		}
	}
	l.Fail("10.0.0.1", at(2*time.Second))
	if d, ok := l.Throttled("10.0.0.1", at(3*time.Second)); !ok || d != 9*time.Second {
		t.Errorf("after the 3rd failure: throttled %v for %v, want true for 9s (one window from the 3rd failure)", ok, d)
	}
	if _, ok := l.Throttled("10.0.0.2", at(3*time.Second)); ok {
		t.Errorf("another address is throttled")
	}
	if _, ok := l.Throttled("10.0.0.1", at(12*time.Second)); ok {
		t.Errorf("still throttled after the penalty")
	}
	// The count starts again after the penalty.
	l.Fail("10.0.0.1", at(12*time.Second))
	if _, ok := l.Throttled("10.0.0.1", at(12*time.Second)); ok {
		t.Errorf("one failure after the penalty throttles again")
	}
	// Failures spread wider than the window never throttle.
	for i := range 10 {
		l.Fail("10.0.0.3", at(time.Duration(i)*6*time.Second))
		if _, ok := l.Throttled("10.0.0.3", at(time.Duration(i)*6*time.Second)); ok {
			t.Fatalf("failures 6s apart throttled, with 3 per 10s allowed")
		}
	}
}

func TestNilLimiter(t *testing.T) {
	for _, l := range []*Limiter{nil, New(0, time.Second), New(5, 0)} {
		for range 100 {
			l.Fail("a", time.Now())
		}
		if _, ok := l.Throttled("a", time.Now()); ok {
			t.Errorf("a disabled limiter throttled")
		}
	}
}

// TestSweep: the table of addresses stays bounded.
func TestSweep(t *testing.T) {
	l := New(2, time.Second)
	t0 := time.Unix(1_000_000, 0)
	for i := range 300_000 {
		l.Fail("addr-"+strconv.Itoa(i), t0.Add(time.Duration(i)*time.Millisecond))
	}
	n := 0
	for i := range l.shards {
		n += len(l.shards[i].seen)
	}
	if n > 100_000+shardCount {
		t.Errorf("%d addresses tracked, want at most about 100,000", n)
	}
}

func TestAddrAndRetryAfter(t *testing.T) {
	for _, tt := range []struct{ remote, want string }{
		{"192.0.2.1:1234", "192.0.2.1"}, {"[2001:db8::1]:80", "2001:db8::/64"}, {"[2001:db8::ffff:1:2:3]:80", "2001:db8::/64"},
		{"[2001:db8:0:1::1]:80", "2001:db8:0:1::/64"}, {"[::1]:80", "::/64"}, {"[fe80::1%eth0]:80", "fe80::/64"},
		{"[::ffff:192.0.2.1]:80", "::ffff:192.0.2.1"}, {"pipe", "pipe"},
	} {
		r := &http.Request{RemoteAddr: tt.remote}
		if got := Addr(r); got != tt.want {
			t.Errorf("Addr(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{time.Nanosecond, "1"}, {time.Second, "1"}, {1500 * time.Millisecond, "2"}, {10 * time.Second, "10"}} {
		if got := RetryAfter(tt.d); got != tt.want {
			t.Errorf("RetryAfter(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// BenchmarkThrottled is the check every authenticated request pays: with
// nobody throttled, and with some other address serving a penalty.
func BenchmarkThrottled(b *testing.B) {
	now := time.Now()
	b.Run("none", func(b *testing.B) {
		l := New(20, 10*time.Second)
		for b.Loop() {
			l.Throttled("192.0.2.1", now)
		}
	})
	b.Run("other", func(b *testing.B) {
		l := New(1, 10*time.Second)
		l.Fail("198.51.100.7", now)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, ok := l.Throttled("192.0.2.1", now); ok {
					b.Error("throttled the wrong address")
					return
				}
			}
		})
	})
}
