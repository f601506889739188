package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/throttle"
)

// exchange is one request on the fast engine: what its access-log line
// and metrics say, and for a proxied request the upstream request and
// response and the relay of the response body (exchange.Read and Close,
// which fasthttp calls as it writes the body). Pooled: a proxied request
// allocates its request id and little else.
type exchange struct {
	g    *Gateway
	s    *FastServer
	ctx  *fasthttp.RequestCtx
	conn *fastConn

	id                         [36]byte
	reqID                      string // views id: valid while the exchange is not pooled
	method                     string // set when the access log is on
	start, headerAt            time.Time
	endpoint, deployment, slot string
	status                     int
	proxied, truncated         bool
	adm                        admission
	until                      time.Time // an AADToken's expiry, or zero

	t       *target
	upReq   fasthttp.Request
	upResp  fasthttp.Response
	uri     []byte
	body    fastBody
	bodyBuf []byte
	keepBuf []byte        // fastBody.keep's storage
	stream  io.Reader     // the upstream's response body
	left    int64         // what MaxResponseBody still lets through; < 0: no limit
	up      *upstreamConn // the connection stream comes on
	timer   *time.Timer   // ends a stream at its token's expiry
	state   atomic.Int32  // exchangeOpen, then closed by Close or revoked
	watched bool          // the admission joined Gateway.streams: not pooled
}

const (
	exchangeOpen int32 = iota
	exchangeClosed
	exchangeRevoked
)

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func (g *Gateway) beginFast(s *FastServer, ctx *fasthttp.RequestCtx) *exchange {
	x := exchanges.Get().(*exchange)
	x.g, x.s, x.ctx, x.conn = g, s, ctx, connOf(ctx)
	newRequestID(&x.id)
	x.reqID, x.start, x.slot, x.left = b2s(x.id[:]), time.Now(), "none", -1
	if g.cfg.AccessLog {
		x.method = string(ctx.Method())
	}
	x.body = fastBody{x: x, limit: -1}
	ctx.Response.Header.Set(headerRequestID, x.reqID)
	return x
}

// done reports a request answered by the gateway itself (not relayed)
// and returns its exchange to the pool.
func (x *exchange) done() {
	if x.body.started && !x.body.eof {
		x.ctx.SetConnectionClose()
	}
	x.report()
	x.release()
}

func (x *exchange) report() {
	id := x.reqID
	if x.g.cfg.AccessLog || x.truncated {
		id = strings.Clone(id) // logged: not a view of a pooled exchange
	}
	x.g.report(context.Background(), id, x.method, x.endpoint, x.deployment, x.slot, x.status, x.truncated, x.proxied, x.start, x.headerAt)
}

func (x *exchange) release() {
	if x.watched || x.state.Load() == exchangeRevoked {
		return // a late revoke may still hold it; left to the collector
	}
	x.upReq.Reset()
	x.upResp.Reset()
	// Field by field: the upstream request and response keep their
	// buffers for the next exchange.
	x.g, x.s, x.ctx, x.conn = nil, nil, nil, nil
	x.reqID, x.method, x.start, x.headerAt = "", "", time.Time{}, time.Time{}
	x.endpoint, x.deployment, x.slot, x.status = "", "", "", 0
	x.proxied, x.truncated, x.adm, x.until = false, false, admission{}, time.Time{}
	x.t, x.uri, x.body, x.bodyBuf, x.keepBuf = nil, x.uri[:0], fastBody{}, x.bodyBuf[:0], x.keepBuf[:0]
	x.stream, x.left, x.up, x.timer = nil, 0, nil, nil
	x.state.Store(exchangeOpen)
	exchanges.Put(x)
}

// answer writes the gateway's own answer in Azure ML's shape.
func (x *exchange) answer(status int, msg string) {
	x.s.refuseUnread(x.ctx)
	x.status = status
	fastML(x.ctx, status, msg)
}

func (x *exchange) answerQnA(status int, code, msg string) {
	x.s.refuseUnread(x.ctx)
	x.status = status
	fastQnA(x.ctx, status, code, msg)
}

