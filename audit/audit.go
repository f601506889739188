// Package audit keeps rekey's audit log: who read or changed which key or
// resource, and how it ended. A Recorder wraps the management APIs
// (Middleware) and the store they write through (Store): a successful
// change's record is appended inside the change's own transaction, so an
// acknowledged rotation always has its record and a rolled-back one has
// none; a refused or failed request, and a read of keys or tokens, is
// recorded after the answer. Records never hold a key, token or secret.
package audit

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/reqinfo"
)

// Recorder writes audit records to a store and, optionally, a JSON-lines
// stream.
type Recorder struct {
	store  rekey.Store // unwrapped: the recorder's own writes are not audited
	logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time

	mu     sync.Mutex
	stream io.Writer // guarded by mu; nil writes no stream
}

// New returns a Recorder over store. stream, when not nil, receives every
// committed record as one JSON line (the API's shape), for shipping to a
// log system.
func New(store rekey.Store, logger *slog.Logger, stream io.Writer) *Recorder {
	return &Recorder{store: store, logger: logger, stream: stream, Now: time.Now}
}

type pendingKey struct{}

// pending is one request's audit state.
type pending struct {
	note    rekey.AuditNote
	base    rekey.AuditRecord // request id, correlation id, address, user agent
	method  string
	path    string
	written bool // a record was committed in a change's transaction
	status  int  // what that record says
}

// audited reports whether the request gets a record: every request of an
// authenticated caller that is not a plain read, and reads of keys.
func (p *pending) audited() bool {
	if p.note.Principal.ID == "" {
		return false // not authenticated: the access log and metrics have it
	}
	switch p.method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return p.note.Read
	}
	return true
}

// record builds the request's record with its result.
func (p *pending) record(now time.Time, status int, code string) rekey.AuditRecord {
	r := p.base
	r.Time = now.UTC()
	r.PrincipalID = p.note.Principal.ID
	r.PrincipalName = p.note.Principal.Name
	r.Action = string(p.note.Action)
	r.ResourceID = p.note.Resource
	if r.ResourceID == "" {
		r.ResourceID = clip(p.path, 1024)
	}
	r.KeySlot = p.note.KeySlot
	r.Status, r.ErrorCode = status, code
	return r
}

// describe fills the principal's appId and display name from the service
// principal it is, when it is one (its token names its appId).
func describe(tx rekey.Tx, r *rekey.AuditRecord) {
	if r.PrincipalName == "" {
		return
	}
	sp, err := tx.ServicePrincipal(r.PrincipalName)
	if err != nil || sp.ObjectID != r.PrincipalID {
		return
	}
	r.AppID = sp.AppID
	if sp.DisplayName != "" {
		r.PrincipalName = sp.DisplayName
	}
}

// Middleware records next's requests. Put it outside authentication: the
// dialects fill the request's AuditNote once they know the caller.
func (rec *Recorder) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := &pending{method: r.Method, path: r.URL.Path, base: rekey.AuditRecord{
			RequestID:     reqinfo.ID(r.Context()),
			CorrelationID: clip(r.Header.Get("x-ms-correlation-request-id"), 128),
			ClientAddress: clientAddress(r),
			UserAgent:     clip(r.UserAgent(), 512),
		}}
		ctx := context.WithValue(rekey.WithAuditNote(r.Context(), &p.note), pendingKey{}, p)
		cw := &captureWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r.WithContext(ctx))
		status := cw.status
		if status == 0 {
			status = http.StatusOK
		}
		if p.base.RequestID == "" {
			p.base.RequestID = clip(w.Header().Get("x-ms-request-id"), 128)
		}
		switch {
		case !p.audited():
		case p.written:
			if status != p.status {
				rec.logger.WarnContext(r.Context(), "audit: a change was recorded with another status than it answered",
					"recorded", p.status, "answered", status, "action", p.note.Action)
			}
		default:
			a := p.record(rec.Now(), status, errorCode(status, cw.body))
			// Not the request's context: a client that hung up still
			// gets its request recorded.
			ctx := context.WithoutCancel(r.Context())
			err := rec.store.Update(ctx, func(tx rekey.Tx) error {
				describe(tx, &a)
				return tx.AppendAudit(&a)
			})
			if err != nil {
				rec.logger.ErrorContext(r.Context(), "audit: recording a request", "err", err, "action", a.Action, "status", a.Status)
				return
			}
			rec.emit(&a)
		}
	})
}

// Store wraps s so that an Update made while serving an audited request
// appends the request's record in the same transaction, once, when the
// change succeeds. Give the APIs the wrapped store.
func (rec *Recorder) Store(s rekey.Store) rekey.Store { return &store{Store: s, rec: rec} }

type store struct {
	rekey.Store
	rec *Recorder
}

func (s *store) Update(ctx context.Context, fn func(rekey.Tx) error) error {
	p, _ := ctx.Value(pendingKey{}).(*pending)
	if p == nil || p.written || !p.audited() {
		return s.Store.Update(ctx, fn)
	}
	var a rekey.AuditRecord
	err := s.Store.Update(ctx, func(tx rekey.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		status := p.note.Status
		if status == 0 {
			status = http.StatusOK
		}
		a = p.record(s.rec.Now(), status, "")
		describe(tx, &a)
		return tx.AppendAudit(&a)
	})
	if err == nil {
		p.written, p.status = true, a.Status
		s.rec.emit(&a)
	}
	return err
}

// emit writes a committed record to the stream.
func (rec *Recorder) emit(a *rekey.AuditRecord) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.stream == nil {
		return
	}
	b, err := json.Marshal(Wire(a))
	if err == nil {
		_, err = rec.stream.Write(append(b, '\n'))
	}
	if err != nil {
		rec.logger.Error("audit: writing the stream", "err", err)
	}
}

// captureWriter notes the status and keeps the start of an error body, to
// read its wire error code.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   []byte
}

const maxErrorBody = 8 << 10

func (w *captureWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status >= 400 && len(w.body) < maxErrorBody {
		w.body = append(w.body, b[:min(len(b), maxErrorBody-len(w.body))]...)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *captureWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// errorCode reads the code of an error envelope ({"error":{"code":…}},
// the shape of every dialect rekey speaks), or names the status.
func errorCode(status int, body []byte) string {
	if status < 400 {
		return ""
	}
	var env struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error.Code != "" {
		return clip(env.Error.Code, 128)
	}
	return clip(http.StatusText(status), 128)
}

func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return clip(r.RemoteAddr, 64)
	}
	return host
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
