package seed

import (
	"time"

	"github.com/rekey-dev/rekey"
)

// servicePrincipal creates or updates a service principal with its chosen
// secret, under the rules of rekey sp create and REKEY_SP_CLIENT_*.
func (r *run) servicePrincipal(s ServicePrincipal) {
	old, err := r.tx.ServicePrincipal(s.AppID)
	exists, ok := r.found(s.At, err)
	if !ok {
		return
	}
	now := r.now().Truncate(time.Second)
	digest := r.keyring.SecretDigest(s.Secret)
	sp := &rekey.ServicePrincipal{AppID: s.AppID, ObjectID: rekey.NewGUID(), Created: now, SecretCreated: now}
	action := Created
	var kept []string
	if exists {
		// A secret is set at creation only (see Outcome.Kept): one reset
		// since (rekey sp credential reset) must not come back.
		if !old.SecretDigest.Equal(digest) {
			kept = []string{"secret"}
		}
		if old.DisplayName == s.DisplayName {
			r.outcome(Outcome{Type: "servicePrincipal", Name: s.AppID, Action: Unchanged, Kept: kept})
			return
		}
		sp, action = old, Updated
		sp.DisplayName = s.DisplayName
		if _, err := r.tx.PutServicePrincipal(sp); r.failed(s.At, err) {
			return
		}
		r.outcome(Outcome{Type: "servicePrincipal", Name: s.AppID, Action: action, Kept: kept})
		return
	}
	sp.DisplayName, sp.SecretDigest, sp.SecretHint = s.DisplayName, digest, s.Secret[:3]
	if _, err := r.tx.PutServicePrincipal(sp); r.failed(s.At, err) {
		return
	}
	r.outcome(Outcome{Type: "servicePrincipal", Name: s.AppID, Action: action})
}