// fastScoring is serveScoring on the fast engine: the same checks in the
// same order, with the same answers.
func (g *Gateway) fastScoring(s *FastServer, ctx *fasthttp.RequestCtx, escPath, query string) {
	x := g.beginFast(s, ctx)
	x.endpoint = unknownEndpoint
	esc, ok := strings.CutPrefix(escPath, scoringPrefix)
	escName, escRest, hasRest := strings.Cut(esc, "/")
	name, err := escName, error(nil)
	if strings.IndexByte(escName, '%') >= 0 {
		name, err = url.PathUnescape(escName)
	}
	if !ok || err != nil || name == "" {
		x.answer(http.StatusNotFound, "No endpoint is named in this path. Scoring URIs have the form /endpoints/{endpointName}/score.")
		x.done()
		return
	}
	if hasDotSegment(escRest) {
		x.answer(http.StatusBadRequest, dotSegmentMessage)
		x.done()
		return
	}

	nowT := g.cfg.Now()
	now := nowT.UnixNano()
	addr := x.conn.addr
	cred := credentialBytes(ctx.Request.Header.Peek("Authorization"), "Bearer")
	v := g.judgeScoring(name, cred, addr, nowT, &x.adm)
	ep, ks, mode, m := v.ep, v.ks, v.mode, v.m
	x.until = v.until
	if ep == nil {
		x.answer(http.StatusNotFound, "No online endpoint named '"+rekey.Clip(name, 100)+"' exists on this server.")
		x.done()
		return
	}
	x.endpoint = ep.name
	if v.throttled {
		g.m.throttled.Add(1, x.endpoint)
		ctx.Response.Header.Set("Retry-After", throttle.RetryAfter(v.retry))
		x.answer(http.StatusTooManyRequests, throttle.Message(v.retry))
		x.done()
		return
	}
	var aadMsg string
	if mode == rekey.AuthAADToken {
		until, status, msg := g.verifyAAD(context.Background(), strings.Clone(cred), ep.key)
		switch status {
		case http.StatusOK:
			m.ok, x.until = true, until
		case http.StatusUnauthorized:
			aadMsg = msg
		default:
			x.answer(status, msg)
			x.done()
			return
		}
	}
	if !m.ok {
		msg := deniedMessage(mode, aadMsg)
		x.denied(addr, nowT, "Bearer")
		x.answer(http.StatusUnauthorized, msg)
		x.done()
		return
	}
	if mode == rekey.AuthKey {
		x.slot = slotNames[m.slot]
		g.recordUse(ks, m, now, x.endpoint)
	} else {
		x.slot = "token"
	}

	var d *deployment
	if pin := b2s(ctx.Request.Header.Peek(headerDeployment)); pin != "" {
		if d = ep.deployments[strings.ToLower(pin)]; d == nil {
			x.answer(http.StatusNotFound, "The deployment '"+rekey.Clip(pin, 100)+"' named in the azureml-model-deployment header does not exist in endpoint '"+ep.name+"'.")
			x.done()
			return
		}
	} else if ep.total > 0 {
		n := rand.Int32N(ep.total)
		for _, c := range ep.live {
			if n < c.cum {
				d = c.d
				break
			}
		}
	}
	if d == nil {
		x.answer(http.StatusNotFound, "No valid deployments to route to. Please check that the endpoint has at least one deployment with positive weight values or use a deployment specific header to route.")
		x.done()
		return
	}
	x.deployment = d.name
	if !x.limitBody() {
		x.done()
		return
	}
	t, _ := d.proxy.Transport.(*target)
	below := escRest
	if !hasRest {
		below = ""
	}
	var mirrored io.Reader
	if len(ep.mirrors) > 0 {
		mirrored = g.fastMirror(x, ep, "/"+below, query)
	}
	g.fastForward(x, t, "/", below, query, mirrored)
}

