package arm

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rekey-dev/rekey"
)

// Published Microsoft.MachineLearningServices api-versions that define
// online endpoints (CONTRACT.md §6), oldest first.
var endpointVersions = []string{
	"2021-03-01-preview", "2021-10-01", "2022-02-01-preview", "2022-05-01", "2022-06-01-preview",
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

// Published Microsoft.CognitiveServices api-versions, stable and preview,
// oldest first: every folder of azure-rest-api-specs
// specification/cognitiveservices/resource-manager/Microsoft.CognitiveServices/{stable,preview},
// and 2026-05-15-preview, which azure-cli 2.78 was recorded using. Their
// accounts, listKeys and regenerateKey operations share one contract;
// accountShapeFor says which fields each version's body carries.
var accountVersions = []string{
	"2016-02-01-preview", "2017-04-18", "2021-04-30", "2021-10-01", "2022-03-01",
	"2022-10-01", "2022-12-01", "2023-05-01", "2023-10-01-preview", "2024-04-01-preview",
	"2024-06-01-preview", "2024-10-01", "2025-04-01-preview", "2025-06-01", "2025-07-01-preview",
	"2025-09-01", "2025-10-01-preview", "2025-12-01", "2026-01-15-preview", "2026-03-01",
	"2026-03-15-preview", "2026-05-15-preview",
}

var wellFormedVersion = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})(-(preview|alpha|beta|privatepreview))?$`)

// VersionMode says which api-versions rekey accepts besides the published
// ones it knows.
type VersionMode int

const (
	// VersionsNewer (the default) also accepts a well-formed version newer
	// than the newest known, serving it with the newest known shape and a
	// warning in the log, so that upgrading an SDK never breaks a test.
	VersionsNewer VersionMode = iota
	// VersionsStrict accepts published versions only, as ARM does.
	VersionsStrict
	// VersionsLoose accepts any well-formed version, older unknown ones
	// too (served with the newest known shape not newer than them).
	VersionsLoose
)

// versionPolicy decides which api-versions a route accepts.
type versionPolicy struct {
	mode   VersionMode
	logger *slog.Logger
	warned sync.Map // api-version|type → struct{}: warn once each
}

type servedVersionKey struct{}

// servedVersion returns the api-version whose shape the response takes:
// the request's own when rekey knows it, otherwise the one check chose.
func servedVersion(r *http.Request) string {
	if v, ok := r.Context().Value(servedVersionKey{}).(string); ok {
		return v
	}
	return strings.ToLower(apiVersion(r))
}

// check validates the api-version query parameter of r for a resource
// type, answering ARM's own error codes. It returns r with the version to
// serve recorded for servedVersion.
func (p *versionPolicy) check(r *http.Request, resourceType string, supported []string) (*http.Request, error) {
	vs, present := r.URL.Query()["api-version"]
	if !present || len(vs) == 0 || vs[0] == "" {
		return r, errWire(http.StatusBadRequest, "MissingApiVersionParameter",
			"The api-version query parameter (?api-version=) is required for all requests.")
	}
	v := strings.ToLower(vs[0])
	m := wellFormedVersion.FindStringSubmatch(vs[0])
	if m == nil || !validDate(m[1]) {
		return r, errWire(http.StatusBadRequest, "InvalidApiVersionParameter",
			fmt.Sprintf("The api-version '%s' is invalid. The supported versions are '%s'.", rekey.Clip(vs[0], 60), strings.Join(supported, ",")))
	}
	if slices.Contains(supported, v) {
		return r, nil
	}
	newest := slices.MaxFunc(supported, compareVersions)
	served := ""
	switch {
	case p.mode == VersionsStrict:
	case compareVersions(v, newest) > 0:
		served = newest
		if _, seen := p.warned.LoadOrStore(v+"|"+resourceType, struct{}{}); !seen && p.logger != nil {
			p.logger.WarnContext(r.Context(), "api-version is newer than any rekey knows; serving it with the newest known shape (use --strict-api-version to refuse it)",
				"api_version", vs[0], "served_as", newest, "resource_type", resourceType)
		}
	case p.mode == VersionsLoose:
		served = floorVersion(v, supported)
	}
	if served == "" {
		return r, errWire(http.StatusBadRequest, "NoRegisteredProviderFound",
			fmt.Sprintf("No registered resource provider found for location '%s' and API version '%s' for type '%s'. The supported api-versions are '%s'.",
				"global", vs[0], resourceType, strings.Join(supported, ", ")))
	}
	return r.WithContext(context.WithValue(r.Context(), servedVersionKey{}, served)), nil
}

// compareVersions orders api-versions by date; on the same date a preview
// comes before the stable version.
func compareVersions(a, b string) int {
	if c := strings.Compare(a[:10], b[:10]); c != 0 {
		return c
	}
	return strings.Compare(b[10:], a[10:]) // "" (stable) sorts after "-preview"
}

// floorVersion returns the newest of supported not newer than v, or the
// oldest when v predates them all.
func floorVersion(v string, supported []string) string {
	best := slices.MinFunc(supported, compareVersions)
	for _, s := range supported {
		if compareVersions(s, v) <= 0 && compareVersions(s, best) > 0 {
			best = s
		}
	}
	return best
}

func validDate(s string) bool {
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}
