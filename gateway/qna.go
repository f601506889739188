package gateway

import (
	"net/http"
	"strings"
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
	now := g.cfg.Now().UnixNano()
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
		g.denied(o, r, func(status int) {
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
