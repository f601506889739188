// Package seed reads seed files, which declare the resources a rekey
// server should hold (workspaces, online endpoints and their deployments,
// Cognitive Services accounts, service principals), and applies them.
//
// A seed file is YAML or JSON (JSON is read as YAML, so both report
// lines). Parse checks everything that needs no stored state and lists
// every problem with its line; Applier.Apply then writes the file through
// the ARM API's own handlers inside one store transaction, so a file is
// applied whole or not at all, under the same rules as an SDK's requests.
package seed

import (
	"maps"

	"github.com/rekey-dev/rekey"
)

// The subscription and resource group a file uses unless it names its
// own: those the rekey CLI uses by default.
const (
	DefaultSubscription  = "00000000-0000-0000-0000-000000000000"
	DefaultResourceGroup = "rekey"
)

// MaxFileSize bounds a seed file.
const MaxFileSize = 1 << 20

// File is a parsed seed file. Optional settings are pointers or nil maps:
// what a file leaves out, applying leaves as it is.
type File struct {
	Name              string // for messages, e.g. "seed.yaml"
	Subscription      string
	ResourceGroup     string
	Workspaces        []Workspace
	Endpoints         []Endpoint
	Accounts          []Account
	ServicePrincipals []ServicePrincipal
}

// At is where a declaration starts in the file.
type At struct {
	Line int
	Path string // e.g. endpoints[1]
}

// Workspace declares an Azure ML workspace.
type Workspace struct {
	At
	Name         string
	Location     string
	Tags         map[string]string // nil: keep
	FriendlyName *string
	Description  *string
}

// Endpoint declares an online endpoint with its deployments.
type Endpoint struct {
	At
	Name        string
	Workspace   string
	Location    string // "": the workspace's
	AuthMode    rekey.AuthMode
	Description *string
	Tags        map[string]string
	GracePeriod *string // properties.properties["rekey.keyGracePeriod"]; "" removes it
	Keys        KeyPair // chosen keys; a slot left out is generated at creation
	Deployments []Deployment
	Traffic     map[string]int32 // nil: keep
	Mirror      map[string]int32 // mirrorTraffic; nil: keep
}

// KeyPair is a pair of chosen keys; "" where the file chooses none.
type KeyPair struct {
	Primary, Secondary string
}

// Deployment declares an online deployment: the upstream behind an endpoint.
type Deployment struct {
	At
	Name         string
	Upstream     string
	Model        *string
	InstanceType *string
	Description  *string
	Tags         map[string]string
}

// Account declares a Cognitive Services account.
type Account struct {
	At
	Name               string
	Kind               string
	Location           string
	SKU                string
	Tags               map[string]string
	GracePeriod        *string // the tag rekey.keyGracePeriod (QnA endpoint keys)
	QnARuntimeEndpoint string
	Keys               KeyPair // key1, key2: the subscription keys
	EndpointKeys       KeyPair // QnAMaker only: the QnA runtime's endpoint keys
}

// ServicePrincipal declares a service principal of the token service with
// a chosen appId and secret, so that a CI job knows its credentials before
// the server starts.
type ServicePrincipal struct {
	At
	AppID       string
	DisplayName string
	Secret      string
}

// tagsWithGrace returns tags with the grace period folded in.
func tagsWithGrace(tags map[string]string, grace *string) map[string]string {
	if grace == nil {
		return tags
	}
	out := maps.Clone(tags)
	if out == nil {
		out = map[string]string{}
	}
	if *grace == "" {
		delete(out, rekey.GracePeriodProperty)
	} else {
		out[rekey.GracePeriodProperty] = *grace
	}
	return out
}

// checkGrace validates a grace period as the ARM API does.
func checkGrace(s string) error {
	_, err := rekey.ParseGracePeriod(s)
	return err
}
