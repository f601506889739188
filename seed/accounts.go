package seed

import (
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
)

// account applies a Cognitive Services account through the ARM handler,
// then its chosen keys.
func (r *run) account(a Account) {
	id := rekey.AccountID{Subscription: r.f.Subscription, ResourceGroup: r.f.ResourceGroup, Name: a.Name}
	old, err := r.tx.Account(id)
	exists, ok := r.found(a.At, err)
	if !ok {
		return
	}
	type props struct {
		APIProperties       map[string]any `json:"apiProperties,omitempty"`
		CustomSubDomainName string         `json:"customSubDomainName,omitempty"`
		PublicNetworkAccess string         `json:"publicNetworkAccess,omitempty"`
	}
	body := struct {
		Location   string            `json:"location"`
		Kind       string            `json:"kind"`
		SKU        map[string]string `json:"sku"`
		Tags       map[string]string `json:"tags,omitempty"`
		Properties props             `json:"properties"`
	}{Location: a.Location, Kind: a.Kind, SKU: map[string]string{"name": a.SKU}, Tags: tagsWithGrace(a.Tags, a.GracePeriod)}
	runtime := a.QnARuntimeEndpoint
	out := Outcome{Type: "account", Name: a.Name, Action: Created}
	if exists {
		if a.Tags == nil {
			body.Tags = tagsWithGrace(old.Tags, a.GracePeriod)
		}
		body.Properties.APIProperties = maps.Clone(old.APIProperties)
		body.Properties.CustomSubDomainName, body.Properties.PublicNetworkAccess = old.CustomSubDomainName, old.PublicNetworkAccess
		if runtime == "" {
			runtime = old.QnARuntimeEndpoint
		}
		oldSKU := ""
		if old.SKU != nil {
			oldSKU = old.SKU.Name
		}
		out.Action = Unchanged
		if !strings.EqualFold(old.Kind, a.Kind) || normLocation(old.Location) != normLocation(a.Location) || oldSKU != a.SKU ||
			!equalTags(old.Tags, body.Tags) || old.QnARuntimeEndpoint != runtime {
			out.Action = Updated
		}
	}
	if runtime != "" {
		if body.Properties.APIProperties == nil {
			body.Properties.APIProperties = map[string]any{}
		}
		body.Properties.APIProperties["qnaRuntimeEndpoint"] = runtime
	}
	if out.Action != Unchanged && r.failed(a.At, r.call(http.MethodPut, id.String(), csVersion, body)) {
		return
	}
	acc, err := r.tx.Account(id)
	if r.failed(a.At, err) {
		return
	}
	// Accounts take no chosen keys over ARM (regenerateKey only draws new
	// ones), so chosen keys are sealed and stored here, as regenerateKey
	// stores the ones it draws.
	sets := []struct {
		owner      string
		keys       KeyPair
		names      [2]string
		grace      time.Duration
		readKeys   string
		applicable bool
	}{
		{id.SubscriptionKeys(), a.Keys, [2]string{"key1", "key2"}, 0, "rekey account keys list --name " + a.Name + r.cliScope(), true},
		{id.EndpointKeys(), a.EndpointKeys, [2]string{"endpointKeys.primary", "endpointKeys.secondary"}, acc.GracePeriod(),
			"rekey qna keys show --subscription-key <key1>", acc.IsQnAMaker()},
	}
	var hints []string
	for _, set := range sets {
		if !set.applicable {
			continue
		}
		stored, err := r.tx.Keys(set.owner)
		if r.failed(a.At, err) {
			return
		}
		grace := set.grace
		if out.Action == Created {
			grace = 0 // the drawn keys were never handed out
		}
		for i, s := range []struct {
			slot rekey.Slot
			v    string
		}{{rekey.Primary, set.keys.Primary}, {rekey.Secondary, set.keys.Secondary}} {
			if s.v == "" {
				if out.Action == Created {
					out.Generated = append(out.Generated, set.names[i])
					if len(hints) == 0 || hints[len(hints)-1] != set.readKeys {
						hints = append(hints, set.readKeys)
					}
				}
				continue
			}
			if holds(stored, s.slot, r.keyring.Digest(s.v)) {
				continue
			}
			if out.Action != Created {
				// Set at creation only: see Outcome.Kept.
				out.Kept = append(out.Kept, set.names[i])
				continue
			}
			// These keys select their account (the QnA authoring API and
			// runtime look them up by digest), so no other key may share
			// one: it would route one account's clients to another.
			others, err := r.tx.KeysByDigest(r.keyring.Digest(s.v))
			if r.failed(a.At, err) {
				return
			}
			if len(others) > 0 || (i == 1 && set.keys.Primary == s.v) {
				r.fail(a.At, "%s: this key is already in use by another key slot on this server; account keys select their account, so each must be unique", set.names[i])
				return
			}
			if _, err := r.tx.PutKey(r.keyring.Rotate(set.owner, s.slot, s.v, r.now(), grace)); r.failed(a.At, err) {
				return
			}
		}
	}
	out.ReadKeys = strings.Join(hints, "; ")
	r.outcome(out)
}
