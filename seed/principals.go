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
	if exists {
		if old.DisplayName == s.DisplayName && old.SecretDigest.Equal(digest) {
			r.outcome(Outcome{Type: "servicePrincipal", Name: s.AppID, Action: Unchanged})
			return
		}
		sp, action = old, Updated
		if !old.SecretDigest.Equal(digest) {
			sp.SecretCreated = now
		}
	}
	sp.DisplayName, sp.SecretDigest, sp.SecretHint = s.DisplayName, digest, s.Secret[:3]
	if _, err := r.tx.PutServicePrincipal(sp); r.failed(s.At, err) {
		return
	}
	r.outcome(Outcome{Type: "servicePrincipal", Name: s.AppID, Action: action})
}
