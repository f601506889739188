package arm_test

import (
	"net/http"
	"testing"
)

// TestAccountShapes pins the account body of each api-version family, as
// recorded from Azure: 2017-04-18 (no systemData, apiProperties always,
// no isMigrated/privateEndpointConnections/endpoints), 2022-03-01 and
// 2023-05-01 (those fields and systemData), 2025-06-01 (plus
// allowProjectManagement). Tags appear only when there are tags; identity
// carries userAssignedIdentities: {}; apiProperties: {} is echoed when
// sent empty.
func TestAccountShapes(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct{ version, body string }{
		{"2017-04-18", `{"kind":"CognitiveServices","location":"West US","sku":{"name":"S0"},"identity":{"type":"SystemAssigned"}}`},
		{"2022-03-01", `{"kind":"QnAMaker","location":"westus","sku":{"name":"S0"},"tags":{"team":"qna"},"properties":{"apiProperties":{"qnaRuntimeEndpoint":"https://qna.example.net"}}}`},
		{"2023-05-01", `{"kind":"FormRecognizer","location":"SOUTHCENTRALUS","sku":{"name":"S0"},"properties":{"apiProperties":{}}}`},
		{"2025-06-01", `{"kind":"Face","location":"westus","sku":{"name":"F0"},"identity":{"type":"SystemAssigned"},"properties":{}}`},
	} {
		t.Run(tt.version, func(t *testing.T) {
			e.t = t
			acc := csBase + "/shape-" + tt.version + "?api-version=" + tt.version
			resp, _ := e.must(http.StatusCreated, "PUT", acc, tt.body)
			e.waitAccountOp(resp.Header.Get("Azure-AsyncOperation"))
			resp, body := e.must(http.StatusOK, "GET", acc, "")
			golden(t, "account_shape_"+tt.version, resp, body)
		})
	}
}
