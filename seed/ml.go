package seed

import (
	"maps"
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
)

// Workspaces, online endpoints and deployments, through the ARM API's
// Microsoft.MachineLearningServices handlers.

// workspace applies a workspace: a PUT when it is new or differs.
func (r *run) workspace(w Workspace) {
	id := r.wsID(w.Name)
	old, err := r.tx.Workspace(id)
	exists, ok := r.found(w.At, err)
	if !ok {
		return
	}
	want := struct {
		Location   string            `json:"location"`
		Kind       string            `json:"kind,omitempty"`
		Tags       map[string]string `json:"tags,omitempty"`
		Properties map[string]string `json:"properties"`
	}{Location: w.Location, Tags: w.Tags, Properties: map[string]string{}}
	action := Created
	if exists {
		want.Kind = old.Kind
		if w.Tags == nil {
			want.Tags = old.Tags
		}
		want.Properties["friendlyName"] = deref(w.FriendlyName, old.FriendlyName)
		want.Properties["description"] = deref(w.Description, old.Description)
		if normLocation(old.Location) == normLocation(w.Location) && equalTags(old.Tags, want.Tags) &&
			old.FriendlyName == want.Properties["friendlyName"] && old.Description == want.Properties["description"] {
			r.outcome(Outcome{Type: "workspace", Name: w.Name, Action: Unchanged})
			return
		}
		action = Updated
	} else {
		for k, v := range map[string]*string{"friendlyName": w.FriendlyName, "description": w.Description} {
			if v != nil {
				want.Properties[k] = *v
			}
		}
	}
	if r.failed(w.At, r.call(http.MethodPut, id.String(), mlVersion, want)) {
		return
	}
	r.outcome(Outcome{Type: "workspace", Name: w.Name, Action: action})
}

