package gateway

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/throttle"
)

// unknownEndpoint labels requests for endpoints that do not exist.
const unknownEndpoint = "(unknown)"

// slotNames label metrics and logs: the key slot a request used.
var slotNames = [...]string{"primary", "secondary"}

// serveScoring handles /endpoints/{name}/...: authenticate with the
// endpoint's auth mode, choose a deployment, forward what follows the
// prefix to its upstream.
func (g *Gateway) serveScoring(w http.ResponseWriter, r *http.Request) {
	o := g.begin(w, r)
	defer g.finish(o)
	// Metrics are labelled with known endpoints only, so requests for
	// made-up names cannot grow them without bound.
	o.endpoint = unknownEndpoint
	esc, ok := strings.CutPrefix(r.URL.EscapedPath(), scoringPrefix)
	escName, escRest, _ := strings.Cut(esc, "/")
	name, err := url.PathUnescape(escName)
	if !ok || err != nil || name == "" {
		writeML(o.rec, http.StatusNotFound, "No endpoint is named in this path. Scoring URIs have the form /endpoints/{endpointName}/score.")
		return
	}
	if hasDotSegment(escRest) {
		writeML(o.rec, http.StatusBadRequest, dotSegmentMessage)
		return
	}

	nowT := g.cfg.Now()
	now := nowT.UnixNano()
	addr := throttle.Addr(r)
	cred := credential(r.Header, "Bearer")
	v := g.judgeScoring(name, cred, addr, nowT, &o.adm)
	ep, ks, mode, m := v.ep, v.ks, v.mode, v.m
	if ep == nil {
		writeML(o.rec, http.StatusNotFound, "No online endpoint named '"+rekey.Clip(name, 100)+"' exists on this server.")
		return
	}
	o.endpoint = ep.name
	if v.throttled {
		g.refuseThrottled(o, v.retry, func(status int, msg string) { writeML(o.rec, status, msg) })
		return
	}
	var aadMsg string
	if mode == rekey.AuthAADToken {
		// Outside the table lock: a token not seen before may make the
		// verifier reload its signing keys.
		until, status, msg := g.verifyAAD(r.Context(), cred, ep.key)
		switch status {
		case http.StatusOK:
			m.ok = true
			var cancel context.CancelFunc
			r, cancel = untilExpiry(r, until, errTokenExpired)
			defer cancel()
		case http.StatusUnauthorized:
			aadMsg = msg
		default:
			writeML(o.rec, status, msg)
			return
		}
	}
	if !m.ok {
		msg := deniedMessage(mode, aadMsg)
		g.denied(o, addr, nowT, "Bearer", func(status int) { writeML(o.rec, status, msg) })
		return
	}
	if mode == rekey.AuthKey {
		o.slot = slotNames[m.slot]
		g.recordUse(ks, m, now, o.endpoint)
	} else {
		o.slot = "token"
	}
	if !v.until.IsZero() { // an AMLToken: the request ends when it expires
		var cancel context.CancelFunc
		r, cancel = untilExpiry(r, v.until, errAMLTokenExpired)
		defer cancel()
	}

	var d *deployment
	if pin := r.Header.Get(headerDeployment); pin != "" {
		if d = ep.deployments[strings.ToLower(pin)]; d == nil {
			writeML(o.rec, http.StatusNotFound, "The deployment '"+rekey.Clip(pin, 100)+"' named in the azureml-model-deployment header does not exist in endpoint '"+ep.name+"'.")
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
		writeML(o.rec, http.StatusNotFound, "No valid deployments to route to. Please check that the endpoint has at least one deployment with positive weight values or use a deployment specific header to route.")
		return
	}
	o.deployment = d.name
	if !g.limitBody(o, r) {
		return
	}
	if len(ep.mirrors) > 0 {
		g.mirror(r, ep, "/"+escRest)
	}
	g.forward(o, r, d.proxy)
}

// dotSegmentMessage refuses a path with a dot segment below the prefix.
const dotSegmentMessage = "The path must not contain '.' or '..' segments, in any encoding (such as %2e or ..%2f): rekey forwards the path below /endpoints/{endpointName} to the deployment as it is, and never above the deployment's base path. Send the path the model server expects, without dot segments."

// refuseThrottled answers a request from an address serving a penalty, whose
// credential was not checked.
func (g *Gateway) refuseThrottled(o *outcome, retry time.Duration, write func(status int, msg string)) {
	g.m.throttled.Add(1, o.endpoint)
	o.rec.Header().Set("Retry-After", throttle.RetryAfter(retry))
	write(http.StatusTooManyRequests, throttle.Message(retry))
}

// denied answers a failed authentication with 401 and the dialect's body,
// and counts the failure against the client's address.
func (g *Gateway) denied(o *outcome, addr string, now time.Time, scheme string, write func(status int)) {
	g.m.authFailures.Add(1, o.endpoint)
	g.limiter.Fail(addr, now)
	o.rec.Header().Set("WWW-Authenticate", scheme)
	write(http.StatusUnauthorized)
}

// limitBody enforces MaxRequestBody: at once when Content-Length says so,
// otherwise while the body streams (the proxy then answers 413).
func (g *Gateway) limitBody(o *outcome, r *http.Request) bool {
	if r.ContentLength > g.cfg.MaxRequestBody {
		writeML(o.rec, http.StatusRequestEntityTooLarge, "The request body is larger than this gateway's limit of "+itoa64(g.cfg.MaxRequestBody)+" bytes.")
		return false
	}
	if r.ContentLength < 0 { // chunked: count while it streams; otherwise the server reads no more than Content-Length
		r.Body = chunkedBody{http.MaxBytesReader(o.rec, r.Body, g.cfg.MaxRequestBody)}
	}
	return true
}

// chunkedBody marks the errors of reading a chunked request body as the
// client's (badBody), so that a malformed chunk is answered 400, not 502.
type chunkedBody struct{ io.ReadCloser }

func (b chunkedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &badBody{err}
	}
	return n, err
}

