package qna

import "strings"

// Versions are the authoring API prefixes rekey serves, all with the same
// semantics: v4.0 (the Go track-1 client), v5.0-preview.1 (the Python
// client) and v5.0-preview.2 (the last published specification).
var Versions = []string{"v4.0", "v5.0-preview.1", "v5.0-preview.2"}

// operation names the authoring operations.
type operation int

const (
	opUnknown operation = iota
	opEndpointKeys
	opEndpointKeysRefresh
	opEndpointSettings
)

// String names the operation by its path, for the metrics.
func (o operation) String() string {
	switch o {
	case opEndpointKeys:
		return "endpointkeys"
	case opEndpointKeysRefresh:
		return "endpointkeys/{keyType}"
	case opEndpointSettings:
		return "endpointSettings"
	}
	return "unknown"
}

// route is a parsed QnA request path.
type route struct {
	version string // canonical, one of Versions
	op      operation
	keyType string // for opEndpointKeysRefresh, as sent
}

// parsePath parses "/qnamaker/{version}/{operation}[/{keyType}]". Clients
// build URLs as {endpoint}/qnamaker/... from an endpoint that ends in '/',
// so leading and doubled slashes are tolerated; keywords and versions
// match case-insensitively. ok is false when the path is not a QnA path
// at all; version is "" for a QnA path with an unknown version.
func parsePath(p string) (r route, ok bool) {
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	if len(segs) == 0 || !strings.EqualFold(segs[0], "qnamaker") {
		return route{}, false
	}
	if len(segs) < 2 {
		return route{}, true
	}
	for _, v := range Versions {
		if strings.EqualFold(segs[1], v) {
			r.version = v
		}
	}
	if r.version == "" {
		return route{}, true
	}
	rest := segs[2:]
	switch {
	case len(rest) == 1 && strings.EqualFold(rest[0], "endpointkeys"):
		r.op = opEndpointKeys
	case len(rest) == 2 && strings.EqualFold(rest[0], "endpointkeys"):
		r.op, r.keyType = opEndpointKeysRefresh, rest[1]
	case len(rest) == 1 && strings.EqualFold(rest[0], "endpointsettings"):
		r.op = opEndpointSettings
	}
	return r, true
}

// IsPath reports whether p belongs to the QnA Maker authoring API, so the
// server can route it here before any path cleaning.
func IsPath(p string) bool {
	_, ok := parsePath(p)
	return ok
}
