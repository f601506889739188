package arm

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
)

// Published Microsoft.MachineLearningServices api-versions that define
// online endpoints (CONTRACT.md §6), oldest first.
var endpointVersions = []string{
	"2021-03-01-preview", "2022-02-01-preview", "2022-05-01", "2022-06-01-preview",
	"2022-10-01", "2022-10-01-preview", "2022-12-01-preview", "2023-02-01-preview",
	"2023-04-01", "2023-04-01-preview", "2023-06-01-preview", "2023-08-01-preview",
	"2023-10-01", "2024-01-01-preview", "2024-04-01", "2024-04-01-preview",
	"2024-07-01-preview", "2024-10-01", "2024-10-01-preview", "2025-01-01-preview",
	"2025-04-01", "2025-04-01-preview", "2025-06-01", "2025-07-01-preview",
	"2025-09-01", "2025-10-01-preview", "2025-12-01",
}

// workspaceVersions adds the older versions that define workspaces only.
var workspaceVersions = append([]string{
	"2018-03-01-preview", "2018-11-19", "2019-05-01", "2019-06-01", "2019-11-01",
	"2020-01-01", "2020-03-01", "2020-04-01", "2020-06-01", "2020-08-01",
	"2021-01-01", "2021-04-01", "2021-07-01",
}, endpointVersions...)

var wellFormedVersion = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})(-(preview|alpha|beta|privatepreview))?$`)

// versionPolicy decides which api-versions a route accepts.
type versionPolicy struct {
	loose bool // accept any well-formed version (for SDKs newer than rekey)
}

// check validates the api-version query parameter of r for a resource
// type, answering ARM's own error codes.
func (p versionPolicy) check(r *http.Request, resourceType string, supported []string) error {
	vs, present := r.URL.Query()["api-version"]
	if !present || len(vs) == 0 || vs[0] == "" {
		return errWire(http.StatusBadRequest, "MissingApiVersionParameter",
			"The api-version query parameter (?api-version=) is required for all requests.")
	}
	v := vs[0]
	m := wellFormedVersion.FindStringSubmatch(v)
	if m == nil || !validDate(m[1]) {
		return errWire(http.StatusBadRequest, "InvalidApiVersionParameter",
			fmt.Sprintf("The api-version '%s' is invalid. The supported versions are '%s'.", rekey.Clip(v, 60), strings.Join(supported, ",")))
	}
	if p.loose || slices.Contains(supported, strings.ToLower(v)) {
		return nil
	}
	return errWire(http.StatusBadRequest, "NoRegisteredProviderFound",
		fmt.Sprintf("No registered resource provider found for location '%s' and API version '%s' for type '%s'. The supported api-versions are '%s'.",
			"global", v, resourceType, strings.Join(supported, ", ")))
}

func validDate(s string) bool {
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

// Published Microsoft.CognitiveServices api-versions whose accounts,
// listKeys and regenerateKey shapes rekey serves (CONTRACT.md §8).
var accountVersions = []string{
	"2016-02-01-preview", "2017-04-18", "2021-04-30", "2021-10-01", "2022-03-01",
	"2022-10-01", "2022-12-01", "2023-05-01", "2024-10-01", "2025-06-01",
}
