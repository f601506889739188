package parity

import (
	"fmt"
	"net/url"
	"strings"
)

// SanitisedAPIVersion is what some recorders write in place of the
// api-version they used.
const SanitisedAPIVersion = "0000-00-00"

// Mapper rewrites a recorded URL into the replay's: the host goes (the
// replay sends to the test server), the subscription, resource group and
// workspace become the replay's own, other names stay as recorded, and of
// the query only api-version is kept (the signed t, c, s and h parameters of
// Azure's polling URLs mean nothing to rekey).
type Mapper struct {
	Subscription  string
	ResourceGroup string
	Workspace     string
	// APIVersion replaces a sanitised api-version.
	APIVersion string
}

// Path returns the path and query to send for the recorded URL.
func (m Mapper) Path(recorded string) (string, error) {
	u, err := url.Parse(recorded)
	if err != nil {
		return "", err
	}
	segs := strings.Split(u.EscapedPath(), "/")
	for i := 0; i+1 < len(segs); i++ {
		switch {
		case strings.EqualFold(segs[i], "subscriptions") && m.Subscription != "":
			segs[i+1] = m.Subscription
		case strings.EqualFold(segs[i], "resourceGroups") && m.ResourceGroup != "":
			segs[i+1] = m.ResourceGroup
		case strings.EqualFold(segs[i], "workspaces") && m.Workspace != "":
			segs[i+1] = m.Workspace
		default:
			continue
		}
		i++
	}
	p := strings.Join(segs, "/")
	v := u.Query().Get("api-version")
	if v == SanitisedAPIVersion {
		if m.APIVersion == "" {
			return "", fmt.Errorf("%s: api-version is sanitised and the recording names none to use", recorded)
		}
		v = m.APIVersion
	}
	if v != "" {
		p += "?api-version=" + url.QueryEscape(v)
	}
	return p, nil
}