// fastQnA is serveQnA on the fast engine.
func (g *Gateway) fastQnA(s *FastServer, ctx *fasthttp.RequestCtx, escPath, query string) {
	x := g.beginFast(s, ctx)
	x.endpoint = "qna"
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		x.answerQnA(http.StatusMethodNotAllowed, "BadArgument", "generateAnswer and train take POST.")
		x.done()
		return
	}
	if hasDotSegment(escPath) {
		x.answerQnA(http.StatusBadRequest, "BadArgument", "The path must not contain '.' or '..' segments, in any encoding (such as %2e or ..%2f). Send /qnamaker/knowledgebases/{kbId}/generateAnswer or /train.")
		x.done()
		return
	}
	nowT := g.cfg.Now()
	now, addr := nowT.UnixNano(), x.conn.addr
	if retry, throttled := g.limiter.Throttled(addr, nowT); throttled {
		g.m.throttled.Add(1, x.endpoint)
		ctx.Response.Header.Set("Retry-After", throttle.RetryAfter(retry))
		x.answerQnA(http.StatusTooManyRequests, "QuotaExceeded", throttle.Message(retry))
		x.done()
		return
	}
	var (
		acc *account
		m   match
	)
	if cred := credentialBytes(ctx.Request.Header.Peek("Authorization"), "EndpointKey"); cred != "" {
		x.adm.fp = g.tbl.fp.of(cred)
		g.tbl.mu.RLock()
		if owner, ok := g.tbl.qna[x.adm.fp]; ok {
			if acc = g.tbl.accounts[strings.TrimSuffix(owner, qnaOwnerSuffix)]; acc != nil {
				m = check(acc.keys, &x.adm.fp, now)
				x.adm.kind, x.adm.route = admitQnA, acc.key
			}
		}
		g.tbl.mu.RUnlock()
	}
	if acc == nil || !m.ok {
		x.denied(addr, nowT, "EndpointKey")
		x.answerQnA(http.StatusUnauthorized, "Unauthorized", "Access denied due to invalid endpoint key. Send 'Authorization: EndpointKey <key>' with the primary or secondary endpoint key of a QnAMaker account.")
		x.done()
		return
	}
	x.endpoint, x.slot = "qna:"+acc.name, slotNames[m.slot]
	g.recordUse(acc.keys, m, now, x.endpoint)
	if acc.proxy == nil {
		x.answerQnA(http.StatusBadGateway, "QnaRuntimeError", "The QnAMaker account '"+acc.name+"' has no usable qnaRuntimeEndpoint.")
		x.done()
		return
	}
	if !x.limitBody() {
		x.done()
		return
	}
	t, _ := acc.proxy.Transport.(*target)
	g.fastForward(x, t, "", escPath, query, nil)
}

// denied counts a failed authentication against the client's address.
func (x *exchange) denied(addr string, now time.Time, scheme string) {
	x.g.m.authFailures.Add(1, x.endpoint)
	x.g.limiter.Fail(addr, now)
	x.ctx.Response.Header.Set("WWW-Authenticate", scheme)
}

// limitBody enforces MaxRequestBody at once when Content-Length says so;
// a chunked body is counted while it streams (fastBody).
func (x *exchange) limitBody() bool {
	max := x.g.cfg.MaxRequestBody
	if cl := x.ctx.Request.Header.ContentLength(); int64(cl) > max {
		x.answer(http.StatusRequestEntityTooLarge, "The request body is larger than this gateway's limit of "+itoa64(max)+" bytes.")
		return false
	} else if cl == -1 {
		x.body.limit = max
	}
	return true
}

// maxHeldBody is the largest request body held in memory rather than
// streamed: the upstream request can then be sent again when a kept-alive
// connection turns out closed (retryUnanswered).
const maxHeldBody = 16 << 10

