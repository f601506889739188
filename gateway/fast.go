package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/rekey-dev/rekey/throttle"
)

// FastOptions configure the fast engine's listener (FastServer).
type FastOptions struct {
	// TLS, when set, serves HTTPS.
	TLS *tls.Config
	// ReadHeaderTimeout bounds the wait for a request's headers, and
	// IdleTimeout a keep-alive connection's wait for the next request.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// BodyTimeout drops a client whose request body, or whose reading of
	// the response, makes no progress for this long (the semantics of
	// server.GuardStalls); 0 disables it.
	BodyTimeout time.Duration
	// Fallback is the gateway behind net/http middleware (fault
	// injection): while Divert reports true, every request is served by
	// it through an adaptor, as the net/http engine would. Both may be nil.
	Fallback http.Handler
	Divert   func() bool
	// Metrics, when set, serves GET /metrics on this listener.
	Metrics http.Handler
}

// FastServer serves the data plane on fasthttp: no goroutine per request
// beyond the connection's, no channel handoffs, pooled request state and
// keep-alive upstream connections per upstream address (see
// docs/decisions.md, "The gateway's HTTP layer"). It serves what
// Gateway.ServeHTTP serves, with the same answers.
type FastServer struct {
	g        *Gateway
	opts     FastOptions
	srv      *fasthttp.Server
	fallback fasthttp.RequestHandler
	metrics  fasthttp.RequestHandler
	probe    fasthttp.RequestHandler // the Gateway's own ServeHTTP, for /readyz
}

// NewFastServer returns the fast engine's server for g.
func (g *Gateway) NewFastServer(o FastOptions) *FastServer {
	s := &FastServer{g: g, opts: o, probe: fasthttpadaptor.NewFastHTTPHandler(g)}
	if o.Fallback != nil {
		s.fallback = fasthttpadaptor.NewFastHTTPHandler(o.Fallback)
	}
	if o.Metrics != nil {
		s.metrics = fasthttpadaptor.NewFastHTTPHandler(o.Metrics)
	}
	s.srv = &fasthttp.Server{
		Handler:           s.handle,
		ErrorHandler:      s.badRequest,
		StreamRequestBody: true,
		// fasthttp reads up to this much of a streamed body before the
		// handler runs (fasthttp's smallest is 1 byte): the gateway
		// answers a request, refused or not, without waiting for its body.
		// Bodies are limited by the gateway's own MaxRequestBody, after
		// the credential, as on the net/http engine.
		MaxRequestBodySize: 1,
		// Request headers up to 32 KiB (fasthttp's default is 4 KiB;
		// tokens and cookies can be long); larger get 431.
		ReadBufferSize:                32 << 10,
		ReadTimeout:                   o.ReadHeaderTimeout,
		IdleTimeout:                   o.IdleTimeout,
		DisableHeaderNamesNormalizing: false,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		CloseOnShutdown:               true,
		// An upgraded connection is closed by the gateway (fastUpgrade),
		// also when its credential stops being valid.
		KeepHijackedConns:     true,
		Logger:                fastLogger{g.cfg.Logger},
		SecureErrorLogMessage: true,
	}
	if o.IdleTimeout == 0 {
		s.srv.IdleTimeout = o.ReadHeaderTimeout
	}
	return s
}

// Serve accepts connections on ln until Shutdown.
func (s *FastServer) Serve(ln net.Listener) error {
	ln = &fastListener{Listener: ln}
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	return s.srv.Serve(ln)
}

// Shutdown stops accepting, and waits for open requests until ctx ends.
func (s *FastServer) Shutdown(ctx context.Context) error {
	return s.srv.ShutdownWithContext(ctx)
}

type fastLogger struct{ l *slog.Logger }

func (f fastLogger) Printf(format string, args ...any) {
	// fasthttp logs connection-level failures (a client that went away,
	// a malformed request); they are not the gateway's errors.
	f.l.Debug("gateway connection", "detail", strings.TrimSpace(fmt.Sprintf(format, args...)))
}

// badRequest answers a request fasthttp could not parse.
func (s *FastServer) badRequest(ctx *fasthttp.RequestCtx, err error) {
	ctx.SetConnectionClose()
	status := http.StatusBadRequest
	msg := "The request could not be parsed as HTTP/1.1."
	var small *fasthttp.ErrSmallBuffer
	if errors.As(err, &small) {
		status, msg = http.StatusRequestHeaderFieldsTooLarge, "The request's headers are too large."
	}
	fastML(ctx, status, msg)
}

// fastListener remembers each connection's throttling address and client
// IP once, so that requests do not format them again.
type fastListener struct{ net.Listener }

func (l *fastListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &fastConn{Conn: c, ip: c.RemoteAddr().String()}
	if h, _, err := net.SplitHostPort(fc.ip); err == nil {
		fc.ip = h
	}
	fc.addr = throttle.HostAddr(c.RemoteAddr().String())
	return fc, nil
}

type fastConn struct {
	net.Conn
	addr string // throttle.HostAddr of the peer
	ip   string // the peer's IP, for X-Forwarded-For
}

