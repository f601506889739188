package rekey

import (
	"path"
	"regexp"
	"strings"
	"unicode"
)

// Provider namespaces and resource types rekey serves, spelled as ARM
// spells them in ids and type strings.
const (
	NamespaceML          = "Microsoft.MachineLearningServices"
	TypeWorkspace        = NamespaceML + "/workspaces"
	TypeOnlineEndpoint   = NamespaceML + "/workspaces/onlineEndpoints"
	subscriptionsKeyword = "/subscriptions/"
)

// WorkspaceID names a workspace. ARM matches every part case-insensitively
// but keeps the case a resource was created with, so an ID keeps the
// caller's spelling and Key gives the form to compare and index.
type WorkspaceID struct {
	Subscription  string
	ResourceGroup string
	Name          string
}

// Key returns the case-folded ARM id: the identity to compare and index,
// unambiguous across resource types.
func (id WorkspaceID) Key() string { return strings.ToLower(id.String()) }

// String returns the ARM resource id.
func (id WorkspaceID) String() string {
	return subscriptionsKeyword + id.Subscription + "/resourceGroups/" + id.ResourceGroup +
		"/providers/" + TypeWorkspace + "/" + id.Name
}

// Validate reports the first part of id that breaks ARM's or Azure ML's rules.
func (id WorkspaceID) Validate() error {
	if err := ValidateSubscription(id.Subscription); err != nil {
		return err
	}
	if err := ValidateResourceGroup(id.ResourceGroup); err != nil {
		return err
	}
	if !workspaceName.MatchString(id.Name) {
		return Errorf(Invalid, "The workspace name '%s' is invalid. It must be 3 to 33 characters: a letter or digit, then letters, digits, hyphens or underscores (pattern %s).", clip(id.Name), workspaceName)
	}
	return nil
}

// EndpointID names an online endpoint inside a workspace.
type EndpointID struct {
	Workspace WorkspaceID
	Name      string
}

// Key returns the case-folded ARM id.
func (id EndpointID) Key() string { return strings.ToLower(id.String()) }

// String returns the ARM resource id.
func (id EndpointID) String() string { return id.Workspace.String() + "/onlineEndpoints/" + id.Name }

// Validate reports the first part of id that breaks the published rules.
// The endpoint-name pattern is the one the 2024-04-01 specification
// declares on createOrUpdate.
func (id EndpointID) Validate() error {
	if err := id.Workspace.Validate(); err != nil {
		return err
	}
	if !endpointName.MatchString(id.Name) {
		return Errorf(Invalid, "The endpoint name '%s' is invalid. It must be 1 to 255 characters: a letter or digit, then letters, digits, hyphens or underscores (pattern %s).", clip(id.Name), endpointName)
	}
	return nil
}

var (
	workspaceName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$`)
	endpointName  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$`)
	guid          = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// ValidateSubscription checks that s is a GUID, as ARM subscription ids are.
func ValidateSubscription(s string) error {
	if !guid.MatchString(s) {
		return Errorf(Invalid, "The provided subscription identifier '%s' is malformed or invalid. A subscription id is a GUID such as 00000000-0000-0000-0000-000000000000.", clip(s))
	}
	return nil
}

// ValidateResourceGroup applies ARM's resource-group naming rule: 1 to 90
// letters, digits, underscores, hyphens, periods or parentheses, not ending
// in a period.
func ValidateResourceGroup(s string) error {
	ok := len(s) >= 1 && len(s) <= 90 && !strings.HasSuffix(s, ".")
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_-.()", r)) {
			ok = false
		}
	}
	if !ok {
		return Errorf(Invalid, "Resource group name '%s' is invalid. It must be 1 to 90 letters, digits, underscores, hyphens, periods or parentheses, and must not end in a period.", clip(s))
	}
	return nil
}