// badBody is an error reading the client's request body.
type badBody struct{ err error }

func (e *badBody) Error() string { return "reading the request body: " + e.err.Error() }
func (e *badBody) Unwrap() error { return e.err }

// maxMirrorBody is the largest body that is copied for mirroring; larger
// requests are not mirrored.
const maxMirrorBody = 1 << 20

// mirror sends copies of r to the endpoint's mirror deployments, each with
// its percentage; their answers are discarded, and a slow or failing
// mirror never affects the live request.
func (g *Gateway) mirror(r *http.Request, ep *endpoint, escPath string) {
	var picked []*deployment
	for _, m := range ep.mirrors {
		if rand.Int32N(100) < m.percent {
			picked = append(picked, m.d)
		}
	}
	if len(picked) == 0 || r.ContentLength > maxMirrorBody {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxMirrorBody+1))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
	if err != nil || len(body) > maxMirrorBody {
		return
	}
	for _, d := range picked {
		select {
		case g.sem <- struct{}{}:
		default:
			g.m.mirrorDropped.Add(1, ep.name, d.name)
			continue
		}
		u := upstreamURL(d.upstream, escPath, r.URL.RawQuery)
		req, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, u.String(), bytes.NewReader(body))
		if err != nil {
			<-g.sem
			continue
		}
		req.Header = r.Header.Clone()
		for _, h := range credentialHeaders {
			req.Header.Del(h)
		}
		req.Header.Del(headerDeployment)
		g.wg.Add(1)
		go func(name string) {
			defer g.wg.Done()
			defer func() { <-g.sem }()
			resp, err := g.mirrorc.Do(req)
			if err != nil {
				g.m.mirrored.Add(1, ep.name, name, "error")
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			g.m.mirrored.Add(1, ep.name, name, itoa(resp.StatusCode))
		}(d.name)
	}
}
