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
	// Kept names the key slots (or "secret") whose chosen value differs
	// from the one in force and was not applied: a seed sets chosen keys
	// and secrets only when it creates the resource, so re-applying a
	// file (or restarting with --seed) never brings back a key that was
	// rotated out since.
	Kept []string `json:"kept,omitempty"`
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
		// The file's requests are the apply request's parts, not requests
		// of their own: they leave its audit note alone.
		inner := rekey.WithAuditNote(rekey.WithPrincipal(ctx, Principal), nil)
		r := &run{ctx: inner, f: f, tx: tx, keyring: a.Keyring, now: func() time.Time { return now().UTC() },
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