// fastForward sends the request to t and relays the answer. The path
// sent is t's base path, then lead and esc (the escaped path below the
// gateway's prefix, or the whole path for the QnA runtime), then the
// query without credentials; the request id goes upstream in
// X-Request-Id, replacing any the client sent.
func (g *Gateway) fastForward(x *exchange, t *target, lead, esc, query string, mirrored io.Reader) {
	ctx := x.ctx
	x.t, x.proxied = t, true
	req := &x.upReq
	ctx.Request.Header.CopyTo(&req.Header)
	x.uri = append(append(append(x.uri[:0], t.prefix...), lead...), esc...)
	q := stripQuery(query)
	switch {
	case t.rawQuery != "" && q != "":
		x.uri = append(append(append(append(x.uri, '?'), t.rawQuery...), '&'), q...)
	case t.rawQuery != "":
		x.uri = append(append(x.uri, '?'), t.rawQuery...)
	case q != "":
		x.uri = append(append(x.uri, '?'), q...)
	}
	req.SetRequestURIBytes(x.uri)
	req.Header.SetHost(t.host)
	upgrade := isUpgrade(&ctx.Request.Header)
	stripRequestHeaders(&req.Header, upgrade)
	if upgrade {
		req.Header.SetBytesV("Upgrade", ctx.Request.Header.Peek("Upgrade"))
	}
	req.Header.Set("X-Forwarded-For", x.conn.ip)
	req.Header.SetBytesV("X-Forwarded-Host", ctx.Host())
	if ctx.IsTLS() {
		req.Header.Set("X-Forwarded-Proto", "https")
	} else {
		req.Header.Set("X-Forwarded-Proto", "http")
	}
	req.Header.Set(headerRequestID, x.reqID)
	if upgrade {
		g.fastUpgrade(x, t)
		return
	}
	if cl := ctx.Request.Header.ContentLength(); hasBody(&ctx.Request.Header) {
		x.body.init(ctx, x.s.opts.BodyTimeout)
		switch {
		case mirrored != nil:
			req.SetBodyStream(mirrored, cl)
		case cl > 0 && cl <= maxHeldBody:
			if cap(x.bodyBuf) < cl {
				x.bodyBuf = make([]byte, cl, maxHeldBody)
			}
			x.bodyBuf = x.bodyBuf[:cl]
			_, err := io.ReadFull(&x.body, x.bodyBuf)
			if err == nil {
				// Read the end too, so the body counts as read (the
				// connection stays open) and fasthttp has nothing to drain.
				var one [1]byte
				if n, _ := x.body.Read(one[:]); n > 0 || !x.body.eof {
					err = io.ErrUnexpectedEOF
				}
			}
			if err != nil {
				if x.body.err == nil {
					x.body.err = &badBody{err}
				}
				g.fastUpstreamError(x, x.body.err)
				return
			}
			req.SetBodyRaw(x.bodyBuf)
		default:
			if x.keepBuf == nil {
				x.keepBuf = make([]byte, 0, maxReplay)
			}
			x.body.keep = x.keepBuf[:0]
			req.SetBodyStream(&x.body, cl)
		}
	}
	resp := &x.upResp
	err := x.do(req, resp)
	if errors.Is(err, errStaleConn) && x.body.rewind() {
		// The kept-alive connection was found closed before the request
		// went out on it: send it again, with the part of the body
		// fasthttp had taken.
		req.SetBodyStream(&x.body, ctx.Request.Header.ContentLength())
		err = x.do(req, resp)
	}
	if err != nil {
		g.fastUpstreamError(x, err)
		return
	}
	x.up = connOfResponse(resp)
	if x.up != nil {
		// The header timeout is over; a streaming body is never cut off.
		x.up.SetReadDeadline(time.Time{})
	}
	size := resp.Header.ContentLength()
	if max := g.cfg.MaxResponseBody; max > 0 {
		if int64(size) > max {
			// Nothing has been sent yet: answer 502 rather than a status
			// line followed by a cut-off body.
			resp.CloseBodyStream()
			g.fastUpstreamError(x, errUpstreamTooLarge)
			return
		}
		x.left = max
	}
	x.status, x.headerAt = resp.StatusCode(), time.Now()
	h := &ctx.Response.Header
	resp.Header.CopyTo(h)
	h.ResetConnectionClose()
	stripResponseHeaders(h)
	h.Set(headerRequestID, x.reqID) // the client has the gateway's
	if t.deployment != "" {
		// Azure ML names the serving deployment in both.
		h.Set(headerDeployment, t.deployment)
		h.Set("azureml-model-session", t.deployment)
	}
	if x.body.started && !x.body.eof {
		// The upstream answered before the body was read to the end.
		ctx.SetConnectionClose()
	}
	x.stream = resp.BodyStream()
	if x.stream == nil {
		x.done()
		return
	}
	if size < 0 {
		size = -1
		// Without a Content-Length the upstream streams (chunked, SSE):
		// the response may last as long as the upstream likes.
		if x.status != http.StatusNoContent && x.status != http.StatusNotModified {
			x.watch()
		}
	}
	if !x.until.IsZero() {
		x.timer = time.AfterFunc(time.Until(x.until), x.revoke)
	}
	ctx.Response.SetBodyStream(x, size)
}

