package rekey

import (
	"net/url"
	"regexp"
	"strings"
	"time"
)

// UpstreamProperty is the key in a deployment's properties.properties that
// names the upstream URL rekey's gateway forwards to. Azure's own
// deployment types carry no such URL, and that bag is free-form.
const UpstreamProperty = "rekey.upstream"

// GracePeriodProperty, in an endpoint's properties.properties (or an
// account's tags), lets a replaced key keep working for that long after a
// regeneration. Off (0) by default: Azure cuts the old key at once.
const GracePeriodProperty = "rekey.keyGracePeriod"

// MaxGracePeriod bounds GracePeriodProperty.
const MaxGracePeriod = 24 * time.Hour

// TypeDeployment is the ARM type of an online deployment.
const TypeDeployment = TypeOnlineEndpoint + "/deployments"

// DeploymentID names an online deployment of an endpoint.
type DeploymentID struct {
	Endpoint EndpointID
	Name     string
}

// String returns the ARM resource id.
func (id DeploymentID) String() string { return id.Endpoint.String() + "/deployments/" + id.Name }

// Key returns the case-folded ARM id.
func (id DeploymentID) Key() string { return strings.ToLower(id.String()) }

var deploymentName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$`)

// Validate checks the published name pattern for deployments.
func (id DeploymentID) Validate() error {
	if err := id.Endpoint.Workspace.Validate(); err != nil {
		return err
	}
	if !deploymentName.MatchString(id.Name) {
		return Errorf(Invalid, "The deployment name '%s' is invalid. It must be 1 to 255 characters: a letter or digit, then letters, digits, hyphens or underscores.", clip(id.Name))
	}
	return nil
}

// Deployment is an online deployment: where an endpoint's traffic goes.
type Deployment struct {
	ID                DeploymentID
	UID               string
	Location          string
	Kind              string
	SKU               *SKU
	Tags              map[string]string
	ComputeType       string // endpointComputeType: Managed, Kubernetes or AzureMLCompute
	Model             string
	InstanceType      string
	Description       string
	Properties        map[string]string // holds UpstreamProperty
	Identity          *Identity         // or nil
	Spec              DeploymentSpec
	ProvisioningState ProvisioningState
	SystemData        SystemData
	Operation         OperationRef // the last create or update
}

// Upstream returns the deployment's upstream base URL.
func (d *Deployment) Upstream() string { return d.Properties[UpstreamProperty] }

// ValidateUpstream checks an upstream URL: absolute http(s) with a host,
// no query or fragment (the caller's are appended).
func ValidateUpstream(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return Errorf(Invalid, "properties.properties['%s'] must be an absolute http(s) URL without query, fragment or credentials, e.g. http://127.0.0.1:8000 (it is '%s').", UpstreamProperty, clip(s))
	}
	return nil
}

// ParseGracePeriod reads GracePeriodProperty ("" means 0).
func ParseGracePeriod(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > MaxGracePeriod {
		return 0, Errorf(Invalid, "'%s' must be a duration between 0s and 24h, such as 30s or 5m (it is '%s').", GracePeriodProperty, clip(s))
	}
	return d, nil
}

// GracePeriod is the endpoint's grace period in force now (0 when unset
// or invalid). Only a rotation reads it, to fix the replaced key's window.
func (e *Endpoint) GracePeriod() time.Duration {
	d, _ := ParseGracePeriod(e.Properties[GracePeriodProperty])
	return d
}

// GracePeriod is the account's grace period for its QnA endpoint keys
// (the tag GracePeriodProperty), read only when one of them is rotated.
func (a *Account) GracePeriod() time.Duration {
	d, _ := ParseGracePeriod(a.Tags[GracePeriodProperty])
	return d
}

// Change is one entry of the store's change feed: something the gateway
// routes on changed, and the gateway reloads it.
type Change struct {
	Seq  int64
	Kind ChangeKind
	Key  string // a key owner, an endpoint Key(), or an account Key()
}

// ChangeKind says what a Change names.
type ChangeKind string

// The change kinds.
const (
	ChangedKeys     ChangeKind = "keys"     // Key is a key owner
	ChangedEndpoint ChangeKind = "endpoint" // Key is an endpoint's Key(); its deployments included
	ChangedAccount  ChangeKind = "account"  // Key is an account's Key()
	ChangedAll      ChangeKind = "all"      // everything was removed (Tx.Reset); Key is ""
)

// KeyUsage is how often one key slot was used at the gateway.
type KeyUsage struct {
	Owner         string
	Slot          Slot
	Requests      int64
	GraceRequests int64     // requests that used the replaced key during a grace period
	LastUsed      time.Time // zero if never
}
