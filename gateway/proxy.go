package gateway

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/rekey-dev/rekey/reqinfo"
)

// Header names in canonical form: net/http copies any other spelling into
// a new canonical string on every Get, Set and Del.
const (
	headerRequestID  = "X-Request-Id"
	headerDeployment = "Azureml-Model-Deployment"
)

// newProxy returns the reverse proxy of one upstream: a deployment of an
// endpoint, or a QnA account's runtime. Each has its own, so its hooks
// know their target without per-request context values.
func (g *Gateway) newProxy(upstream *url.URL, endpoint, deployment string, qna bool) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			esc := pr.In.URL.EscapedPath()
			if !qna {
				esc = belowPrefix(esc)
			}
			pr.Out.URL = upstreamURL(upstream, esc, pr.In.URL.RawQuery)
			pr.Out.Host = "" // the upstream's own
			for _, h := range credentialHeaders {
				pr.Out.Header.Del(h)
			}
			pr.Out.Header.Del(headerDeployment)
			pr.SetXForwarded()
		},
		Transport: g.newTarget(upstream, endpoint, deployment, qna),
		ModifyResponse: func(resp *http.Response) error {
			if deployment != "" {
				// Azure ML names the serving deployment in both.
				resp.Header.Set(headerDeployment, deployment)
				resp.Header.Set("azureml-model-session", deployment)
			}
			resp.Header.Del(headerRequestID) // the client has the gateway's
			if g.cfg.MaxResponseBody > 0 {
				if resp.ContentLength > g.cfg.MaxResponseBody {
					// Nothing has been sent yet: answer 502 rather than
					// a status line followed by a cut-off body.
					resp.Body.Close()
					return errUpstreamTooLarge
				}
				o, _ := resp.Request.Context().Value(outcomeKey{}).(*outcome)
				resp.Body = &cappedBody{ReadCloser: resp.Body, left: g.cfg.MaxResponseBody, o: o}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			g.proxyError(w, r, err, endpoint, deployment, qna)
		},
		ErrorLog:   g.errorLog,
		BufferPool: bufferPool{},
	}
}

// forward sends r to p. The request id goes upstream in X-Request-Id,
// replacing any the client sent, as Azure ML does.
//
// The exchange runs under its own cancel, so that a response which
// turns out long-lived (an upgraded connection, a stream: see
// recorder.WriteHeader and Hijack) can be ended when the credential it
// was admitted with stops being valid (Gateway.recheck). Cancelling
// makes the reverse proxy close the upstream connection and, for an
// upgrade, the client's; a stream is aborted.
func (g *Gateway) forward(o *outcome, r *http.Request, p *httputil.ReverseProxy) {
	r.Header.Set(headerRequestID, o.reqID)
	o.proxied = true
	// The exchange's context carries the request id, for any line the
	// proxy's hooks log (see reqinfo.LogHandler), and the outcome when a
	// cut-off must be told apart (cappedBody); one request clone for all.
	ctx := reqinfo.With(r.Context(), &o.info)
	if g.cfg.MaxResponseBody > 0 {
		ctx = context.WithValue(ctx, outcomeKey{}, o)
	}
	ctx, cancel := context.WithCancel(ctx)
	o.adm.g, o.adm.cancel, o.adm.name, o.adm.reqID = g, cancel, o.endpoint, o.reqID
	o.rec.adm = &o.adm
	defer cancel()
	defer o.adm.unwatch() // also when the proxy aborts a stream with a panic
	p.ServeHTTP(o.rec, r.WithContext(ctx))
}

// errResponseTooLarge cuts off an upstream response over MaxResponseBody;
// the status has gone out already, so the client sees a truncated body.
var errResponseTooLarge = errors.New("upstream response larger than the gateway's limit")

// outcomeKey carries a request's outcome to its cappedBody, only when
// MaxResponseBody is set.
type outcomeKey struct{}

