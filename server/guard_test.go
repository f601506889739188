package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestGuardStallsKeepsHealthyConnections: the deadlines GuardStalls sets
// never hurt a client that keeps up. A connection that read its body and
// its response stays open, and serves the next request after more than
// the timeout of idleness; a request whose body the handler ignored is
// answered with Connection: close.
func TestGuardStallsKeepsHealthyConnections(t *testing.T) {
	const d = 100 * time.Millisecond
	srv := httptest.NewServer(GuardStalls(d, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		time.Sleep(2 * d) // slower than the timeout, between reading and writing
		io.WriteString(w, "ok")
	})))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i, tc := range []struct {
		req       string
		wantClose bool
	}{
		{"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", false},
		{"GET /read HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", true},
	} {
		if i > 0 {
			time.Sleep(2 * d) // idle longer than the timeout between requests
		}
		if _, err := io.WriteString(c, tc.req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d (%s): %v", i, strings.Fields(tc.req)[1], err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "ok" || resp.Close != tc.wantClose {
			t.Errorf("request %d: %d %q close=%v, want 200 \"ok\" close=%v", i, resp.StatusCode, body, resp.Close, tc.wantClose)
		}
	}
}

// BenchmarkGuardStalls measures what the guard's deadlines cost a small
// POST over a real keep-alive connection.
func BenchmarkGuardStalls(b *testing.B) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := io.ReadAll(r.Body)
		w.Write(p)
	})
	body := strings.Repeat("x", 1024)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", echo}, {"guarded", GuardStalls(20*time.Second, echo)}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(bc.h)
			defer srv.Close()
			c := srv.Client()
			for b.Loop() {
				resp, err := c.Post(srv.URL, "text/plain", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// TestGuardStallsWithinDropsTrickle: on a listener with a whole-body
// deadline, a client that sends one byte per stall window (never a
// stall) is still dropped once the total has passed.
func TestGuardStallsWithinDropsTrickle(t *testing.T) {
	const d, total = 300 * time.Millisecond, time.Second
	srv := httptest.NewServer(GuardStallsWithin(d, total, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			return // the deadline cut the body off
		}
		io.WriteString(w, "ok")
	})))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
	dropped := false
	for i := 0; i < 40 && !dropped; i++ { // at most 40 × d/2 = 6 s
		time.Sleep(d / 2)
		if _, err := io.WriteString(c, "a"); err != nil {
			dropped = true
		}
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil && !isTimeout(err) {
			dropped = true
		}
	}
	if !dropped {
		t.Fatalf("a body trickled at one byte per %v was still being read after %v; want it dropped after %v", d/2, time.Since(start), total)
	}
	if el := time.Since(start); el > total+2*d {
		t.Errorf("dropped after %v, want about %v", el, total)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
