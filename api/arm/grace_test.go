package arm_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// badGrace are the spellings the issue found accepted with 201 and then
// meaning no grace at all: above the cap, negative, and not Go syntax.
var badGrace = []string{"48h", "-5m", "5 minutes", "24h0m1s", " 5m"}

// checkGraceError fails unless a 400 BadArgument names the format and range.
func checkGraceError(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	var env struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(body, &env)
	if resp.StatusCode != http.StatusBadRequest || env.Error.Code != "BadArgument" {
		t.Fatalf("status %d code %q, want 400 BadArgument: %s", resp.StatusCode, env.Error.Code, body)
	}
	for _, want := range []string{"rekey.keyGracePeriod", "0s to 24h", "Go syntax", "1h30m"} {
		if !strings.Contains(env.Error.Message, want) {
			t.Errorf("message %q does not mention %q", env.Error.Message, want)
		}
	}
}

func graceBody(v string) string {
	b, _ := json.Marshal(map[string]any{"location": "eastus", "properties": map[string]any{"authMode": "Key", "properties": map[string]string{"rekey.keyGracePeriod": v}}})
	return string(b)
}

func accountBody(tags map[string]string) string {
	b, _ := json.Marshal(map[string]any{"location": "westus", "kind": "Face", "sku": map[string]string{"name": "F0"}, "tags": tags})
	return string(b)
}

// TestGraceValidatedAtWrite: bad rekey.keyGracePeriod values are refused
// with a 400 that names the format and range, on endpoint PUT and on
// account PUT and PATCH, and nothing is written.
func TestGraceValidatedAtWrite(t *testing.T) {
	e := newEnv(t)
	e.workspace("ws1")
	const v = "?api-version=2025-06-01"
	e.must(http.StatusCreated, "PUT", csBase+"/acc1"+v, accountBody(nil))
	for _, bad := range badGrace {
		t.Run(bad, func(t *testing.T) {
			e.t = t
			resp := e.do("PUT", base+"/workspaces/ws1/onlineEndpoints/g1"+av, graceBody(bad))
			body := readAll(resp)
			checkGraceError(t, resp, body)
			e.must(http.StatusNotFound, "GET", base+"/workspaces/ws1/onlineEndpoints/g1"+av, "")

			resp = e.do("PUT", csBase+"/acc2"+v, accountBody(map[string]string{"rekey.keyGracePeriod": bad}))
			checkGraceError(t, resp, readAll(resp))
			e.must(http.StatusNotFound, "GET", csBase+"/acc2"+v, "")

			resp = e.do("PATCH", csBase+"/acc1"+v, `{"tags":{"rekey.keyGracePeriod":"`+bad+`"}}`)
			checkGraceError(t, resp, readAll(resp))
		})
	}
	// A name the gateway would not find is refused too.
	resp := e.do("PATCH", csBase+"/acc1"+v, `{"tags":{"Rekey.KeyGracePeriod":"5m"}}`)
	if body := readAll(resp); resp.StatusCode != 400 || !strings.Contains(string(body), "spell it 'rekey.keyGracePeriod'") {
		t.Errorf("mis-cased name: %d %s, want 400 naming the spelling", resp.StatusCode, body)
	}
	_, body := e.must(http.StatusOK, "GET", csBase+"/acc1"+v, "")
	if strings.Contains(string(body), "GracePeriod") {
		t.Errorf("a refused PATCH changed the account: %s", body)
	}
}

// TestGraceChangeable: unlike other properties.properties entries, the
// grace period can be changed and removed after it was set.
func TestGraceChangeable(t *testing.T) {
	e := newEnv(t)
	e.workspace("ws1")
	ep := base + "/workspaces/ws1/onlineEndpoints/g1" + av
	resp, _ := e.must(http.StatusCreated, "PUT", ep, graceBody("1m"))
	e.waitOp(resp.Header.Get("Azure-AsyncOperation"))
	props := func() map[string]string {
		_, body := e.must(http.StatusOK, "GET", ep, "")
		var out struct {
			Properties struct{ Properties map[string]string }
		}
		json.Unmarshal(body, &out)
		return out.Properties.Properties
	}
	for _, tt := range []struct {
		body   string
		want   string
		exists bool
	}{
		{graceBody("5m"), "5m", true},
		{graceBody("0s"), "0s", true},
		{graceBody(""), "", false},
		{graceBody("1h30m"), "1h30m", true},
		{`{"location":"eastus","properties":{"authMode":"Key","properties":{"rekey.keyGracePeriod":null}}}`, "", false},
	} {
		resp, _ := e.must(http.StatusCreated, "PUT", ep, tt.body)
		e.waitOp(resp.Header.Get("Azure-AsyncOperation"))
		got, ok := props()["rekey.keyGracePeriod"]
		if got != tt.want || ok != tt.exists {
			t.Errorf("after PUT %s: grace = %q (present %v), want %q (present %v)", tt.body, got, ok, tt.want, tt.exists)
		}
	}
	// Other entries keep Azure's rule.
	e.must(http.StatusCreated, "PUT", ep, `{"location":"eastus","properties":{"authMode":"Key","properties":{"team":"a"}}}`)
	e.must(http.StatusBadRequest, "PUT", ep, `{"location":"eastus","properties":{"authMode":"Key","properties":{"team":"b"}}}`)

	const v = "?api-version=2025-06-01"
	e.must(http.StatusCreated, "PUT", csBase+"/acc1"+v, accountBody(map[string]string{"rekey.keyGracePeriod": "1m"}))
	_, body := e.must(http.StatusOK, "PATCH", csBase+"/acc1"+v, `{"tags":{"rekey.keyGracePeriod":"10m"}}`)
	if !strings.Contains(string(body), `"rekey.keyGracePeriod":"10m"`) {
		t.Errorf("PATCH did not change the account's grace: %s", body)
	}
	_, body = e.must(http.StatusOK, "PUT", csBase+"/acc1"+v, accountBody(map[string]string{"env": "x"}))
	if strings.Contains(string(body), "GracePeriod") {
		t.Errorf("PUT without the tag kept it: %s", body)
	}
}

func readAll(resp *http.Response) []byte {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}