// cappedBody passes at most left bytes of an upstream body, then fails
// the copy (the proxy aborts the response) and marks the outcome
// truncated, so it is not counted and logged as a complete answer.
type cappedBody struct {
	io.ReadCloser
	left int64
	o    *outcome // or nil
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte // a body of exactly the limit is not cut off
		if n, err := c.ReadCloser.Read(one[:]); n == 0 && err != nil {
			return 0, err
		}
		if c.o != nil {
			c.o.truncated = true
		}
		return 0, errResponseTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.ReadCloser.Read(p)
	c.left -= int64(n)
	return n, err
}

// proxyError answers what went wrong with the upstream: 413 for a body over
// the limit, 504 for a timeout, 502 for anything else. A client that went
// away gets nothing.
// errUpstreamTooLarge refuses an upstream response whose Content-Length
// is over MaxResponseBody before any of it is sent.
var errUpstreamTooLarge = errors.New("upstream response declared larger than the gateway's limit")

func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error, endpoint, deployment string, qna bool) {
	status, msg, answer := g.upstreamAnswer(err, expiredMessage(context.Cause(r.Context())), r.Context().Err() != nil, endpoint, deployment, qna)
	if !answer {
		return // the client is gone
	}
	g.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "upstream error", slog.String("request_id", r.Header.Get(headerRequestID)),
		slog.String("endpoint", endpoint), slog.String("deployment", deployment), slog.String("err", err.Error()))
	if qna {
		writeQnA(w, status, "QnaRuntimeError", msg)
		return
	}
	writeML(w, status, msg)
}

// upstreamAnswer maps what went wrong with an exchange to its answer, for
// both engines. expired: the request's access token expired; gone: the
// client went away, and gets nothing (answer false).
func (g *Gateway) upstreamAnswer(err error, expired string, gone bool, endpoint, deployment string, qna bool) (status int, msg string, answer bool) {
	what := "deployment '" + deployment + "'"
	if qna {
		what = "the QnA runtime of " + endpoint
	}
	var tooBig *http.MaxBytesError
	status, msg = http.StatusBadGateway, "The upstream of "+what+" could not be reached or failed mid-response."
	switch {
	case errors.As(err, &tooBig):
		status, msg = http.StatusRequestEntityTooLarge, "The request body is larger than this gateway's limit of "+itoa64(tooBig.Limit)+" bytes."
	case expired != "":
		status, msg = http.StatusUnauthorized, expired
	case gone:
		return 0, "", false
	case errors.Is(err, errUpstreamTooLarge):
		msg = "The upstream of " + what + " answered with a body larger than this gateway's limit of " + itoa64(g.cfg.MaxResponseBody) + " bytes (--gateway-max-response-body)."
	case errors.As(err, new(*badBody)):
		status, msg = http.StatusBadRequest, "The request body could not be read: its chunked encoding is malformed or it was cut off."
	case isTimeout(err):
		status, msg = http.StatusGatewayTimeout, "The upstream of "+what+" did not answer in time."
	}
	return status, msg, true
}

func isTimeout(err error) bool {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) {
		return true
	}
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// outcome collects what the access log and metrics say about a request.
type outcome struct {
	recorder
	rec                        *recorder // &o.recorder
	r                          *http.Request
	reqID                      string
	info                       reqinfo.Info // the id, for the proxied exchange's context
	start                      time.Time
	endpoint, deployment, slot string
	proxied                    bool      // the answer came from an upstream
	truncated                  bool      // the upstream's body was cut off at MaxResponseBody
	adm                        admission // what let the request in
}

func (g *Gateway) begin(w http.ResponseWriter, r *http.Request) *outcome {
	o := &outcome{recorder: recorder{ResponseWriter: w}, r: r, reqID: requestID(), start: time.Now(), slot: "none"}
	o.rec = &o.recorder
	o.info.ID = o.reqID
	w.Header().Set(headerRequestID, o.reqID)
	return o
}

