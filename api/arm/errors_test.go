package arm_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey/api/arm"
)

func timeNow() time.Time { return time.Now() }

// TestErrors enumerates the error answers: status, ARM code and envelope
// (pinned in testdata/error_*.golden). Every one must leave state intact.
func TestErrors(t *testing.T) {
	e := newEnv(t, func(c *arm.Config) { c.MaxBody = 2048 })
	e.workspace("ws1")
	e.endpoint("ws1", "keyed", "Key")
	e.endpoint("ws1", "tokened", "AMLToken")
	e.workspace("ws2")
	ep := base + "/workspaces/ws1/onlineEndpoints/keyed"
	big := `{"location":"eastus","tags":{"x":"` + strings.Repeat("a", 4096) + `"}}`

	tests := []struct {
		name         string
		method, path string
		body         string
		headers      []string
		status       int
		code         string
	}{
		{"no_auth", "GET", ep + av, "", []string{"Authorization", ""}, 401, "AuthenticationFailed"},
		{"bad_auth_scheme", "GET", ep + av, "", []string{"Authorization", "Basic abc"}, 401, "AuthenticationFailed"},
		{"bad_token", "GET", ep + av, "", []string{"Authorization", "Bearer nope"}, 401, "InvalidAuthenticationToken"},
		{"missing_api_version", "GET", ep, "", nil, 400, "MissingApiVersionParameter"},
		{"malformed_api_version", "GET", ep + "?api-version=yesterday", "", nil, 400, "InvalidApiVersionParameter"},
		{"unsupported_api_version", "GET", ep + "?api-version=2020-01-01", "", nil, 400, "NoRegisteredProviderFound"},
		{"bad_subscription", "GET", strings.Replace(ep, sub, "not-a-guid", 1) + av, "", nil, 400, "InvalidSubscriptionId"},
		{"bad_workspace_name", "PUT", base + "/workspaces/a" + av, `{"location":"eastus"}`, nil, 400, "InvalidResourceName"},
		{"bad_endpoint_name", "PUT", base + "/workspaces/ws1/onlineEndpoints/-bad" + av, `{"location":"eastus","properties":{"authMode":"Key"}}`, nil, 400, "InvalidResourceName"},
		{"not_json", "PUT", ep + av, `{"location":`, nil, 400, "InvalidRequestContent"},
		{"wrong_type", "PUT", ep + av, `{"location":"eastus","properties":{"authMode":7}}`, nil, 400, "InvalidRequestContent"},
		{"empty_body", "POST", ep + "/regenerateKeys" + av, "", nil, 400, "InvalidRequestContent"},
		{"missing_location", "PUT", ep + av, `{"properties":{"authMode":"Key"}}`, nil, 400, "BadArgument"},
		{"missing_auth_mode", "PUT", ep + av, `{"location":"eastus","properties":{}}`, nil, 400, "BadArgument"},
		{"bad_auth_mode", "PUT", ep + av, `{"location":"eastus","properties":{"authMode":"Password"}}`, nil, 400, "BadArgument"},
		{"traffic_without_deployments", "PUT", ep + av, `{"location":"eastus","properties":{"authMode":"Key","traffic":{"blue":100}}}`, nil, 400, "BadArgument"},
		{"location_change", "PUT", ep + av, `{"location":"westus","properties":{"authMode":"Key"}}`, nil, 400, "BadArgument"},
		{"short_initial_key", "PUT", base + "/workspaces/ws1/onlineEndpoints/newone" + av, `{"location":"eastus","properties":{"authMode":"Key","keys":{"primaryKey":"short"}}}`, nil, 400, "BadArgument"},
		{"wrong_content_type", "PUT", ep + av, `location=eastus`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "UnsupportedMediaType"},
		{"too_large", "PUT", ep + av, big, nil, 413, "RequestEntityTooLarge"},
		{"missing_key_type", "POST", ep + "/regenerateKeys" + av, `{}`, nil, 400, "BadArgument"},
		{"unknown_key_type", "POST", ep + "/regenerateKeys" + av, `{"keyType":"Tertiary"}`, nil, 400, "BadArgument"},
		{"key_value_short", "POST", ep + "/regenerateKeys" + av, `{"keyType":"Primary","keyValue":"too-short"}`, nil, 400, "BadArgument"},
		{"key_value_whitespace", "POST", ep + "/regenerateKeys" + av, `{"keyType":"Primary","keyValue":"has a space in the middle"}`, nil, 400, "BadArgument"},
		{"list_keys_token_endpoint", "POST", base + "/workspaces/ws1/onlineEndpoints/tokened/listKeys" + av, "", nil, 400, "BadArgument"},
		{"regenerate_token_endpoint", "POST", base + "/workspaces/ws1/onlineEndpoints/tokened/regenerateKeys" + av, `{"keyType":"Primary"}`, nil, 400, "BadArgument"},
		{"token_key_endpoint", "POST", ep + "/token" + av, "", nil, 400, "BadArgument"},
		{"endpoint_not_found", "GET", base + "/workspaces/ws1/onlineEndpoints/nope" + av, "", nil, 404, "ResourceNotFound"},
		{"workspace_not_found", "GET", base + "/workspaces/nope" + av, "", nil, 404, "ResourceNotFound"},
		{"list_in_missing_workspace", "GET", base + "/workspaces/nope/onlineEndpoints" + av, "", nil, 404, "ResourceNotFound"},
		{"parent_not_found", "PUT", base + "/workspaces/nope/onlineEndpoints/orphan" + av, `{"location":"eastus","properties":{"authMode":"Key"}}`, nil, 404, "ParentResourceNotFound"},
		{"name_taken", "PUT", base + "/workspaces/ws2/onlineEndpoints/keyed" + av, `{"location":"eastus","properties":{"authMode":"Key"}}`, nil, 409, "Conflict"},
		{"operation_not_found", "GET", "/subscriptions/" + sub + "/providers/Microsoft.MachineLearningServices/locations/eastus/mfeOperationsStatus/oe:nope" + av, "", nil, 404, "OperationNotFound"},
		{"bad_count", "GET", base + "/workspaces/ws1/onlineEndpoints" + av + "&count=0", "", nil, 400, "BadArgument"},
		{"bad_skip", "GET", base + "/workspaces/ws1/onlineEndpoints" + av + "&$skip=abc", "", nil, 400, "BadArgument"},
		{"bad_order_by", "GET", base + "/workspaces/ws1/onlineEndpoints" + av + "&orderBy=Random", "", nil, 400, "BadArgument"},
		{"unknown_route", "GET", "/subscriptions/" + sub + "/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/x" + av, "", nil, 404, "NotFound"},
		{"method_not_allowed", "POST", ep + av, "", nil, 405, "MethodNotAllowed"},
	}
	_, before := e.must(http.StatusOK, "POST", ep+"/listKeys"+av, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			resp, body := e.must(tt.status, tt.method, tt.path, tt.body, tt.headers...)
			if got := resp.Header.Get("x-ms-error-code"); got != tt.code {
				t.Errorf("x-ms-error-code = %q, want %q", got, tt.code)
			}
			if resp.Header.Get("x-ms-request-id") == "" || resp.Header.Get("x-ms-correlation-request-id") == "" {
				t.Errorf("error response lacks x-ms-request-id or x-ms-correlation-request-id")
			}
			if !strings.Contains(string(body), `"code":"`+tt.code+`"`) || !strings.Contains(string(body), `"message":"`) {
				t.Errorf("body %s lacks the ARM envelope with code %s", body, tt.code)
			}
			golden(t, "error_"+tt.name, resp, body)
		})
	}
	e.t = t
	_, after := e.must(http.StatusOK, "POST", ep+"/listKeys"+av, "")
	if string(before) != string(after) {
		t.Errorf("keys changed across rejected requests")
	}
	_, body := e.must(http.StatusOK, "GET", ep+av, "")
	if !strings.Contains(string(body), `"location":"eastus"`) || strings.Contains(string(body), `"x":`) {
		t.Errorf("endpoint changed across rejected requests: %s", body)
	}
}