func connOf(ctx *fasthttp.RequestCtx) *fastConn {
	c := ctx.Conn()
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	fc, _ := c.(*fastConn)
	if fc == nil {
		// Served on a listener Serve did not wrap (tests of the handler).
		fc = &fastConn{Conn: c, addr: throttle.HostAddr(ctx.RemoteAddr().String()), ip: ctx.RemoteIP().String()}
	}
	return fc
}

// handle routes a request as Gateway.ServeHTTP does.
func (s *FastServer) handle(ctx *fasthttp.RequestCtx) {
	if d := s.opts.BodyTimeout; d > 0 {
		// The answer's headers (and a body written with them) get d from
		// when the handler returns, after any wait for the upstream; a
		// relayed body gets d per write (exchange.Read).
		defer func() {
			if !ctx.Hijacked() {
				ctx.SetWriteDeadline(time.Now().Add(d))
			}
		}()
	}
	esc, query, ok := splitRequestURI(ctx.Request.Header.RequestURI())
	path := esc
	if ok && strings.IndexByte(esc, '%') >= 0 {
		p, err := url.PathUnescape(esc)
		path, ok = p, err == nil
	}
	if !ok {
		s.refuseUnread(ctx)
		fastML(ctx, http.StatusBadRequest, "The request target is not a valid path.")
		return
	}
	if s.metrics != nil && path == "/metrics" {
		s.metrics(ctx)
		return
	}
	if s.fallback != nil && s.opts.Divert != nil && s.opts.Divert() {
		s.fallback(ctx)
		return
	}
	g := s.g
	switch {
	case strings.HasPrefix(path, "/endpoints/"):
		g.fastScoring(s, ctx, esc, query)
	case isQnARuntime(path):
		g.fastQnA(s, ctx, esc, query)
	case path == "/healthz":
		s.refuseUnread(ctx)
		fastProbe(ctx, http.StatusOK, "ok")
	case path == "/readyz":
		// Rare, and its answer is the net/http engine's exactly.
		s.refuseUnread(ctx)
		s.probe(ctx)
	default:
		s.refuseUnread(ctx)
		fastML(ctx, http.StatusNotFound, "No route for this path. Scoring URIs have the form /endpoints/{endpointName}/score.")
	}
}

// splitRequestURI splits a request target into its escaped path and raw
// query. An absolute-form target ("http://host/path") yields its path, as
// net/http's does; ok is false for a target that is neither.
func splitRequestURI(uri []byte) (esc, query string, ok bool) {
	s := b2s(uri)
	if len(s) == 0 {
		return "", "", false
	}
	if s[0] != '/' {
		rest, found := cutPrefixFold(s, "http://")
		if !found {
			rest, found = cutPrefixFold(s, "https://")
		}
		if !found {
			return "", "", false
		}
		i := strings.IndexAny(rest, "/?")
		if i < 0 {
			return "/", "", true
		}
		s = rest[i:]
		if s[0] == '?' {
			return "/", s[1:], true
		}
	}
	esc, query, _ = strings.Cut(s, "?")
	if !validEscaped(esc) {
		// As net/http's URL.EscapedPath does: a target with bytes a path
		// may not hold as they are ('#', a space) is escaped again, so
		// that an upstream sees them as path bytes, not a fragment.
		u, err := url.ParseRequestURI(esc)
		if err != nil {
			return "", "", false
		}
		esc = u.EscapedPath()
	}
	return esc, query, true
}

// validEscaped reports whether esc holds only what an escaped path may
// hold as it is (net/url's validEncoded).
func validEscaped(esc string) bool {
	for i := 0; i < len(esc); i++ {
		switch c := esc[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/%", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// refuseUnread marks an answer given before the request body was read:
// the connection closes after it rather than wait for the rest of the
// body (server.GuardStalls does the same on the net/http engine).
func (s *FastServer) refuseUnread(ctx *fasthttp.RequestCtx) {
	if hasBody(&ctx.Request.Header) {
		ctx.SetConnectionClose()
	}
}

func fastProbe(ctx *fasthttp.RequestCtx, status int, word string) {
	ctx.Response.Header.Set("Content-Type", "application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetStatusCode(status)
	ctx.WriteString(`{"status":"` + word + `"}` + "\n")
}

// fastML and fastQnA are writeML and writeQnA on the fast engine.
func fastML(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.Response.Header.Set("Content-Type", "application/json; charset=utf-8")
	ctx.SetStatusCode(status)
	ctx.Response.ResetBody()
	ctx.Write(mlBody(msg))
}

func fastQnA(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	ctx.Response.Header.Set("Content-Type", "application/json; charset=utf-8")
	ctx.SetStatusCode(status)
	ctx.Response.ResetBody()
	ctx.Write(qnaBody(code, msg))
}

// hasBody reports a request with a body: a Content-Length above 0, or
// chunked (-1). fasthttp reports -2 for a request with neither header.
func hasBody(h *fasthttp.RequestHeader) bool {
	cl := h.ContentLength()
	return cl > 0 || cl == -1
}
