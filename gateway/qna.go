package gateway

import (
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey/throttle"
)

// serveQnA handles the QnA runtime: POST /qnamaker/knowledgebases/{kbId}/
// generateAnswer or /train with "Authorization: EndpointKey <key>". The
// key selects the QnAMaker account, and the request goes to that account's
// qnaRuntimeEndpoint with the same path.
func (g *Gateway) serveQnA(w http.ResponseWriter, r *http.Request) {
	o := g.begin(w, r)
	defer g.finish(o)
	o.endpoint = "qna"
	if r.Method != http.MethodPost {
		o.rec.Header().Set("Allow", "POST")
		writeQnA(o.rec, http.StatusMethodNotAllowed, "BadArgument", "generateAnswer and train take POST.")
		return
	}
	if hasDotSegment(r.URL.EscapedPath()) {
		writeQnA(o.rec, http.StatusBadRequest, "BadArgument", "The path must not contain '.' or '..' segments, in any encoding (such as %2e or ..%2f). Send /qnamaker/knowledgebases/{kbId}/generateAnswer or /train.")
		return
	}
	nowT := g.cfg.Now()
	now, addr := nowT.UnixNano(), throttle.Addr(r)
	if retry, throttled := g.limiter.Throttled(addr, nowT); throttled {
		g.refuseThrottled(o, retry, func(status int, msg string) { writeQnA(o.rec, status, "QuotaExceeded", msg) })
		return
	}
	var (
		acc *account
		m   match
	)
	if cred := credential(r.Header, "EndpointKey"); cred != "" {
		o.adm.fp = g.tbl.fp.of(cred)
		g.tbl.mu.RLock()
		if owner, ok := g.tbl.qna[o.adm.fp]; ok {
			if acc = g.tbl.accounts[strings.TrimSuffix(owner, qnaOwnerSuffix)]; acc != nil {
				m = check(acc.keys, &o.adm.fp, now)
				o.adm.kind, o.adm.route = admitQnA, acc.key
			}
		}
		g.tbl.mu.RUnlock()
	}
	if acc == nil || !m.ok {
		// The runtime's scheme is EndpointKey, not Bearer.
		g.denied(o, addr, nowT, "EndpointKey", func(status int) {
			writeQnA(o.rec, status, "Unauthorized", "Access denied due to invalid endpoint key. Send 'Authorization: EndpointKey <key>' with the primary or secondary endpoint key of a QnAMaker account.")
		})
		return
	}
	o.endpoint, o.slot = "qna:"+acc.name, slotNames[m.slot]
	g.recordUse(acc.keys, m, now, o.endpoint)
	if acc.proxy == nil {
		writeQnA(o.rec, http.StatusBadGateway, "QnaRuntimeError", "The QnAMaker account '"+acc.name+"' has no usable qnaRuntimeEndpoint.")
		return
	}
	if !g.limitBody(o, r) {
		return
	}
	g.forward(o, r, acc.proxy)
}
