package parity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Diff is one way in which rekey's response differs from Azure's. Its
// String form is what deviations and pending entries match; it carries a
// value only for enums, error codes, statuses and header shapes, so it never
// repeats a key or token.
type Diff struct {
	Path string // "status", "body", "header Location", or a JSON path like "value[].properties.provisioningState"
	Kind string // one of the Kind constants
	Want string
	Got  string
}

// The kinds of difference.
const (
	KindStatus     = "status"     // another HTTP status
	KindMissing    = "missing"    // Azure sends the key or header, rekey does not
	KindUnexpected = "unexpected" // rekey sends a key or header Azure does not
	KindType       = "type"       // another JSON type (null counts as a type)
	KindValue      = "value"      // another enum value, error code or header shape
	KindPoll       = "poll"       // the replay could not follow an operation
)

func (d Diff) String() string {
	switch d.Kind {
	case KindMissing:
		if d.Want != "" {
			return fmt.Sprintf("%s: missing (want %s)", d.Path, d.Want)
		}
		return d.Path + ": missing"
	case KindUnexpected:
		if d.Got != "" {
			return fmt.Sprintf("%s: unexpected (got %s)", d.Path, d.Got)
		}
		return d.Path + ": unexpected"
	case KindPoll:
		return d.Path + ": " + d.Got
	case KindStatus:
		return fmt.Sprintf("status: %s, got %s", d.Want, d.Got)
	default:
		return fmt.Sprintf("%s: %s %s, got %s", d.Path, d.Kind, d.Want, d.Got)
	}
}

// Rules say which JSON values are compared beyond their type.
type Rules struct {
	// Enums are compared by value: a key name ("provisioningState") matches
	// that key anywhere, a dotted path ("error.code") matches a path suffix.
	Enums []string
	// FreeForm objects hold caller- or service-chosen keys (tags, the
	// properties bag, traffic maps): only their type is compared. Each
	// entry matches a path suffix.
	FreeForm []string
}

// DefaultRules are the rules of the parity suite.
var DefaultRules = Rules{
	Enums: []string{"provisioningState", "status", "kind", "authMode", "tokenType", "endpointComputeType", "error.code"},
	FreeForm: []string{
		"tags", "properties.properties", "properties.traffic", "properties.mirrorTraffic",
		"properties.environmentVariables", "properties.endpoints", "properties.apiProperties",
		"identity.userAssignedIdentities",
	},
}

// suffix reports whether path ends with the dotted pattern at a segment
// boundary; "[]" in path is ignored, so "tags" matches "value[].tags".
func suffix(path, pattern string) bool {
	path = strings.ReplaceAll(path, "[]", "")
	return path == pattern || strings.HasSuffix(path, "."+pattern)
}

func (r Rules) enum(path string) bool {
	return slices.ContainsFunc(r.Enums, func(e string) bool { return suffix(path, e) })
}

func (r Rules) freeForm(path string) bool {
	return slices.ContainsFunc(r.FreeForm, func(e string) bool { return suffix(path, e) })
}

// CompareBody compares two response bodies. A nil want is an empty body.
// JSON bodies are compared by CompareJSON.
func CompareBody(want, got []byte, rules Rules) []Diff {
	wantEmpty, gotEmpty := len(bytes.TrimSpace(want)) == 0, len(bytes.TrimSpace(got)) == 0
	switch {
	case wantEmpty && gotEmpty:
		return nil
	case wantEmpty:
		return []Diff{{Path: "body", Kind: KindUnexpected, Got: describe(got)}}
	case gotEmpty:
		return []Diff{{Path: "body", Kind: KindMissing, Want: describe(want)}}
	}
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		return []Diff{{Path: "body", Kind: KindType, Want: "invalid recorded JSON", Got: describe(got)}}
	}
	if err := json.Unmarshal(got, &g); err != nil {
		return []Diff{{Path: "body", Kind: KindType, Want: jsonType(w), Got: "non-JSON"}}
	}
	var diffs []Diff
	compare("", w, g, rules, &diffs)
	return diffs
}

func describe(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return "non-JSON"
	}
	return jsonType(v)
}

// CompareJSON compares two decoded JSON documents by shape: the same keys
// with the same JSON types, recursively; values only where rules say so.
// An array's shape is the union of its elements' shapes (see union), so
// the order and number of elements do not matter, and an empty array
// matches any array.
func CompareJSON(want, got any, rules Rules) []Diff {
	var diffs []Diff
	compare("", want, got, rules, &diffs)
	return diffs
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", v)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func compare(path string, want, got any, rules Rules, diffs *[]Diff) {
	name := path
	if name == "" {
		name = "body"
	}
	if wt, gt := jsonType(want), jsonType(got); wt != gt {
		*diffs = append(*diffs, Diff{Path: name, Kind: KindType, Want: wt, Got: gt})
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		if rules.freeForm(path) {
			return
		}
		for _, k := range sortedKeys(w) {
			if gv, ok := g[k]; ok {
				compare(join(path, k), w[k], gv, rules, diffs)
			} else {
				*diffs = append(*diffs, Diff{Path: join(path, k), Kind: KindMissing, Want: jsonType(w[k])})
			}
		}
		for _, k := range sortedKeys(g) {
			if _, ok := w[k]; !ok {
				*diffs = append(*diffs, Diff{Path: join(path, k), Kind: KindUnexpected, Got: jsonType(g[k])})
			}
		}
	case []any:
		g := got.([]any)
		if len(w) > 0 && len(g) > 0 {
			compare(path+"[]", union(w), union(g), rules, diffs)
		}
	default:
		if rules.enum(path) && want != got {
			*diffs = append(*diffs, Diff{Path: name, Kind: KindValue, Want: fmt.Sprintf("%q", fmt.Sprint(want)), Got: fmt.Sprintf("%q", fmt.Sprint(got))})
		}
	}
}

// union merges the elements of an array into one value with every key
// that any element has: objects are merged key by key (recursively), arrays
// are concatenated, and a null gives way to any other value. Elements of
// different JSON types keep the first element's type. An enum keeps the
// first element's value, so a value difference is reported only for
// arrays whose first elements differ.
func union(elems []any) any {
	var u any
	for i, e := range elems {
		if i == 0 {
			u = e
			continue
		}
		u = merge(u, e)
	}
	return u
}

func merge(a, b any) any {
	switch av := a.(type) {
	case nil:
		return b
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return a
		}
		m := make(map[string]any, len(av)+len(bv))
		for k, v := range av {
			m[k] = v
		}
		for k, v := range bv {
			if old, ok := m[k]; ok {
				m[k] = merge(old, v)
			} else {
				m[k] = v
			}
		}
		return m
	case []any:
		if bv, ok := b.([]any); ok {
			return append(append([]any{}, av...), bv...)
		}
	}
	return a
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
