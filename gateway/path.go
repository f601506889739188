package gateway

import (
	"net/url"
	"strings"
)

// hasDotSegment reports whether the escaped path esc has a "." or ".."
// segment in any spelling an upstream might normalise: literal or
// percent-encoded ("%2e%2E", ".%2e"), encoded up to three times
// ("%252e"), revealed by an encoded slash ("..%2f") or a backslash
// ("..\", which Windows servers treat as a slash), or followed by a path
// parameter ("..;x", which Java servers strip). A request with one is
// refused: forwarded, an upstream that resolves dot segments would serve
// something outside the deployment's base path.
func hasDotSegment(esc string) bool {
	s := esc
	for range 3 {
		if dotIn(s) {
			return true
		}
		if strings.IndexByte(s, '%') < 0 {
			return false
		}
		u, err := url.PathUnescape(s)
		if err != nil || u == s {
			return false
		}
		s = u
	}
	return dotIn(s)
}

// dotIn reports whether s, split at '/' and '\', has a segment that is
// "." or "..", ignoring a ";parameter" suffix.
func dotIn(s string) bool {
	if strings.IndexByte(s, '.') < 0 {
		return false
	}
	for s != "" {
		seg := s
		if i := strings.IndexAny(s, `/\`); i >= 0 {
			seg, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		seg, _, _ = strings.Cut(seg, ";")
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// belowPrefix returns the escaped path below "/endpoints/{name}": "/" and
// what follows, or "/" when nothing does.
func belowPrefix(esc string) string {
	rest, _ := strings.CutPrefix(esc, scoringPrefix)
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[i:]
	}
	return "/"
}

// scoringPrefix starts every scoring path, in its escaped form too.
const scoringPrefix = "/endpoints/"

// upstreamURL is where a request goes: the upstream's URL with esc (the
// escaped path below the gateway's prefix, starting with '/') appended to
// its path as it is. Nothing is resolved or cleaned, so with dot segments
// refused, no request reaches a path outside the upstream's base. Live
// and mirrored requests are both built here. Credentials in the query are
// dropped (see stripQuery).
func upstreamURL(base *url.URL, esc, rawQuery string) *url.URL {
	u := *base
	u.User = nil
	raw := strings.TrimSuffix(base.EscapedPath(), "/") + esc
	if p, err := url.PathUnescape(raw); err == nil {
		u.Path, u.RawPath = p, raw
	} else {
		u.Path, u.RawPath = raw, ""
	}
	q := stripQuery(rawQuery)
	switch {
	case base.RawQuery == "":
		u.RawQuery = q
	case q != "":
		u.RawQuery = base.RawQuery + "&" + q
	}
	u.Fragment, u.RawFragment = "", ""
	return &u
}

// credentialParams are query parameters that can carry a credential
// (API Management's subscription key); they never go upstream.
var credentialParams = []string{"subscription-key"}

// credentialHeaders are the request headers that can carry a rekey or
// Azure credential; they never go upstream. Canonical form.
var credentialHeaders = []string{"Authorization", "Api-Key", "Ocp-Apim-Subscription-Key"}

// stripQuery returns rawQuery without credential parameters, matched
// case-insensitively and in any encoding; the rest stays as it was sent.
func stripQuery(rawQuery string) string {
	found := false
	for part := range strings.SplitSeq(rawQuery, "&") {
		found = found || isCredentialParam(part)
	}
	if !found {
		return rawQuery
	}
	var b strings.Builder
	for part := range strings.SplitSeq(rawQuery, "&") {
		if isCredentialParam(part) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	return b.String()
}

func isCredentialParam(part string) bool {
	name, _, _ := strings.Cut(part, "=")
	if n, err := url.QueryUnescape(name); err == nil {
		name = n
	}
	name = strings.TrimSpace(name)
	for _, c := range credentialParams {
		if strings.EqualFold(name, c) {
			return true
		}
	}
	return false
}