func (x *exchange) do(req *fasthttp.Request, resp *fasthttp.Response) error {
	if !x.until.IsZero() {
		return x.t.hc.DoDeadline(req, resp, x.until)
	}
	return x.t.hc.Do(req, resp)
}

// maxReplay is how much of a streamed request body is kept, so that the
// request can be sent again when its kept-alive connection turns out
// closed before any of it went out (fasthttp has taken at most a buffer
// of it by then).
const maxReplay = 64 << 10

// watch has the exchange's admission re-checked while its response lasts.
func (x *exchange) watch() {
	if x.adm.kind == admitNone {
		return
	}
	x.watched = true
	x.adm.g, x.adm.cancel, x.adm.name, x.adm.reqID = x.g, x.revoke, x.endpoint, strings.Clone(x.reqID)
	x.adm.watch()
}

// revoke ends the exchange's response: its credential stopped being
// valid. The relay's read fails, and fasthttp drops the client's
// connection, as the net/http engine aborts it.
func (x *exchange) revoke() {
	if x.state.CompareAndSwap(exchangeOpen, exchangeRevoked) && x.up != nil {
		x.up.Close()
	}
}

// Read relays the upstream's body, at most MaxResponseBody of it; each
// read gives the client BodyTimeout to take what was read.
func (x *exchange) Read(p []byte) (int, error) {
	if x.left == 0 {
		var one [1]byte // a body of exactly the limit is not cut off
		if n, err := x.stream.Read(one[:]); n == 0 && err != nil {
			return 0, err
		}
		x.truncated = true
		return 0, errResponseTooLarge
	}
	if x.left > 0 && int64(len(p)) > x.left {
		p = p[:x.left]
	}
	n, err := x.stream.Read(p)
	if x.left > 0 {
		x.left -= int64(n)
	}
	if d := x.s.opts.BodyTimeout; d > 0 && n > 0 {
		x.ctx.SetWriteDeadline(time.Now().Add(d))
	}
	return n, err
}

// Close ends a relayed exchange: fasthttp calls it once the body is
// written, or could not be.
func (x *exchange) Close() error {
	if x.timer != nil {
		x.timer.Stop()
	}
	x.state.CompareAndSwap(exchangeOpen, exchangeClosed)
	x.adm.unwatch()
	x.upResp.CloseBodyStream()
	x.report()
	x.release()
	return nil
}

// fastUpstreamError answers a failed exchange as proxyError does.
func (g *Gateway) fastUpstreamError(x *exchange, err error) {
	if x.body.err != nil {
		err = x.body.err // the client's body, not the upstream, failed
	}
	expired := ""
	if !x.until.IsZero() && !time.Now().Before(x.until) {
		expired = aadExpiredMidway
		if x.adm.kind == admitToken {
			expired = amlExpiredMidway
		}
	}
	status, msg, _ := g.upstreamAnswer(err, expired, false, x.t.endpoint, x.t.deployment, x.t.qna)
	g.cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn, "upstream error", slog.String("request_id", strings.Clone(x.reqID)),
		slog.String("endpoint", x.t.endpoint), slog.String("deployment", x.t.deployment), slog.String("err", err.Error()))
	x.ctx.Response.Header.Del("Content-Length")
	if x.t.qna {
		x.answerQnA(status, "QnaRuntimeError", msg)
	} else {
		x.answer(status, msg)
	}
	if x.body.err != nil {
		x.ctx.SetConnectionClose()
	}
	x.done()
}

// fastBody is the client's request body as the upstream request reads
// it: each read must make progress within BodyTimeout, a chunked body is
// counted against MaxRequestBody, and a failed read is the client's
// (badBody), not the upstream's.
type fastBody struct {
	x       *exchange
	ctx     *fasthttp.RequestCtx
	r       io.Reader
	d       time.Duration
	limit   int64 // < 0: none (Content-Length bodies are read to their length)
	n       int64
	started bool
	eof     bool
	err     error
	// keep records what was read, up to its capacity, for rewind;
	// replay is how much of it a rewound body has given again.
	keep      []byte
	noReplay  bool
	replaying bool
	replay    int
}

// rewind makes the body start again, if all that was read of it is kept.
func (b *fastBody) rewind() bool {
	if b.keep == nil || b.noReplay || b.err != nil {
		return false
	}
	b.replaying, b.replay = true, 0
	return true
}

