package server

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// GuardStalls keeps a client that stops sending its request, or stops
// reading its response, from holding a connection, on any listener it
// wraps: the connection is dropped after d without progress. A slow but
// steady upload or download of any size is never cut off, as
// http.Server.ReadTimeout and WriteTimeout would.
//
// net/http reads an unread request body in two places, both without a
// deadline: before it writes the response headers (it drains up to
// 256 KiB, for clients that send the whole request before they read the
// answer), and again after the handler returns, to reuse the connection.
// A client that declared Content-Length: 200000 and sent one byte held a
// connection that way for as long as it liked, even when refused.
// GuardStalls therefore:
//
//   - gives every read of the body d to make progress;
//   - answers a response that starts before the request body was read to
//     the end with "Connection: close", which makes net/http send it at
//     once instead of draining first;
//   - after the handler returns with the body unread, sets a read
//     deadline in the past, so the post-handler drain ends at once and
//     the connection is closed (a handler's Close of an unread body is
//     left to the server for the same reason);
//   - gives every write and flush of the response d to make progress.
//
// d <= 0 disables the guard.
func GuardStalls(d time.Duration, next http.Handler) http.Handler {
	return guardStalls(d, 0, next)
}

// GuardStallsWithin is GuardStalls, and the whole request body must also
// arrive within total of the request's start. It is for listeners whose
// bodies are small (the management API's are at most --max-body), where
// a client that trickles one byte per stall window must not hold a
// connection either: an unauthenticated token request reads its body
// before it can judge the client.
func GuardStallsWithin(d, total time.Duration, next http.Handler) http.Handler {
	return guardStalls(d, total, next)
}

func guardStalls(d, total time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// A keep-alive connection carries the previous request's write
		// deadline; nothing is written until the handler writes.
		rc.SetWriteDeadline(time.Time{})
		gw := &guardedWriter{ResponseWriter: w, rc: rc, d: d}
		if r.Body != nil && r.Body != http.NoBody {
			gw.body = &guardedBody{body: r.Body, rc: rc, d: d}
			if total > 0 {
				gw.body.by = time.Now().Add(total)
			}
			gw.closeConn = r.ProtoMajor == 1
			r.Body = gw.body
		}
		defer gw.finish()
		next.ServeHTTP(gw, r)
	})
}

// guardedBody is a request body whose reads must make progress within d.
type guardedBody struct {
	body io.ReadCloser
	rc   *http.ResponseController
	d    time.Duration
	by   time.Time   // or zero: the whole body must have arrived by then
	eof  atomic.Bool // read to the end: nothing left for net/http to drain
}

func (b *guardedBody) Read(p []byte) (int, error) {
	deadline := time.Now().Add(b.d)
	if !b.by.IsZero() && b.by.Before(deadline) {
		deadline = b.by
	}
	b.rc.SetReadDeadline(deadline)
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.eof.Store(true)
		// net/http now reads in the background to notice a client that
		// goes away; a deadline left here would cancel a long response.
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// Close closes a body read to the end. An unread rest is left for the
// server to discard after the handler, when finish has bounded the wait.
func (b *guardedBody) Close() error {
	if b.eof.Load() {
		return b.body.Close()
	}
	return nil
}

// guardedWriter gives each write d to make progress, and marks a response
// "Connection: close" when it starts before the request body was read to
// the end.
type guardedWriter struct {
	http.ResponseWriter
	rc        *http.ResponseController
	d         time.Duration
	body      *guardedBody // nil: no request body
	closeConn bool         // HTTP/1.x: the header means something
	started   bool
}

func (w *guardedWriter) WriteHeader(code int) {
	if !w.started && code >= 200 {
		w.started = true
		if w.closeConn && !w.body.eof.Load() {
			w.Header().Set("Connection", "close")
		}
	}
	w.rc.SetWriteDeadline(time.Now().Add(w.d)) // a 1xx is written at once
	w.ResponseWriter.WriteHeader(code)
}

func (w *guardedWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.Write(p)
}

// FlushError is what http.ResponseController.Flush calls.
func (w *guardedWriter) FlushError() error {
	w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.rc.Flush()
}

// Flush is for handlers that assert http.Flusher.
func (w *guardedWriter) Flush() { w.FlushError() }

func (w *guardedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish runs after the handler, before net/http writes what is buffered
// and discards what is left of the body: neither may wait on the client
// longer than d, and an unread body not at all.
func (w *guardedWriter) finish() {
	w.rc.SetWriteDeadline(time.Now().Add(w.d))
	if w.body != nil && !w.body.eof.Load() {
		w.rc.SetReadDeadline(time.Now())
	}
}
