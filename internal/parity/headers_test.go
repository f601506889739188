package parity

import (
	"net/http"
	"slices"
	"testing"
)

func TestCompareHeaders(t *testing.T) {
	const ao = "https://management.azure.com/subscriptions/S/providers/Microsoft.MachineLearningServices/locations/westus/mfeOperationsStatus/oe:1?api-version=2022-02-01-preview"
	tests := []struct {
		name  string
		want  map[string]string
		got   http.Header
		diffs []string
	}{
		{"same", map[string]string{"Content-Type": "application/json; charset=utf-8", "Azure-AsyncOperation": ao},
			http.Header{"Content-Type": {"application/json; charset=UTF-8"}, "Azure-Asyncoperation": {"https://127.0.0.1:7443/subscriptions/X/providers/Microsoft.MachineLearningServices/locations/eastus/mfeOperationsStatus/oe:2?api-version=2024-04-01"}}, nil},
		{"other headers ignored", map[string]string{"Date": "x", "x-ms-request-id": "y"}, http.Header{"Server": {"rekey"}}, nil},
		{"polling header missing", map[string]string{"Azure-AsyncOperation": ao, "Location": ao}, http.Header{"Azure-Asyncoperation": {ao}},
			[]string{"header Location: missing"}},
		{"polling header unexpected", nil, http.Header{"Retry-After": {"1"}, "Location": {ao}},
			[]string{"header Location: unexpected", "header Retry-After: unexpected"}},
		{"polling URL of another shape", map[string]string{"Azure-AsyncOperation": ao},
			http.Header{"Azure-Asyncoperation": {"/operations/1"}},
			[]string{"header Azure-AsyncOperation: value absolute /subscriptions/*/providers/Microsoft.MachineLearningServices/locations/*/mfeoperationsstatus/* api-version, got relative /operations/*"}},
		{"charset differs", map[string]string{"Content-Type": "application/json; charset=utf-8"}, http.Header{"Content-Type": {"application/json"}},
			[]string{"header Content-Type: value application/json; charset=utf-8, got application/json"}},
		{"content type where Azure has none", nil, http.Header{"Content-Type": {"application/json"}}, []string{"header Content-Type: unexpected"}},
		{"quota header missing", map[string]string{"x-ms-ratelimit-remaining-subscription-reads": "249"}, http.Header{},
			[]string{"header x-ms-ratelimit-remaining-subscription-reads: missing"}},
		{"ETag missing", map[string]string{"ETag": `"1"`}, http.Header{}, []string{"header ETag: missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strs(CompareHeaders(tt.want, tt.got))
			slices.Sort(got)
			if !slices.Equal(got, tt.diffs) {
				t.Errorf("CompareHeaders = %q, want %q", got, tt.diffs)
			}
		})
	}
}

func TestURLShape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://management.azure.com/subscriptions/S/providers/Microsoft.CognitiveServices/locations/SOUTHCENTRALUS/operationResults/ID?api-version=2017-04-18&t=1&c=2",
			"absolute /subscriptions/*/providers/Microsoft.CognitiveServices/locations/*/operationresults/* api-version"},
		{"https://h/subscriptions/S/resourcegroups/G/providers/Microsoft.X/workspaces/W", "absolute /subscriptions/*/resourcegroups/*/providers/Microsoft.X/workspaces/*"},
		{"/a/b", "relative /a/*"},
	}
	for _, tt := range tests {
		if got := URLShape(tt.in); got != tt.want {
			t.Errorf("URLShape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
