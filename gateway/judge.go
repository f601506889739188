package gateway

import (
	"crypto/subtle"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
)

// verdict is what the key table says of a scoring request: the endpoint
// it names (nil when none), and whether its credential passed. Both
// engines judge through judgeScoring, so they refuse and admit alike.
type verdict struct {
	ep        *endpoint
	ks        *keySet
	mode      rekey.AuthMode
	m         match
	retry     time.Duration // with throttled: when to come back
	throttled bool
	until     time.Time // an admitted AMLToken's expiry
}

// judgeScoring looks up the endpoint named name and judges cred, the
// request's Bearer credential, in one read of the table, filling adm with
// what let the request in. A throttled address's credential is not judged
// at all. AADToken credentials are left to verifyAAD, outside the lock.
// cred may alias a connection's buffer: nothing here keeps it.
func (g *Gateway) judgeScoring(name, cred, addr string, nowT time.Time, adm *admission) (v verdict) {
	now := nowT.UnixNano()
	g.tbl.mu.RLock()
	defer g.tbl.mu.RUnlock()
	if v.ep, v.ks = g.tbl.endpointNamed(name); v.ep == nil {
		return v
	}
	v.mode = v.ep.authMode
	adm.route = v.ep.key
	if v.retry, v.throttled = g.limiter.Throttled(addr, nowT); v.throttled {
		return v
	}
	switch {
	case cred == "":
	case v.mode == rekey.AuthKey:
		adm.fp = g.tbl.fp.of(cred)
		v.m = check(v.ks, &adm.fp, now)
		adm.kind = admitKey
	case v.mode == rekey.AuthAMLToken:
		uid, until, err := g.cfg.Keyring.VerifyTokenUntil(strings.Clone(cred), nowT)
		v.m.ok = err == nil && subtle.ConstantTimeCompare([]byte(uid), []byte(v.ep.uid)) == 1
		adm.kind, adm.uid = admitToken, v.ep.uid
		if v.m.ok {
			v.until = until
		}
	}
	return v
}

// deniedMessage is the 401's message for a credential that did not pass
// on an endpoint of mode; aadMsg is verifyAAD's account of an AADToken.
func deniedMessage(mode rekey.AuthMode, aadMsg string) string {
	switch mode {
	case rekey.AuthAMLToken:
		return "aml_token_auth_access_denied: send 'Authorization: Bearer <token>' with an unexpired token from this endpoint's token operation."
	case rekey.AuthAADToken:
		return aadMsg
	}
	return "key_auth_access_denied: send 'Authorization: Bearer <key>' with the primary or secondary key of this endpoint."
}