// TestCorrelationIDEchoed checks ARM's tracing headers.
func TestCorrelationIDEchoed(t *testing.T) {
	e := newEnv(t)
	const corr, client = "6f1c2c1a-1111-2222-3333-444444444444", "0b0b0b0b-1111-2222-3333-444444444444"
	resp, _ := e.must(http.StatusNotFound, "GET", base+"/workspaces/nope"+av, "",
		"x-ms-correlation-request-id", corr, "x-ms-client-request-id", client, "x-ms-return-client-request-id", "true")
	if got := resp.Header.Get("x-ms-correlation-request-id"); got != corr {
		t.Errorf("x-ms-correlation-request-id = %q, want the client's %q", got, corr)
	}
	if got := resp.Header.Get("x-ms-client-request-id"); got != client {
		t.Errorf("x-ms-client-request-id = %q, want the client's %q", got, client)
	}
}

// TestCaseInsensitivePaths: ARM keywords and names in any case.
func TestCaseInsensitivePaths(t *testing.T) {
	e := newEnv(t)
	e.workspace("MyWorkspace")
	e.endpoint("MyWorkspace", "MyEndpoint", "Key")
	p := "/SUBSCRIPTIONS/" + sub + "/RESOURCEGROUPS/RG1/PROVIDERS/microsoft.machinelearningservices/WORKSPACES/myworkspace/ONLINEENDPOINTS/myendpoint"
	_, body := e.must(http.StatusOK, "GET", p+av, "")
	if !strings.Contains(string(body), `"name":"MyEndpoint"`) {
		t.Errorf("GET in other case = %s, want the endpoint with its own spelling", body)
	}
	e.must(http.StatusOK, "POST", p+"/LISTKEYS"+av, "")
	e.must(http.StatusOK, "GET", p+"?API-VERSION=2024-04-01&api-version=2024-04-01", "")
}
