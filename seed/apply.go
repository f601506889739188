package seed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/arm"
)

// The api-versions the seed sends to the ARM handlers: those of the Go
// SDKs rekey's CLI mirrors.
const (
	mlVersion = "2024-04-01"
	csVersion = "2025-06-01"
)

// Principal is who seeded resources name as their creator.
var Principal = rekey.Principal{ID: "rekey-seed", Name: "rekey-seed", Type: "Application"}

// Applier applies parsed seed files to a store.
type Applier struct {
	Store   rekey.Store
	Keyring *rekey.Keyring
	Logger  *slog.Logger
	// Wake tells the operation runner that operations were written (the
	// creations and updates the ARM handlers record); nil when none runs yet.
	Wake func()
	Now  func() time.Time // default time.Now
}

// Outcome is what applying did to one declared resource.
type Outcome struct {
	Type   string `json:"type"` // workspace, endpoint, deployment, account, servicePrincipal
	Name   string `json:"name"`
	Action string `json:"action"` // created, updated or unchanged
	// Generated names the key slots whose keys rekey generated (never
	// the keys), and ReadKeys the command that prints them.
	Generated []string `json:"generated,omitempty"`
	ReadKeys  string   `json:"readKeys,omitempty"`
}

// Result summarises an applied file.
type Result struct {
	File      string    `json:"file"`
	Created   int       `json:"created"`
	Updated   int       `json:"updated"`
	Unchanged int       `json:"unchanged"`
	Resources []Outcome `json:"resources"`
}

// The actions of an Outcome.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
)

// Apply writes f in one store transaction: every declared resource is
// created, updated where it differs from the file, or left unchanged.
// Writes go through the ARM API's own handlers (in process, on the same
// transaction), so a seed obeys exactly the rules an SDK's request does.
// Any problem rolls everything back; the error is then Errors, listing
// every problem with the line of the declaration it concerns.
func (a *Applier) Apply(ctx context.Context, f *File) (*Result, error) {
	now := a.Now
	if now == nil {
		now = time.Now
	}
	logger := a.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var res *Result
	err := a.Store.Update(ctx, func(tx rekey.Tx) error {
		r := &run{ctx: rekey.WithPrincipal(ctx, Principal), f: f, tx: tx, keyring: a.Keyring, now: func() time.Time { return now().UTC() },
			res: &Result{File: f.Name, Resources: []Outcome{}}}
		r.arm = arm.New(arm.Config{Store: txStore{tx}, Keyring: a.Keyring, Logger: logger, Auth: seedAuth{}, Now: now,
			GatewayURL: "http://gateway.invalid", APIVersions: arm.VersionsLoose, MaxBody: MaxFileSize * 2})
		r.apply()
		if len(r.errs) > 0 {
			sort.SliceStable(r.errs, func(i, j int) bool { return r.errs[i].Line < r.errs[j].Line })
			return r.errs
		}
		res = r.res
		return nil
	})
	if err != nil {
		return nil, err
	}
	if a.Wake != nil {
		a.Wake()
	}
	for _, o := range res.Resources {
		switch o.Action {
		case Created:
			res.Created++
		case Updated:
			res.Updated++
		default:
			res.Unchanged++
		}
	}
	return res, nil
}

// txStore is a Store whose transactions are all the one of Apply: the ARM
// handlers' writes join it, and are rolled back with it.
type txStore struct{ tx rekey.Tx }

func (s txStore) View(_ context.Context, fn func(rekey.Tx) error) error   { return fn(s.tx) }
func (s txStore) Update(_ context.Context, fn func(rekey.Tx) error) error { return fn(s.tx) }
func (s txStore) Watch(func())                                            {}
func (s txStore) Ready(context.Context) error                             { return nil }
func (s txStore) Close() error                                            { return nil }

// seedAuth lets Apply's own requests in: the handler it builds is never
// reachable from the network.
type seedAuth struct{}

func (seedAuth) Authenticate(context.Context, string) (rekey.Principal, error) { return Principal, nil }

// run is one application of a file.
type run struct {
	ctx     context.Context
	f       *File
	tx      rekey.Tx
	keyring *rekey.Keyring
	arm     http.Handler
	now     func() time.Time
	res     *Result
	errs    Errors
}

func (r *run) fail(at At, format string, args ...any) {
	r.errs = append(r.errs, Problem{File: r.f.Name, Line: at.Line, Path: at.Path, Message: fmt.Sprintf(format, args...)})
}

// failed records err (an ARM answer or a store error) against at.
func (r *run) failed(at At, err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	if re, ok := err.(*rekey.Error); ok {
		msg = re.Message
	}
	r.fail(at, "%s", msg)
	return true
}

func (r *run) outcome(o Outcome) { r.res.Resources = append(r.res.Resources, o) }

