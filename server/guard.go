package server

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// GuardBody keeps a client that stops sending its request body from
// holding a connection, on any listener it wraps.
//
// net/http reads an unread request body in two places, both without a
// deadline unless http.Server.ReadTimeout is set (which would also cut off
// a slow but steady upload): before it writes the response headers
// (RFC 9112 lets a client send the whole request before reading the
// answer, so it drains up to 256 KiB), and again after the handler
// returns, to reuse the connection. A client that declares
// Content-Length: 200000 and sends one byte held both listeners that way
// for as long as it liked. GuardBody therefore:
//
//   - gives every read of the body d to make progress, so a stalled
//     upload fails within d while a steady one of any size goes through;
//   - answers a response whose request body was not read to the end with
//     "Connection: close", which makes net/http send it at once instead of
//     draining first;
//   - after the handler returns with the body unread, sets a read
//     deadline in the past, so the post-handler drain ends at once and the
//     connection is closed.
//
// A handler's Close of an unread body is deferred to the server (which
// closes it after the handler, under that deadline), so it does not wait
// on the client either. d <= 0 disables the guard.
func GuardBody(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b := &guardedBody{body: r.Body, rc: http.NewResponseController(w), d: d}
		r.Body = b
		defer b.finish()
		next.ServeHTTP(&guardedWriter{ResponseWriter: w, body: b, closeConn: r.ProtoMajor == 1}, r)
	})
}

// guardedBody is a request body whose reads must make progress within d.
type guardedBody struct {
	body io.ReadCloser
	rc   *http.ResponseController
	d    time.Duration
	eof  atomic.Bool // read to the end: nothing left for net/http to drain
}

func (b *guardedBody) Read(p []byte) (int, error) {
	b.rc.SetReadDeadline(time.Now().Add(b.d))
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

// finish runs after the handler: if the body was not read to the end, the
// connection must not wait for the rest of it.
func (b *guardedBody) finish() {
	if !b.eof.Load() {
		b.rc.SetReadDeadline(time.Now())
	}
}

// guardedWriter marks a response "Connection: close" when it starts before
// the request body was read to the end.
type guardedWriter struct {
	http.ResponseWriter
	body      *guardedBody
	closeConn bool // HTTP/1.x: the header means something
	started   bool
}

func (w *guardedWriter) WriteHeader(code int) {
	if !w.started && code >= 200 {
		w.started = true
		if w.closeConn && !w.body.eof.Load() {
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *guardedWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *guardedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
