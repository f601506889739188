package qna

import (
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	for _, tt := range []struct {
		path string
		ok   bool
		want route
	}{
		{"/qnamaker/v4.0/endpointkeys", true, route{version: "v4.0", op: opEndpointKeys}},
		{"//qnamaker/V5.0-PREVIEW.1/EndpointKeys/PrimaryKey", true, route{version: "v5.0-preview.1", op: opEndpointKeysRefresh, keyType: "PrimaryKey"}},
		{"/qnamaker/v5.0-preview.2/endpointSettings/", true, route{version: "v5.0-preview.2", op: opEndpointSettings}},
		{"/qnamaker/v9/endpointkeys", true, route{}},
		{"/qnamaker/v4.0/endpointkeys/a/b", true, route{version: "v4.0"}},
		{"/subscriptions/x", false, route{}},
		{"/", false, route{}},
	} {
		got, ok := parsePath(tt.path)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parsePath(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParsePath: never panics; a recognised operation always has a
// served version, and a refresh always has a non-empty keyType without '/'.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/qnamaker/v4.0/endpointkeys", "//qnamaker/v5.0-preview.2/endpointkeys/SecondaryKey", "/qnamaker//", "qnamaker"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, ok := parsePath(p)
		if !ok && r != (route{}) {
			t.Fatalf("parsePath(%q) returned a route for a non-QnA path", p)
		}
		if r.op != opUnknown && r.version == "" {
			t.Fatalf("parsePath(%q) = %+v: an operation without a version", p, r)
		}
		if r.op == opEndpointKeysRefresh && (r.keyType == "" || strings.Contains(r.keyType, "/")) {
			t.Fatalf("parsePath(%q) keyType %q", p, r.keyType)
		}
	})
}