func (r *run) apply() {
	for _, sp := range r.f.ServicePrincipals {
		r.servicePrincipal(sp)
	}
	for _, w := range r.f.Workspaces {
		r.workspace(w)
	}
	for i := range r.f.Endpoints {
		r.endpoint(&r.f.Endpoints[i])
	}
	for _, a := range r.f.Accounts {
		r.account(a)
	}
}

// call sends one request to the ARM handler and returns an ARM error
// answer as an error carrying its message.
func (r *run) call(method, path, version string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	u := "https://rekey.invalid" + (&url.URL{Path: path}).EscapedPath() + "?api-version=" + version
	req, err := http.NewRequestWithContext(r.ctx, method, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer seed")
	req.Header.Set("Content-Type", "application/json")
	w := &recorder{header: http.Header{}}
	r.arm.ServeHTTP(w, req)
	if w.status < 400 {
		return nil
	}
	var env struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(w.body.Bytes(), &env) != nil || env.Error.Message == "" {
		return fmt.Errorf("the ARM API answered %d", w.status)
	}
	return fmt.Errorf("%s", env.Error.Message)
}

// recorder is the ResponseWriter of in-process ARM calls.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }
func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
func (w *recorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}

var _ io.Writer = (*recorder)(nil)

func (r *run) wsID(name string) rekey.WorkspaceID {
	return rekey.WorkspaceID{Subscription: r.f.Subscription, ResourceGroup: r.f.ResourceGroup, Name: name}
}

// cliScope is the flags a printed CLI command needs beyond the defaults.
func (r *run) cliScope() string {
	s := ""
	if r.f.Subscription != DefaultSubscription {
		s += " --subscription " + r.f.Subscription
	}
	if r.f.ResourceGroup != DefaultResourceGroup {
		s += " --resource-group " + r.f.ResourceGroup
	}
	return s
}

// found reports whether get found the resource; other errors are recorded.
func (r *run) found(at At, err error) (bool, bool) {
	switch {
	case err == nil:
		return true, true
	case rekey.ErrorCode(err) == rekey.NotFound:
		return false, true
	default:
		r.failed(at, err)
		return false, false
	}
}

func equalTags(a, b map[string]string) bool { return len(a) == 0 && len(b) == 0 || maps.Equal(a, b) }

func deref(p *string, def string) string {
	if p != nil {
		return *p
	}
	return def
}

func normLocation(l string) string { return strings.ToLower(strings.ReplaceAll(l, " ", "")) }

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
		if changed, ok := r.endpointKeys(e, id); !ok {
			return
		} else if changed {
			out.Action = Updated
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

// endpointKeys sets an existing endpoint's chosen keys that differ from
// the stored ones, through regenerateKeys with keyValue. Keys are compared
// by digest, never in the clear.
func (r *run) endpointKeys(e *Endpoint, id rekey.EndpointID) (changed, ok bool) {
	if e.Keys.Primary == "" && e.Keys.Secondary == "" {
		return false, true
	}
	stored, err := r.tx.Keys(id.Key())
	if r.failed(e.At, err) {
		return false, false
	}
	for _, s := range []struct {
		slot rekey.Slot
		v    string
	}{{rekey.Primary, e.Keys.Primary}, {rekey.Secondary, e.Keys.Secondary}} {
		if s.v == "" || holds(stored, s.slot, r.keyring.Digest(s.v)) {
			continue
		}
		keyType := "Primary"
		if s.slot == rekey.Secondary {
			keyType = "Secondary"
		}
		if r.failed(e.At, r.call(http.MethodPost, id.String()+"/regenerateKeys", mlVersion, map[string]string{"keyType": keyType, "keyValue": s.v})) {
			return false, false
		}
		changed = true
	}
	return changed, true
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
			if _, err := r.tx.PutKey(r.keyring.Rotate(set.owner, s.slot, s.v, r.now(), grace)); r.failed(a.At, err) {
				return
			}
			if out.Action == Unchanged {
				out.Action = Updated
			}
		}
	}
	out.ReadKeys = strings.Join(hints, "; ")
	r.outcome(out)
}

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

// ApplySeed parses and applies a seed file: the admin API's Applier. A
// file with problems returns them, one line each, and applies nothing.
func (a *Applier) ApplySeed(ctx context.Context, name string, data []byte) (any, []string, error) {
	f, err := Parse(name, data)
	if err == nil {
		var res *Result
		if res, err = a.Apply(ctx, f); err == nil {
			return res, nil, nil
		}
	}
	var errs Errors
	if errors.As(err, &errs) {
		out := make([]string, len(errs))
		for i, p := range errs {
			out[i] = p.String()
		}
		return nil, out, nil
	}
	return nil, nil, err
}
