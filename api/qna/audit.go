package qna

import (
	"net/http"

	"github.com/rekey-dev/rekey"
)

// keyPrincipal is the caller of the authoring API as the audit log names
// it: whoever holds one of the account's subscription keys. Which key
// authenticated is not recorded, so that nothing in the log narrows a key
// down.
var keyPrincipal = rekey.Principal{ID: "subscriptionKey", Name: "subscription key", Type: "Key"}

// action names the request's Azure data action, as Cognitive Services
// lists them for QnA Maker.
func (rt route) action(method string) rekey.Action {
	switch {
	case rt.op == opEndpointKeys:
		return rekey.ActionQnAKeysRead
	case rt.op == opEndpointKeysRefresh:
		return rekey.ActionQnAKeysRefresh
	case method == http.MethodGet:
		return rekey.ActionQnASettingsRead
	}
	return rekey.ActionQnASettingsWrite
}