// endpointBody is an online endpoint's PUT body.
type endpointBody struct {
	Location   string            `json:"location"`
	Kind       string            `json:"kind,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	SKU        *rekey.SKU        `json:"sku,omitempty"`
	Properties struct {
		AuthMode            string            `json:"authMode"`
		Description         string            `json:"description"`
		Properties          map[string]string `json:"properties,omitempty"`
		Compute             string            `json:"compute,omitempty"`
		Keys                map[string]string `json:"keys,omitempty"`
		Traffic             map[string]int32  `json:"traffic,omitempty"`
		MirrorTraffic       map[string]int32  `json:"mirrorTraffic,omitempty"`
		PublicNetworkAccess string            `json:"publicNetworkAccess,omitempty"`
	} `json:"properties"`
}

// endpoint applies an endpoint in three steps: the endpoint itself (with
// its chosen keys at creation), its deployments, then its traffic, which
// may only name deployments that exist.
func (r *run) endpoint(e *Endpoint) {
	id := rekey.EndpointID{Workspace: r.wsID(e.Workspace), Name: e.Name}
	name := e.Workspace + "/" + e.Name
	old, err := r.tx.Endpoint(id)
	exists, ok := r.found(e.At, err)
	if !ok {
		return
	}
	location := e.Location
	if location == "" {
		if exists {
			location = old.Location
		} else if ws, err := r.tx.Workspace(id.Workspace); err == nil {
			location = ws.Location
		} else if rekey.ErrorCode(err) == rekey.NotFound {
			r.fail(e.At, "the workspace '%s' does not exist; declare it under workspaces", e.Workspace)
			return
		} else {
			r.failed(e.At, err)
			return
		}
	}
	var body endpointBody
	body.Location, body.Tags = location, e.Tags
	body.Properties.AuthMode, body.Properties.Description = string(e.AuthMode), deref(e.Description, "")
	if e.GracePeriod != nil {
		body.Properties.Properties = map[string]string{rekey.GracePeriodProperty: *e.GracePeriod}
	}
	out := Outcome{Type: "endpoint", Name: name, Action: Unchanged}
	if !exists {
		if body.Properties.AuthMode == "" {
			body.Properties.AuthMode = string(rekey.AuthKey)
		}
		body.Properties.Keys = map[string]string{}
		for slot, v := range map[string]string{"primaryKey": e.Keys.Primary, "secondaryKey": e.Keys.Secondary} {
			if v != "" {
				body.Properties.Keys[slot] = v
			}
		}
		if body.Properties.AuthMode == string(rekey.AuthKey) {
			for _, s := range []struct {
				slot, v string
			}{{"primary", e.Keys.Primary}, {"secondary", e.Keys.Secondary}} {
				if s.v == "" {
					out.Generated = append(out.Generated, s.slot)
				}
			}
			if len(out.Generated) > 0 {
				out.ReadKeys = "rekey keys list --workspace " + e.Workspace + " --endpoint " + e.Name + r.cliScope()
			}
		}
		if r.failed(e.At, r.call(http.MethodPut, id.String(), mlVersion, body)) {
			return
		}
		out.Action = Created
	} else {
		r.fillEndpoint(&body, e, old)
		if body.Properties.AuthMode != string(old.AuthMode) || body.Properties.Description != old.Description ||
			!equalTags(body.Tags, old.Tags) || normLocation(location) != normLocation(old.Location) ||
			(e.GracePeriod != nil && *e.GracePeriod != old.Properties[rekey.GracePeriodProperty]) {
			if r.failed(e.At, r.call(http.MethodPut, id.String(), mlVersion, body)) {
				return
			}
			out.Action = Updated
		}
		if kept, ok := r.endpointKeys(e, id); !ok {
			return
		} else {
			out.Kept = kept
		}
	}
	// The endpoint's line comes before its deployments'; its action may
	// still change with the traffic below.
	r.outcome(out)
	slot := len(r.res.Resources) - 1
	for _, d := range e.Deployments {
		r.deployment(d, id, location, name)
	}
	if e.Traffic != nil || e.Mirror != nil {
		cur, err := r.tx.Endpoint(id)
		if r.failed(e.At, err) {
			return
		}
		r.fillEndpoint(&body, e, cur)
		body.Properties.Keys = nil
		if e.Traffic != nil {
			body.Properties.Traffic = e.Traffic
		}
		if e.Mirror != nil {
			body.Properties.MirrorTraffic = e.Mirror
		}
		if !equalWeights(body.Properties.Traffic, cur.Traffic) || !equalWeights(body.Properties.MirrorTraffic, cur.MirrorTraffic) {
			if r.failed(e.At, r.call(http.MethodPut, id.String(), mlVersion, body)) {
				return
			}
			if r.res.Resources[slot].Action == Unchanged {
				r.res.Resources[slot].Action = Updated
			}
		}
	}
}

// fillEndpoint completes an update's body with what the file leaves out:
// a PUT replaces the resource, so the stored values are sent back.
func (r *run) fillEndpoint(body *endpointBody, e *Endpoint, old *rekey.Endpoint) {
	body.Kind, body.SKU = old.Kind, old.SKU
	body.Properties.Compute, body.Properties.PublicNetworkAccess = old.Compute, old.PublicNetworkAccess
	body.Properties.Traffic, body.Properties.MirrorTraffic = old.Traffic, old.MirrorTraffic
	if e.AuthMode == "" {
		body.Properties.AuthMode = string(old.AuthMode)
	}
	if e.Description == nil {
		body.Properties.Description = old.Description
	}
	if e.Tags == nil {
		body.Tags = old.Tags
	}
}

// equalWeights compares traffic maps as the ARM API keeps them: names
// case-insensitively, a zero weight the same as none.
func equalWeights(a, b map[string]int32) bool {
	norm := func(m map[string]int32) map[string]int32 {
		out := map[string]int32{}
		for k, v := range m {
			if v != 0 {
				out[strings.ToLower(k)] += v
			}
		}
		return out
	}
	return maps.Equal(norm(a), norm(b))
}

// endpointKeys reports which of an existing endpoint's chosen keys differ
// from the ones in force. They are not set: a seed's chosen keys apply
// when it creates the endpoint, and a key rotated out since (perhaps
// because it leaked) must not come back when the file is applied again
// or the server restarts with --seed. Keys are compared by digest, never
// in the clear.
func (r *run) endpointKeys(e *Endpoint, id rekey.EndpointID) (kept []string, ok bool) {
	if e.Keys.Primary == "" && e.Keys.Secondary == "" {
		return nil, true
	}
	stored, err := r.tx.Keys(id.Key())
	if r.failed(e.At, err) {
		return nil, false
	}
	for _, s := range []struct {
		slot rekey.Slot
		v    string
	}{{rekey.Primary, e.Keys.Primary}, {rekey.Secondary, e.Keys.Secondary}} {
		if s.v == "" || holds(stored, s.slot, r.keyring.Digest(s.v)) {
			continue
		}
		kept = append(kept, "keys."+string(s.slot))
	}
	return kept, true
}

// holds reports whether slot's stored key has digest d.
func holds(stored []rekey.StoredKey, slot rekey.Slot, d rekey.Digest) bool {
	for _, sk := range stored {
		if sk.Slot == slot && sk.Digest.Equal(d) {
			return true
		}
	}
	return false
}

// deployment applies one deployment and records its outcome.
func (r *run) deployment(d Deployment, ep rekey.EndpointID, location, epName string) {
	id := rekey.DeploymentID{Endpoint: ep, Name: d.Name}
	name := epName + "/" + d.Name
	old, err := r.tx.Deployment(id)
	exists, ok := r.found(d.At, err)
	if !ok {
		return
	}
	type props struct {
		EndpointComputeType string            `json:"endpointComputeType"`
		Model               *string           `json:"model,omitempty"`
		InstanceType        *string           `json:"instanceType,omitempty"`
		Description         *string           `json:"description,omitempty"`
		Properties          map[string]string `json:"properties"`
	}
	body := struct {
		Location   string            `json:"location"`
		Kind       string            `json:"kind,omitempty"`
		SKU        *rekey.SKU        `json:"sku,omitempty"`
		Tags       map[string]string `json:"tags,omitempty"`
		Properties props             `json:"properties"`
	}{Location: location, Tags: d.Tags, Properties: props{EndpointComputeType: "Managed", Model: d.Model, InstanceType: d.InstanceType,
		Description: d.Description, Properties: map[string]string{rekey.UpstreamProperty: d.Upstream}}}
	action := Created
	if exists {
		body.Location, body.Kind, body.SKU = old.Location, old.Kind, old.SKU
		body.Properties.EndpointComputeType = old.ComputeType
		body.Properties.Properties = maps.Clone(old.Properties)
		if body.Properties.Properties == nil {
			body.Properties.Properties = map[string]string{}
		}
		body.Properties.Properties[rekey.UpstreamProperty] = d.Upstream
		if d.Tags == nil {
			body.Tags = old.Tags
		}
		model, instance, desc := deref(d.Model, old.Model), deref(d.InstanceType, old.InstanceType), deref(d.Description, old.Description)
		body.Properties.Model, body.Properties.InstanceType, body.Properties.Description = &model, &instance, &desc
		if old.Upstream() == d.Upstream && equalTags(body.Tags, old.Tags) && model == old.Model && instance == old.InstanceType && desc == old.Description {
			r.outcome(Outcome{Type: "deployment", Name: name, Action: Unchanged})
			return
		}
		action = Updated
	}
	if r.failed(d.At, r.call(http.MethodPut, id.String(), mlVersion, body)) {
		return
	}
	r.outcome(Outcome{Type: "deployment", Name: name, Action: action})
}
