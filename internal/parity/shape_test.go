package parity

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestCompareBody(t *testing.T) {
	tests := []struct {
		name      string
		want, got string
		diffs     []string
	}{
		{"same shape, other values", `{"id":"/a","n":1,"ok":true,"x":null}`, `{"id":"/b","n":7,"ok":false,"x":null}`, nil},
		{"missing key", `{"a":"x","b":"y"}`, `{"a":"x"}`, []string{"b: missing (want string)"}},
		{"unexpected key", `{"a":"x"}`, `{"a":"x","keys":null}`, []string{"keys: unexpected (got null)"}},
		{"null is a type", `{"properties":{"scoringUri":null}}`, `{"properties":{"scoringUri":"http://h/score"}}`,
			[]string{"properties.scoringUri: type null, got string"}},
		{"number vs string", `{"expiryTimeUtc":1772655481}`, `{"expiryTimeUtc":"1772655481"}`, []string{"expiryTimeUtc: type number, got string"}},
		{"enum by key name", `{"properties":{"provisioningState":"Creating"}}`, `{"properties":{"provisioningState":"Succeeded"}}`,
			[]string{`properties.provisioningState: value "Creating", got "Succeeded"`}},
		{"enum inside array", `{"value":[{"status":"Updating"}]}`, `{"value":[{"status":"InProgress"}]}`,
			[]string{`value[].status: value "Updating", got "InProgress"`}},
		{"error code by path", `{"error":{"code":"ResourceNotFound","message":"a"}}`, `{"error":{"code":"NotFound","message":"b"}}`,
			[]string{`error.code: value "ResourceNotFound", got "NotFound"`}},
		{"code outside error is no enum", `{"code":"a"}`, `{"code":"b"}`, nil},
		{"free-form keys are not compared", `{"tags":{"a":"1"},"properties":{"properties":{"x":"y"},"traffic":{"blue":100}}}`,
			`{"tags":{},"properties":{"properties":{"rekey.upstream":"u"},"traffic":{}}}`, nil},
		{"free-form still compares type", `{"tags":{}}`, `{"tags":null}`, []string{"tags: type object, got null"}},
		{"array elements compared as a union", `{"value":[{"a":1},{"c":null}]}`, `{"value":[{"a":2,"b":3}]}`,
			[]string{"value[].c: missing (want null)", "value[].b: unexpected (got number)"}},
		{"union ignores element order", `{"capabilities":[{"name":"A","value":"x"},{"name":"B"}]}`, `{"capabilities":[{"name":"B"},{"name":"A","value":"y"}]}`, nil},
		{"union: null gives way", `{"value":[{"p":null},{"p":{"x":1}}]}`, `{"value":[{"p":{"x":2}}]}`, nil},
		{"union of nested objects", `{"value":[{"properties":{"a":1}},{"properties":{"b":"s"}}]}`, `{"value":[{"properties":{"a":1,"b":2}}]}`,
			[]string{"value[].properties.b: type string, got number"}},
		{"empty array matches any array", `{"value":[]}`, `{"value":[{"a":1}]}`, nil},
		{"array vs object", `{"value":[]}`, `{"value":{}}`, []string{"value: type array, got object"}},
		{"empty vs empty", ``, ``, nil},
		{"JSON null vs empty body", `null`, ``, []string{"body: missing (want null)"}},
		{"empty vs JSON body", ``, `{"a":1}`, []string{"body: unexpected (got object)"}},
		{"non-JSON body", `{}`, `<html>`, []string{"body: type object, got non-JSON"}},
		{"top-level type", `[]`, `{}`, []string{"body: type array, got object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []byte
			if tt.want != "" {
				want = []byte(tt.want)
			}
			got := strs(CompareBody(want, []byte(tt.got), DefaultRules))
			if !slices.Equal(got, tt.diffs) {
				t.Errorf("CompareBody(%s, %s) = %q, want %q", tt.want, tt.got, got, tt.diffs)
			}
		})
	}
}

// TestCompareJSONNeverPrintsValues guards the rule that a difference names
// values only for enums: keys and tokens must not reach test output.
func TestCompareJSONNeverPrintsValues(t *testing.T) {
	const secret = "s3cr3t-key-value"
	var want, got any
	_ = json.Unmarshal([]byte(`{"primaryKey":"x","accessToken":1,"nested":{"k":"x"}}`), &want)
	_ = json.Unmarshal([]byte(`{"primaryKey":"`+secret+`","accessToken":"`+secret+`","extra":"`+secret+`"}`), &got)
	for _, d := range CompareJSON(want, got, DefaultRules) {
		if s := d.String(); strings.Contains(s, secret) {
			t.Errorf("difference %q repeats a value", s)
		}
	}
}

func strs(ds []Diff) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}
