package gateway

import (
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
	"strings"
	"sync"
	"time"
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
			if !qna { // drop "/endpoints/{name}"
				rest := esc[len("/endpoints/"):]
				if i := strings.IndexByte(rest, '/'); i >= 0 {
					esc = rest[i:]
				} else {
					esc = "/"
				}
			}
			path, err := url.PathUnescape(esc)
			if err != nil {
				path = esc
			}
			pr.Out.URL.Path, pr.Out.URL.RawPath = path, esc
			pr.SetURL(upstream)
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del(headerDeployment)
			pr.SetXForwarded()
		},
		Transport: g.transport,
		ModifyResponse: func(resp *http.Response) error {
			if deployment != "" {
				resp.Header.Set(headerDeployment, deployment)
			}
			resp.Header.Del(headerRequestID) // the client has the gateway's
			if g.cfg.MaxResponseBody > 0 {
				resp.Body = &cappedBody{ReadCloser: resp.Body, left: g.cfg.MaxResponseBody}
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
func (g *Gateway) forward(o *outcome, r *http.Request, p *httputil.ReverseProxy) {
	r.Header.Set(headerRequestID, o.reqID)
	o.proxied = true
	p.ServeHTTP(o.rec, r)
}

// errResponseTooLarge cuts off an upstream response over MaxResponseBody;
// the status has gone out already, so the client sees a truncated body.
var errResponseTooLarge = errors.New("upstream response larger than the gateway's limit")

type cappedBody struct {
	io.ReadCloser
	left int64
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
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
func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error, endpoint, deployment string, qna bool) {
	what := "deployment '" + deployment + "'"
	if qna {
		what = "the QnA runtime of " + endpoint
	}
	var tooBig *http.MaxBytesError
	status, msg := http.StatusBadGateway, "The upstream of "+what+" could not be reached or failed mid-response."
	switch {
	case errors.As(err, &tooBig):
		status, msg = http.StatusRequestEntityTooLarge, "The request body is larger than this gateway's limit of "+itoa64(tooBig.Limit)+" bytes."
	case errors.Is(context.Cause(r.Context()), errTokenExpired):
		status, msg = http.StatusUnauthorized, aadExpiredMidway
	case r.Context().Err() != nil:
		return // the client is gone
	case isTimeout(err):
		status, msg = http.StatusGatewayTimeout, "The upstream of "+what+" did not answer in time."
	}
	g.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "upstream error", slog.String("request_id", r.Header.Get(headerRequestID)),
		slog.String("endpoint", endpoint), slog.String("deployment", deployment), slog.String("err", err.Error()))
	if qna {
		writeQnA(w, status, "QnaRuntimeError", msg)
		return
	}
	writeML(w, status, msg)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// outcome collects what the access log and metrics say about a request.
type outcome struct {
	recorder
	rec                        *recorder // &o.recorder
	r                          *http.Request
	reqID                      string
	start                      time.Time
	endpoint, deployment, slot string
	proxied                    bool // the answer came from an upstream
}

func (g *Gateway) begin(w http.ResponseWriter, r *http.Request) *outcome {
	o := &outcome{recorder: recorder{ResponseWriter: w}, r: r, reqID: requestID(), start: time.Now(), slot: "none"}
	o.rec = &o.recorder
	w.Header().Set(headerRequestID, o.reqID)
	return o
}

// finish counts the request and writes its access-log line: ids, names,
// status and time, never a credential.
func (g *Gateway) finish(o *outcome) {
	status := o.rec.status
	if status == 0 {
		status = 499 // the client went away before an answer
	}
	g.m.requests.Add(1, o.endpoint, o.deployment, o.slot, statusText(status))
	if o.proxied && !o.headerAt.IsZero() {
		g.m.upstreamLatency.Observe(o.headerAt.Sub(o.start).Seconds(), o.endpoint, o.deployment)
	}
	if g.cfg.AccessLog {
		g.cfg.Logger.LogAttrs(o.r.Context(), slog.LevelInfo, "gateway request",
			slog.String("request_id", o.reqID), slog.String("method", o.r.Method), slog.String("endpoint", o.endpoint),
			slog.String("deployment", o.deployment), slog.String("slot", o.slot), slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(o.start).Microseconds())/1000))
	}
}

// recorder remembers the status and when headers went out; Unwrap lets
// the proxy flush streams.
type recorder struct {
	http.ResponseWriter
	status   int
	headerAt time.Time
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status, r.headerAt = code, time.Now()
	}
	r.ResponseWriter.WriteHeader(code)
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
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}