func (b *fastBody) init(ctx *fasthttp.RequestCtx, d time.Duration) {
	b.ctx, b.d, b.started = ctx, d, true
	if b.r = ctx.RequestBodyStream(); b.r == nil {
		b.r = bytes.NewReader(ctx.Request.Body())
	}
}

func (b *fastBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.replaying {
		if b.replay < len(b.keep) {
			n := copy(p, b.keep[b.replay:])
			b.replay += n
			return n, nil
		}
		b.replaying = false
	}
	if b.eof {
		return 0, io.EOF
	}
	if b.d > 0 {
		b.ctx.SetReadDeadline(time.Now().Add(b.d))
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.keep != nil && !b.noReplay {
		if len(b.keep)+n <= cap(b.keep) {
			b.keep = append(b.keep, p[:n]...)
		} else {
			b.noReplay = true
		}
	}
	if b.limit >= 0 && b.n > b.limit {
		b.err = &http.MaxBytesError{Limit: b.limit}
		return 0, b.err
	}
	switch err {
	case nil:
	case io.EOF:
		b.eof = true
		if b.d > 0 {
			b.ctx.SetReadDeadline(time.Time{})
		}
	default:
		b.err = &badBody{err}
		err = b.err
	}
	return n, err
}

// fastMirror sends copies to the endpoint's mirrors through the shared
// mirror code, and returns the body the live request is to send (the
// part mirror read, then the rest), or nil when nothing was mirrored.
func (g *Gateway) fastMirror(x *exchange, ep *endpoint, escPath, query string) io.Reader {
	ctx := x.ctx
	hdr := http.Header{}
	for k, v := range ctx.Request.Header.All() {
		hdr.Add(string(k), string(v))
	}
	r := (&http.Request{Method: string(ctx.Method()), URL: &url.URL{RawQuery: query}, Header: hdr, Body: http.NoBody}).WithContext(context.Background())
	if cl := ctx.Request.Header.ContentLength(); hasBody(&ctx.Request.Header) {
		x.body.init(ctx, x.s.opts.BodyTimeout)
		r.ContentLength, r.Body = int64(cl), io.NopCloser(&x.body)
	}
	body := r.Body
	g.mirror(r, ep, escPath)
	if r.Body == body || r.ContentLength == 0 {
		return nil
	}
	return r.Body
}

// hopHeaders are the hop-by-hop headers a proxy does not pass on.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// stripRequestHeaders removes what never goes upstream: credentials, the
// deployment pin, forwarding headers (the gateway sets its own) and
// hop-by-hop headers; an upgrade keeps its Connection and Upgrade.
func stripRequestHeaders(h *fasthttp.RequestHeader, upgrade bool) {
	for _, k := range credentialHeaders {
		h.Del(k)
	}
	h.Del(headerDeployment)
	h.Del("Forwarded")
	h.Del("X-Forwarded-For")
	h.Del("X-Forwarded-Host")
	h.Del("X-Forwarded-Proto")
	h.Del("Expect") // answered by the gateway's server
	trailers := false
	if te := h.Peek("Te"); len(te) > 0 {
		trailers = bytes.Contains(bytes.ToLower(te), []byte("trailers"))
	}
	if c := h.Peek("Connection"); len(c) > 0 {
		for f := range bytes.SplitSeq(c, []byte(",")) {
			if f = bytes.TrimSpace(f); len(f) > 0 && !bytes.EqualFold(f, []byte("upgrade")) {
				h.DelBytes(f)
			}
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
	h.ResetConnectionClose()
	if trailers {
		h.Set("Te", "trailers")
	}
	if upgrade {
		h.Set("Connection", "Upgrade")
	}
}

// stripResponseHeaders removes hop-by-hop headers from an upstream's
// answer, and its X-Request-Id.
func stripResponseHeaders(h *fasthttp.ResponseHeader) {
	if c := h.Peek("Connection"); len(c) > 0 {
		for f := range bytes.SplitSeq(c, []byte(",")) {
			if f = bytes.TrimSpace(f); len(f) > 0 {
				h.DelBytes(f)
			}
		}
	}
	for _, k := range hopHeaders {
		if k != "Transfer-Encoding" {
			h.Del(k)
		}
	}
	h.Del(headerRequestID)
}

// isUpgrade reports a request for a protocol switch (a websocket).
func isUpgrade(h *fasthttp.RequestHeader) bool {
	if len(h.Peek("Upgrade")) == 0 {
		return false
	}
	for f := range bytes.SplitSeq(h.Peek("Connection"), []byte(",")) {
		if bytes.EqualFold(bytes.TrimSpace(f), []byte("upgrade")) {
			return true
		}
	}
	return false
}

// fastUpgrade proxies a protocol switch: the request goes upstream on a
// connection of its own, and once the upstream answers 101 both
// connections are spliced until either ends or the credential the
// request was admitted with stops being valid.
func (g *Gateway) fastUpgrade(x *exchange, t *target) {
	ctx := x.ctx
	addr := t.hc.Addr
	uc, err := g.dial(addr)
	if err != nil {
		g.fastUpstreamError(x, err)
		return
	}
	var c net.Conn = uc
	if t.hc.IsTLS {
		host, _, _ := net.SplitHostPort(addr)
		tc := tls.Client(c, &tls.Config{ServerName: host})
		c = tc
	}
	fail := func(err error) {
		c.Close()
		g.fastUpstreamError(x, err)
	}
	c.SetDeadline(time.Now().Add(g.cfg.ResponseHeaderTimeout))
	x.upReq.Header.SetRequestURIBytes(x.uri[t.originLen:])
	if _, err := c.Write(x.upReq.Header.Header()); err != nil {
		fail(err)
		return
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		fail(err)
		return
	}
	c.SetDeadline(time.Time{})
	x.status, x.headerAt = resp.StatusCode, time.Now()
	resp.Header.Del(headerRequestID)
	resp.Header.Set(headerRequestID, x.reqID)
	if t.deployment != "" {
		resp.Header.Set(headerDeployment, t.deployment)
		resp.Header.Set("azureml-model-session", t.deployment)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		// Refused upstream: relay its answer and end.
		c.SetReadDeadline(time.Now().Add(g.cfg.ResponseHeaderTimeout))
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		c.Close()
		if err != nil {
			g.fastUpstreamError(x, err)
			return
		}
		for k, vs := range resp.Header {
			if k == "Connection" || k == "Transfer-Encoding" || k == "Content-Length" {
				continue
			}
			for _, v := range vs {
				ctx.Response.Header.Add(k, v)
			}
		}
		ctx.SetStatusCode(resp.StatusCode)
		ctx.SetBody(body)
		x.done()
		return
	}
	head := &bytes.Buffer{}
	head.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	resp.Header.Write(head)
	head.WriteString("\r\n")
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(client net.Conn) {
		client.SetDeadline(time.Time{}) // an upgraded connection lasts as long as its peers like
		var once sync.Once
		closeBoth := func() { once.Do(func() { c.Close(); client.Close() }) }
		x.adm.g, x.adm.cancel, x.adm.name, x.adm.reqID = g, closeBoth, x.endpoint, x.reqID
		if x.adm.kind != admitNone {
			x.watched = true
			x.adm.watch()
		}
		if !x.until.IsZero() {
			x.timer = time.AfterFunc(time.Until(x.until), closeBoth)
		}
		if _, err := client.Write(head.Bytes()); err == nil {
			done := make(chan struct{})
			go func() {
				io.Copy(c, client)
				closeBoth()
				close(done)
			}()
			io.Copy(client, br)
			closeBoth()
			<-done
		}
		closeBoth()
		if x.timer != nil {
			x.timer.Stop()
		}
		x.adm.unwatch()
		x.report()
	})
}

// credentialBytes is credential for a fasthttp header value. The result
// aliases the header and is valid while the request is served.
func credentialBytes(v []byte, scheme string) string {
	s := b2s(v)
	if len(s) <= len(scheme)+1 || !strings.EqualFold(s[:len(scheme)], scheme) || s[len(scheme)] != ' ' {
		return ""
	}
	s = strings.TrimSpace(s[len(scheme)+1:])
	if len(s) > 4096 {
		return ""
	}
	return s
}

// b2s views b as a string without copying; the string is valid only as
// long as b is unchanged (here: while the request is served).
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