// finish counts the request and writes its access-log line.
func (g *Gateway) finish(o *outcome) {
	g.report(o.r.Context(), o.reqID, o.r.Method, o.endpoint, o.deployment, o.slot, o.rec.status, o.truncated, o.proxied, o.start, o.headerAt)
}

// report counts a request and writes its access-log line: ids, names,
// status and time, never a credential. Both engines report here.
func (g *Gateway) report(ctx context.Context, reqID, method, endpoint, deployment, slot string, status int, truncated, proxied bool, start, headerAt time.Time) {
	if status == 0 {
		status = 499 // the client went away before an answer
	}
	code := statusText(status)
	if truncated {
		// The client got the status line and part of the body: not a
		// success, so not counted under its status.
		code = "truncated"
	}
	g.m.requests.Add(1, endpoint, deployment, slot, code)
	if proxied && !headerAt.IsZero() {
		g.m.upstreamLatency.Observe(headerAt.Sub(start).Seconds(), endpoint, deployment)
	}
	if truncated {
		g.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "upstream response cut off at --gateway-max-response-body",
			slog.String("request_id", reqID), slog.String("endpoint", endpoint), slog.String("deployment", deployment),
			slog.Int64("limit", g.cfg.MaxResponseBody))
	}
	if g.cfg.AccessLog {
		attrs := []slog.Attr{slog.String("request_id", reqID), slog.String("method", method), slog.String("endpoint", endpoint),
			slog.String("deployment", deployment), slog.String("slot", slot), slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000)}
		if truncated {
			attrs = append(attrs, slog.Bool("truncated", true))
		}
		g.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "gateway request", attrs...)
	}
}

// recorder remembers the status and when headers went out; Unwrap lets
// the proxy flush streams. For a proxied request it also notices a
// long-lived response and has its admission watched.
type recorder struct {
	http.ResponseWriter
	status   int
	headerAt time.Time
	adm      *admission // set by forward
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status, r.headerAt = code, time.Now()
		// Without a Content-Length the upstream streams (chunked, SSE):
		// the response may last as long as the upstream likes.
		if r.adm != nil && code != http.StatusNoContent && code != http.StatusNotModified && r.Header().Get("Content-Length") == "" {
			r.adm.watch()
		}
	}
	r.ResponseWriter.WriteHeader(code)
}

// Hijack is how the reverse proxy takes over the client's connection for
// a protocol switch (101, such as a websocket): the connection then lasts
// as long as the peers like, so its admission is watched.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		if r.status == 0 {
			r.status, r.headerAt = http.StatusSwitchingProtocols, time.Now()
		}
		if r.adm != nil {
			r.adm.watch()
		}
	}
	return conn, brw, err
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status, r.headerAt = http.StatusOK, time.Now()
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func itoa(n int) string { return strconv.Itoa(n) }

// statusCodes holds "100" to "599", so labelling a request allocates nothing.
var statusCodes = func() (s [600]string) {
	for i := 100; i < len(s); i++ {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusText(code int) string {
	if code >= 100 && code < len(statusCodes) {
		return statusCodes[code]
	}
	return strconv.Itoa(code)
}
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// bufferPool lends the proxy its copy buffers, instead of a new 32 KiB
// allocation per request.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { return make([]byte, 32<<10) }}

func (bufferPool) Get() []byte { return buffers.Get().([]byte) }

//lint:ignore SA6002 boxing the slice header costs 24 bytes a request; a fresh buffer cost 32 KiB
func (bufferPool) Put(b []byte) { buffers.Put(b) }

// requestID returns a random version-4 GUID for x-request-id. It only has
// to be unique, not secret, so it comes from the runtime's fast
// per-thread generator rather than crypto/rand.
func requestID() string {
	var out [36]byte
	newRequestID(&out)
	return string(out[:])
}

// newRequestID writes a new request id into out, for callers that keep
// it without a string of its own.
func newRequestID(out *[36]byte) {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
}
