package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/rekey-dev/rekey"
)

// target is where one request goes; the proxy hooks read it from the
// request context.
type target struct {
	upstream   *url.URL
	escPath    string // escaped path to append to the upstream's path
	deployment string // "" for the QnA runtime
	endpoint   string
	reqID      string
	start      time.Time
	qna        bool // error bodies in the QnA dialect
}

type targetKey struct{}

func (g *Gateway) forward(o *outcome, r *http.Request, t *target) {
	g.proxy.ServeHTTP(o.rec, r.WithContext(context.WithValue(r.Context(), targetKey{}, t)))
}

// rewrite builds the upstream request: the path below the prefix appended
// to the upstream URL's path, query and body untouched, the client's
// credential and routing header removed.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	t := pr.In.Context().Value(targetKey{}).(*target)
	path, err := url.PathUnescape(t.escPath)
	if err != nil {
		path = t.escPath
	}
	pr.Out.URL.Path, pr.Out.URL.RawPath = path, t.escPath
	pr.SetURL(t.upstream)
	pr.Out.Header.Del("Authorization")
	pr.Out.Header.Del("azureml-model-deployment")
	pr.SetXForwarded()
	pr.Out.Header.Set("x-request-id", t.reqID)
}

func (g *Gateway) modifyResponse(resp *http.Response) error {
	t := resp.Request.Context().Value(targetKey{}).(*target)
	if t.deployment != "" {
		resp.Header.Set("azureml-model-deployment", t.deployment)
	}
	resp.Header.Del("x-request-id") // the client already has the gateway's
	g.m.upstreamLatency.Observe(time.Since(t.start).Seconds(), t.endpoint, t.deployment)
	if g.cfg.MaxResponseBody > 0 {
		resp.Body = &cappedBody{ReadCloser: resp.Body, left: g.cfg.MaxResponseBody}
	}
	return nil
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
func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	t := r.Context().Value(targetKey{}).(*target)
	var tooBig *http.MaxBytesError
	status, msg := http.StatusBadGateway, "The upstream of "+what(t)+" could not be reached or failed mid-response."
	switch {
	case errors.As(err, &tooBig):
		status, msg = http.StatusRequestEntityTooLarge, "The request body is larger than this gateway's limit of "+itoa64(tooBig.Limit)+" bytes."
	case r.Context().Err() != nil:
		return // the client is gone
	case isTimeout(err):
		status, msg = http.StatusGatewayTimeout, "The upstream of "+what(t)+" did not answer in time."
	}
	g.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "upstream error", slog.String("request_id", t.reqID),
		slog.String("endpoint", t.endpoint), slog.String("deployment", t.deployment), slog.String("err", err.Error()))
	if t.qna {
		writeQnA(w, status, "QnaRuntimeError", msg)
		return
	}
	writeML(w, status, msg)
}

func what(t *target) string {
	if t.qna {
		return "the QnA runtime of " + t.endpoint
	}
	return "deployment '" + t.deployment + "'"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// outcome collects what the access log and metrics say about a request.
type outcome struct {
	rec                        *recorder
	r                          *http.Request
	reqID                      string
	start                      time.Time
	endpoint, deployment, slot string
}

func (g *Gateway) begin(w http.ResponseWriter, r *http.Request) *outcome {
	o := &outcome{rec: &recorder{ResponseWriter: w}, r: r, reqID: rekey.NewGUID(), start: time.Now(), slot: "none"}
	w.Header().Set("x-request-id", o.reqID)
	return o
}

// finish counts the request and writes its access-log line: ids, names,
// status and time, never a credential.
func (g *Gateway) finish(o *outcome) {
	status := o.rec.status
	if status == 0 {
		status = 499 // the client went away before an answer
	}
	g.m.requests.Add(1, o.endpoint, o.deployment, o.slot, strconv.Itoa(status))
	if g.cfg.AccessLog {
		g.cfg.Logger.LogAttrs(o.r.Context(), slog.LevelInfo, "gateway request",
			slog.String("request_id", o.reqID), slog.String("method", o.r.Method), slog.String("endpoint", o.endpoint),
			slog.String("deployment", o.deployment), slog.String("slot", o.slot), slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(o.start).Microseconds())/1000))
	}
}

// recorder remembers the status; Unwrap lets the proxy flush streams.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
