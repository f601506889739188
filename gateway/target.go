package gateway

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// target is one upstream of the data plane (a deployment, or a QnA
// account's runtime) as both engines see it. It is the RoundTripper of the
// net/http engine's reverse proxy for that upstream, so the table, which
// keeps the proxy, hands the fast engine its target too.
type target struct {
	rt                   http.RoundTripper // the net/http engine's shared transport
	hc                   *fasthttp.HostClient
	prefix               string // scheme://host and the base path without its trailing '/'
	originLen            int    // of scheme://host in prefix
	host                 string // the Host the upstream is sent
	rawQuery             string // the base URL's query
	endpoint, deployment string
	qna                  bool
}

func (t *target) RoundTrip(r *http.Request) (*http.Response, error) { return t.rt.RoundTrip(r) }

// newTarget describes an upstream. Targets of one address share a
// HostClient, so a table change that rebuilds a route keeps its idle
// keep-alive connections.
func (g *Gateway) newTarget(u *url.URL, endpoint, deployment string, qna bool) *target {
	t := &target{rt: g.transport, endpoint: endpoint, deployment: deployment, qna: qna, host: u.Host, rawQuery: u.RawQuery}
	t.originLen = len(u.Scheme + "://" + u.Host)
	t.prefix = u.Scheme + "://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/")
	https := strings.EqualFold(u.Scheme, "https")
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if https {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	key := u.Scheme + "://" + addr
	g.clientsMu.Lock()
	defer g.clientsMu.Unlock()
	if g.clients == nil {
		g.clients = map[string]*fasthttp.HostClient{}
	}
	if t.hc = g.clients[key]; t.hc == nil {
		t.hc = &fasthttp.HostClient{
			Addr:  addr,
			IsTLS: https,
			Dial:  g.dialUpstream,
			// The wait for the response headers; cleared once they are
			// in, so a streaming body is never cut off (see fastForward).
			ReadTimeout: g.cfg.ResponseHeaderTimeout,
			// No practical cap, as with net/http's Transport: a client
			// connection has one request in flight at a time, and
			// --gateway-max-connections bounds those.
			MaxConns:       1 << 16,
			ReadBufferSize: 32 << 10, // upstream response headers up to 32 KiB
			// A connection the upstream closed meanwhile is found
			// before it is used (upstreamConn.Write).
			MaxIdleConnDuration:       30 * time.Second,
			MaxIdemponentCallAttempts: 2,
			RetryIfErr:                retryUnanswered,
			NoDefaultUserAgentHeader:  true,
			DisablePathNormalizing:    true,
			StreamResponseBody:        true,
			SecureErrorLogMessage:     true,
		}
		g.clients[key] = t.hc
	}
	return t
}

// retryUnanswered retries, once, a request whose kept-alive connection
// the upstream had closed. A request found stale before anything of it
// was sent (errStaleConn) is always sent again. Any other close may come
// after the upstream read the request and acted on it, so, as net/http's
// transport and nginx do, only an idempotent request, or one that carries
// an Idempotency-Key, is sent again: a POST is never sent twice. fasthttp
// never retries a streamed body; only small bodies, held in memory, are
// sent again.
func retryUnanswered(req *fasthttp.Request, attempts int, err error) (bool, bool) {
	if attempts >= 2 {
		return false, false
	}
	if errors.Is(err, errStaleConn) {
		return false, true
	}
	closed := errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	return false, closed && replayable(req)
}

// replayable reports whether req may be sent again after the upstream may
// have seen it: its method is idempotent (RFC 9110 section 9.2.2), or it
// carries an Idempotency-Key, as net/http's transport decides.
func replayable(req *fasthttp.Request) bool {
	switch string(req.Header.Method()) {
	case fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodOptions, fasthttp.MethodTrace, fasthttp.MethodPut, fasthttp.MethodDelete:
		return true
	}
	return len(req.Header.Peek("Idempotency-Key")) > 0 || len(req.Header.Peek("X-Idempotency-Key")) > 0
}

// dialUpstream opens a kept-alive upstream connection for a HostClient,
// within ConnectTimeout.
func (g *Gateway) dialUpstream(addr string) (net.Conn, error) {
	uc, err := g.dial(addr)
	if err != nil {
		return nil, err
	}
	uc.probe = true
	return uc, nil
}

func (g *Gateway) dial(addr string) (*upstreamConn, error) {
	c, err := (&net.Dialer{Timeout: g.cfg.ConnectTimeout, KeepAlive: 30 * time.Second}).Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	uc := &upstreamConn{Conn: c}
	uc.raddr = connAddr{Addr: c.RemoteAddr(), c: uc}
	return uc, nil
}

// upstreamConn is an upstream connection that a response can name: its
// RemoteAddr, which fasthttp records in the Response, leads back to it.
// The gateway needs the connection of a response to lift the header
// timeout for a streaming body, and to close a stream whose credential
// stopped being valid.
type upstreamConn struct {
	net.Conn
	raddr connAddr
	// lastRead is when a read last returned data (the end of the last
	// response, roughly), or 0 once a write followed it; only the
	// goroutine using the connection touches it.
	lastRead int64
	// probe: check for a close before a request (HostClient
	// connections, which are read only after a request is written; not
	// an upgraded connection, read and written at once).
	probe bool
}

// staleAfter is how long a kept-alive connection may idle before the
// next request on it first checks that the upstream has not closed it.
const staleAfter = 10 * time.Millisecond

// errStaleConn refuses to send on a kept-alive connection the upstream
// has closed, before anything of the request is sent: the request can
// then go on another connection.
var errStaleConn = errors.New("the upstream closed the kept-alive connection")

func (c *upstreamConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.lastRead = time.Now().UnixNano()
	}
	return n, err
}

// Write checks, at the start of a request on a connection that idled,
// that the upstream has not closed it meanwhile: fasthttp, unlike
// net/http's transport, does not watch idle connections.
func (c *upstreamConn) Write(p []byte) (int, error) {
	if c.probe && c.lastRead != 0 {
		idle := time.Now().UnixNano() - c.lastRead
		c.lastRead = 0
		if idle > int64(staleAfter) && closedByPeer(c.Conn) {
			return 0, errStaleConn
		}
	}
	return c.Conn.Write(p)
}

func (c *upstreamConn) RemoteAddr() net.Addr { return &c.raddr }

type connAddr struct {
	net.Addr
	c *upstreamConn
}

// connOfResponse returns the connection resp came on, or nil.
func connOfResponse(resp *fasthttp.Response) *upstreamConn {
	if a, ok := resp.RemoteAddr().(*connAddr); ok {
		return a.c
	}
	return nil
}
