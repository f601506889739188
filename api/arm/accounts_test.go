package arm_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const csBase = "/subscriptions/" + sub + "/resourceGroups/rg1/providers/Microsoft.CognitiveServices/accounts"

// TestAccountsGolden pins the account bodies and key answers.
func TestAccountsGolden(t *testing.T) {
	e := newEnv(t)
	acc := csBase + "/qna1"
	const v = "?api-version=2025-06-01"
	resp, body := e.must(http.StatusCreated, "PUT", acc+v, `{"location":"westus","kind":"QnAMaker","sku":{"name":"S0"},"tags":{"env":"test"},
		"properties":{"customSubDomainName":"qna1","apiProperties":{"qnaRuntimeEndpoint":"https://qna1.azurewebsites.net/","qnaAzureSearchEndpointKey":"must-not-be-kept","statisticsEnabled":false}}}`)
	golden(t, "account_put_created", resp, body)
	if strings.Contains(string(body), "must-not-be-kept") {
		t.Errorf("a secret apiProperty was echoed")
	}
	e.waitAccountOp(resp.Header.Get("Azure-AsyncOperation"))
	resp, body = e.must(http.StatusOK, "GET", acc+v, "")
	golden(t, "account_get", resp, body)
	resp, body = e.must(http.StatusOK, "PATCH", acc+v, `{"tags":{"env":"prod"}}`)
	golden(t, "account_patch", resp, body)
	resp, _ = e.must(http.StatusCreated, "PUT", csBase+"/face1"+v, `{"location":"westus","kind":"Face","sku":{"name":"F0"}}`)
	e.waitAccountOp(resp.Header.Get("Azure-AsyncOperation"))
	resp, body = e.must(http.StatusOK, "GET", csBase+v, "")
	golden(t, "account_list", resp, body)

	_, body = e.must(http.StatusOK, "POST", acc+"/listKeys"+v, "")
	var k0 struct{ Key1, Key2 string }
	json.Unmarshal(body, &k0)
	if len(k0.Key1) != 32 || len(k0.Key2) != 32 || k0.Key1 == k0.Key2 {
		t.Fatalf("listKeys = %s, want two different 32-character keys", body)
	}
	_, body = e.must(http.StatusOK, "POST", acc+"/regenerateKey"+v, `{"keyName":"key1"}`)
	var k1 struct{ Key1, Key2 string }
	json.Unmarshal(body, &k1)
	if k1.Key1 == k0.Key1 || k1.Key2 != k0.Key2 {
		t.Errorf("regenerateKey Key1: key1 changed %v, key2 kept %v; want true, true", k1.Key1 != k0.Key1, k1.Key2 == k0.Key2)
	}
	// Older api-versions of the same shapes.
	for _, old := range []string{"2017-04-18", "2021-04-30", "2022-12-01", "2023-05-01", "2024-10-01"} {
		e.must(http.StatusOK, "GET", acc+"?api-version="+old, "")
	}
	resp, body = e.must(http.StatusOK, "DELETE", acc+v, "")
	golden(t, "account_delete", resp, body)
	e.must(http.StatusNoContent, "DELETE", acc+v, "")
	e.must(http.StatusNotFound, "POST", acc+"/listKeys"+v, "")
}

func TestAccountErrors(t *testing.T) {
	e := newEnv(t)
	const v = "?api-version=2025-06-01"
	e.must(http.StatusCreated, "PUT", csBase+"/qna1"+v, `{"location":"westus","kind":"QnAMaker","sku":{"name":"S0"},"properties":{"apiProperties":{"qnaRuntimeEndpoint":"http://127.0.0.1:9"}}}`)
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"bad_name", "PUT", csBase + "/-x" + v, `{"location":"westus","kind":"Face","sku":{"name":"F0"}}`, 400, "InvalidResourceName"},
		{"missing_kind", "PUT", csBase + "/a2" + v, `{"location":"westus","sku":{"name":"F0"}}`, 400, "BadArgument"},
		{"missing_sku", "PUT", csBase + "/a2" + v, `{"location":"westus","kind":"Face"}`, 400, "BadArgument"},
		{"qna_without_runtime", "PUT", csBase + "/a2" + v, `{"location":"westus","kind":"QnAMaker","sku":{"name":"S0"}}`, 400, "BadArgument"},
		{"qna_bad_runtime", "PUT", csBase + "/a2" + v, `{"location":"westus","kind":"QnAMaker","sku":{"name":"S0"},"properties":{"apiProperties":{"qnaRuntimeEndpoint":"not a url"}}}`, 400, "BadArgument"},
		{"kind_change", "PUT", csBase + "/qna1" + v, `{"location":"westus","kind":"Face","sku":{"name":"S0"}}`, 409, "Conflict"},
		{"unknown_key_name", "POST", csBase + "/qna1/regenerateKey" + v, `{"keyName":"Key3"}`, 400, "BadArgument"},
		{"missing_key_name", "POST", csBase + "/qna1/regenerateKey" + v, `{}`, 400, "BadArgument"},
		{"account_not_found", "GET", csBase + "/nope" + v, "", 404, "ResourceNotFound"},
		{"unsupported_version", "GET", csBase + "/qna1?api-version=2024-04-01", "", 400, "NoRegisteredProviderFound"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			resp, body := e.must(tt.status, tt.method, tt.path, tt.body)
			if got := resp.Header.Get("x-ms-error-code"); got != tt.code {
				t.Errorf("code = %s, want %s", got, tt.code)
			}
			golden(t, "error_account_"+tt.name, resp, body)
		})
	}
}