// ResourceID is a parsed ARM resource id:
// /subscriptions/{s}[/resourceGroups/{g}][/providers/{namespace}/{type}/{name}[/{type}/{name}...]].
type ResourceID struct {
	Subscription  string
	ResourceGroup string // or ""
	Namespace     string // or ""
	Types         []string
	Names         []string // same length as Types
}

// ParseResourceID parses an ARM resource id. Keywords match
// case-insensitively; names keep their case. It rejects empty segments
// and a type without a name.
func ParseResourceID(s string) (ResourceID, error) {
	var id ResourceID
	bad := func(why string) (ResourceID, error) {
		return ResourceID{}, Errorf(Invalid, "The resource id '%s' is malformed: %s.", clip(s), why)
	}
	if !strings.HasPrefix(s, "/") {
		return bad("it must start with /subscriptions/")
	}
	segs := strings.Split(strings.TrimSuffix(s[1:], "/"), "/")
	for _, seg := range segs {
		if seg == "" {
			return bad("it has an empty segment")
		}
	}
	if len(segs) < 2 || !strings.EqualFold(segs[0], "subscriptions") {
		return bad("it must start with /subscriptions/{subscriptionId}")
	}
	id.Subscription, segs = segs[1], segs[2:]
	if len(segs) >= 1 && strings.EqualFold(segs[0], "resourceGroups") {
		if len(segs) < 2 {
			return bad("resourceGroups has no name")
		}
		id.ResourceGroup, segs = segs[1], segs[2:]
	}
	if len(segs) == 0 {
		return id, nil
	}
	if !strings.EqualFold(segs[0], "providers") || len(segs) < 2 {
		return bad("expected /providers/{namespace}")
	}
	id.Namespace, segs = segs[1], segs[2:]
	if len(segs)%2 != 0 {
		return bad("a resource type has no name")
	}
	for i := 0; i < len(segs); i += 2 {
		id.Types = append(id.Types, segs[i])
		id.Names = append(id.Names, segs[i+1])
	}
	return id, nil
}

// Clip shortens caller input echoed in a message to at most n bytes, so a
// huge value cannot blow up an error body or a log line.
func Clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func clip(s string) string { return Clip(s, 100) }

// ParseEndpointID parses the ARM id of an online endpoint.
func ParseEndpointID(s string) (EndpointID, error) {
	r, err := ParseResourceID(s)
	if err != nil {
		return EndpointID{}, err
	}
	if !strings.EqualFold(r.Namespace, NamespaceML) || len(r.Types) != 2 || r.ResourceGroup == "" ||
		!strings.EqualFold(r.Types[0], "workspaces") || !strings.EqualFold(r.Types[1], "onlineEndpoints") {
		return EndpointID{}, Errorf(Invalid, "'%s' is not the id of an online endpoint.", clip(s))
	}
	return EndpointID{Workspace: WorkspaceID{Subscription: r.Subscription, ResourceGroup: r.ResourceGroup, Name: r.Names[0]}, Name: r.Names[1]}, nil
}

// ParseDeploymentID parses the ARM id of an online deployment.
func ParseDeploymentID(s string) (DeploymentID, error) {
	i := strings.LastIndex(strings.ToLower(s), "/deployments/")
	if i < 0 {
		return DeploymentID{}, Errorf(Invalid, "'%s' is not the id of an online deployment.", clip(s))
	}
	ep, err := ParseEndpointID(s[:i])
	if err != nil {
		return DeploymentID{}, err
	}
	name := s[i+len("/deployments/"):]
	if name == "" || strings.Contains(name, "/") {
		return DeploymentID{}, Errorf(Invalid, "'%s' is not the id of an online deployment.", clip(s))
	}
	return DeploymentID{Endpoint: ep, Name: name}, nil
}

// IsCleanPath reports whether p is a URL path in canonical form: absolute,
// without empty, "." or ".." segments (a trailing slash is kept). Go's
// ServeMux redirects any other path to its cleaned form; rekey's APIs
// answer an error instead, since a resource path never needs cleaning.
func IsCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}
