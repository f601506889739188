package arm_test

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// FuzzBodies sends arbitrary bodies to every operation that decodes one,
// through the real handlers and store. It runs its committed corpus as a
// regression test; for fuzzing proper use FuzzReadEndpointPut and
// FuzzReadRegenerate, which skip the (slowly instrumented) SQLite driver.
// No input may cause a 5xx, and every 4xx must carry ARM's envelope.
func FuzzBodies(f *testing.F) {
	for _, s := range []string{
		`{"location":"eastus","properties":{"authMode":"Key"}}`,
		`{"location":"eastus","properties":{"authMode":"Key","keys":{"primaryKey":"0123456789abcdefgh"},"traffic":{"a":0}}}`,
		`{"location":"eastus","identity":{"type":"UserAssigned","userAssignedIdentities":{"/subscriptions/s/providers/p/t/n":{}}},"properties":{"authMode":"AMLToken"}}`,
		`{"keyType":"Primary","keyValue":"0123456789abcdef"}`,
		`{"location":"eastus","properties":{"authMode":"Key","properties":{"rekey.keyGracePeriod":"5 minutes"}}}`,
		`{"location":"eastus","properties":{"authMode":"Key","properties":{"rekey.keyGracePeriod":"48h","Rekey.KeyGracePeriod ":"-5m"}}}`,
		`{"location":"westus","kind":"QnAMaker","sku":{"name":"S0"},"tags":{"rekey.keyGracePeriod":"1h"},"properties":{"apiProperties":{"qnaRuntimeEndpoint":"http://u:p@127.0.0.1:9","password":"x","websiteName":{"a":1},"statisticsEnabled":1}}}`,
		`{"properties":{"apiProperties":{"qnaRuntimeEndpoint":null,"aadClientId":null}},"tags":{"rekey.keyGracePeriod":"-5m"}}`,
		`{"keyType":"secondary"}`, `{"tags":{"a":"b"}}`, `[]`, `null`, `"x"`, `{"location":null}`, `{"properties":{"authMode":1e999}}`,
	} {
		f.Add(s)
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body string) {
		e.t = t
		e.workspace("ws1")
		for _, target := range []struct{ method, path string }{
			{"PUT", base + "/workspaces/ws1/onlineEndpoints/fz" + av},
			{"PATCH", base + "/workspaces/ws1/onlineEndpoints/fz" + av},
			{"POST", base + "/workspaces/ws1/onlineEndpoints/fz/regenerateKeys" + av},
			{"PUT", base + "/workspaces/ws2" + av},
			{"PUT", csBase + "/fz?api-version=2025-06-01"},
			{"PATCH", csBase + "/fz?api-version=2025-06-01"},
		} {
			resp := e.do(target.method, target.path, body)
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Fatalf("%s %s with %q = %d %s", target.method, target.path, body, resp.StatusCode, data)
			}
			if resp.StatusCode >= 400 {
				var env struct {
					Error struct{ Code, Message string }
				}
				if json.Unmarshal(data, &env) != nil || env.Error.Code == "" || env.Error.Message == "" || strings.Contains(env.Error.Message, "internal") {
					t.Fatalf("%s %s with %q = %d without a proper envelope: %s", target.method, target.path, body, resp.StatusCode, data)
				}
			}
		}
	})
}
