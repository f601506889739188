package parity

import (
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// presenceHeaders are compared by presence, both ways: a client's polling
// and concurrency logic branches on whether they are there.
var presenceHeaders = []string{
	"Azure-AsyncOperation", "Location", "Retry-After", "Retry-After-Ms", "x-ms-retry-after-ms",
	"x-ms-async-operation-timeout", "ETag",
}

// rateLimitPrefix names ARM's quota headers; a recorded one must be there.
const rateLimitPrefix = "x-ms-ratelimit-remaining-"

// CompareHeaders compares the response headers that clients act on:
// Content-Type (media type and charset), the polling headers (presence,
// and for Azure-AsyncOperation and Location the shape of the URL), and
// presence of Retry-After, the operation timeout, ETag and ARM's quota
// headers. Other headers (dates, correlation ids, caching) are not compared.
func CompareHeaders(want map[string]string, got http.Header) []Diff {
	var diffs []Diff
	w := http.Header{}
	for k, v := range want {
		w.Set(k, v)
	}
	// Content-Type.
	switch wct, gct := w.Get("Content-Type"), got.Get("Content-Type"); {
	case wct != "" && gct == "":
		diffs = append(diffs, Diff{Path: "header Content-Type", Kind: KindMissing})
	case wct == "" && gct != "":
		diffs = append(diffs, Diff{Path: "header Content-Type", Kind: KindUnexpected})
	case wct != "" && mediaType(wct) != mediaType(gct):
		diffs = append(diffs, Diff{Path: "header Content-Type", Kind: KindValue, Want: mediaType(wct), Got: mediaType(gct)})
	}
	for _, h := range presenceHeaders {
		wv, gv := w.Get(h), got.Get(h)
		switch {
		case wv != "" && gv == "":
			diffs = append(diffs, Diff{Path: "header " + h, Kind: KindMissing})
		case wv == "" && gv != "":
			diffs = append(diffs, Diff{Path: "header " + h, Kind: KindUnexpected})
		case wv != "" && (h == "Azure-AsyncOperation" || h == "Location") && URLShape(wv) != URLShape(gv):
			diffs = append(diffs, Diff{Path: "header " + h, Kind: KindValue, Want: URLShape(wv), Got: URLShape(gv)})
		}
	}
	for k := range w {
		if strings.HasPrefix(strings.ToLower(k), rateLimitPrefix) && got.Get(k) == "" {
			diffs = append(diffs, Diff{Path: "header " + strings.ToLower(k), Kind: KindMissing})
		}
	}
	return diffs
}

// mediaType normalises a Content-Type to its media type and charset.
func mediaType(v string) string {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return "unparsable"
	}
	if cs := params["charset"]; cs != "" {
		return mt + "; charset=" + strings.ToLower(cs)
	}
	return mt
}

// URLShape reduces a polling URL to what a client depends on: absolute or
// not, the resource-type segments of its path (names replaced by *, the
// provider namespace kept), and whether it carries an api-version. So
// https://management.azure.com/subscriptions/S/providers/Microsoft.X/locations/L/operationResults/ID?api-version=V
// becomes "absolute /subscriptions/*/providers/Microsoft.X/locations/*/operationResults/* api-version".
func URLShape(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "unparsable"
	}
	var b strings.Builder
	if u.IsAbs() && u.Host != "" {
		b.WriteString("absolute ")
	} else {
		b.WriteString("relative ")
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i, s := range segs {
		b.WriteByte('/')
		switch {
		case i%2 == 0:
			b.WriteString(strings.ToLower(s)) // ARM matches type keywords case-insensitively
		case strings.EqualFold(segs[i-1], "providers"):
			b.WriteString(s)
		default:
			b.WriteByte('*')
		}
	}
	if u.Query().Get("api-version") != "" {
		b.WriteString(" api-version")
	}
	return b.String()
}
