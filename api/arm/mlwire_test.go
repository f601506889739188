package arm_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey/api/arm"
)

// The tests in this file pin what recorded Azure ML traffic shows (the
// azure-ai-ml and az ml test recordings, api-version 2022-02-01-preview)
// where rekey used to differ.

// decodeMap parses a JSON object body.
func decodeMap(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	return m
}

// TestEndpointCreateWire: a creating PUT answers 201 with Location (the
// endpoint's own URL with api-version) besides Azure-AsyncOperation; the
// body has kind Managed, null scoring and swagger URIs while Creating,
// Azure ML's systemData and properties.properties entries. Once the
// operation succeeds the URIs appear. An update answers 200.
func TestEndpointCreateWire(t *testing.T) {
	e := newEnv(t, func(c *arm.Config) { c.OperationDelay = 300 * time.Millisecond })
	e.workspace("ws1")
	path := base + "/workspaces/ws1/onlineEndpoints/Wire-EP"
	resp, body := e.must(http.StatusCreated, "PUT", path+av, `{"location":"eastus","properties":{"authMode":"Key","properties":{"team":"ml"}}}`)
	if got, want := resp.Header.Get("Location"), e.srv.URL+path+av; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	async := resp.Header.Get("Azure-AsyncOperation")
	if async == "" {
		t.Fatal("no Azure-AsyncOperation")
	}
	check := func(when string, body []byte, wantURIs bool) {
		t.Helper()
		m := decodeMap(t, body)
		if m["kind"] != "Managed" {
			t.Errorf("%s: kind = %v, want Managed", when, m["kind"])
		}
		sd, _ := m["systemData"].(map[string]any)
		if got := slices.Sorted(maps.Keys(sd)); !reflect.DeepEqual(got, []string{"createdAt", "createdBy", "lastModifiedAt"}) {
			t.Errorf("%s: systemData keys = %v, want createdAt, createdBy, lastModifiedAt", when, got)
		}
		p := m["properties"].(map[string]any)
		props := p["properties"].(map[string]any)
		wantProps := map[string]any{
			"team":                     "ml",
			"azureml.onlineendpointid": strings.ToLower(path),
			"AzureAsyncOperationUri":   async,
		}
		if !reflect.DeepEqual(props, wantProps) {
			t.Errorf("%s: properties.properties = %v, want %v", when, props, wantProps)
		}
		if wantURIs {
			if p["scoringUri"] != "http://gateway.test/endpoints/Wire-EP/score" || p["swaggerUri"] != "http://gateway.test/endpoints/Wire-EP/swagger.json" {
				t.Errorf("%s: scoringUri %v, swaggerUri %v; want the gateway's", when, p["scoringUri"], p["swaggerUri"])
			}
		} else if p["scoringUri"] != nil || p["swaggerUri"] != nil {
			t.Errorf("%s: scoringUri %v, swaggerUri %v; want null while Creating", when, p["scoringUri"], p["swaggerUri"])
		}
	}
	check("201", body, false)
	_, body = e.must(http.StatusOK, "GET", path+av, "")
	check("GET while Creating", body, false)
	e.waitOp(async)
	_, body = e.must(http.StatusOK, "GET", path+av, "")
	check("GET after success", body, true)

	// A GET body sent back as is (what az ml online-endpoint update does)
	// is accepted: the computed entries are dropped, not stored.
	var echo map[string]any
	json.Unmarshal(body, &echo)
	echo["properties"].(map[string]any)["description"] = "second"
	again, _ := json.Marshal(echo)
	resp, body = e.must(http.StatusCreated, "PUT", path+av, string(again))
	if resp.Header.Get("Location") == "" {
		t.Errorf("update answered no Location; Azure ML sends it on updates too (recorded: 201 with Location)")
	}
	props := decodeMap(t, body)["properties"].(map[string]any)["properties"].(map[string]any)
	if props["AzureAsyncOperationUri"] != resp.Header.Get("Azure-AsyncOperation") || props["team"] != "ml" || len(props) != 3 {
		t.Errorf("after update: properties.properties = %v, want team and the new operation's status URL", props)
	}
}

// TestEndpointDeleteBody: 202 with a JSON null body and a JSON content
// type, as Azure ML answers.
func TestEndpointDeleteBody(t *testing.T) {
	e := newEnv(t)
	e.workspace("ws1")
	e.endpoint("ws1", "gone", "Key")
	resp, body := e.must(http.StatusAccepted, "DELETE", base+"/workspaces/ws1/onlineEndpoints/gone"+av, "")
	if got := resp.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q, want application/json; charset=utf-8", got)
	}
	if got := strings.TrimSpace(string(body)); got != "null" {
		t.Errorf("body = %q, want null", got)
	}
}

// TestErrorEnvelopeWithoutEmptyArrays: an ARM error is {code, message}
// only (details and additionalInfo appear only with content), and a
// missing resource's message ends with ARM's aka.ms pointer.
func TestErrorEnvelopeWithoutEmptyArrays(t *testing.T) {
	e := newEnv(t)
	e.workspace("ws1")
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"missing endpoint", "GET", base + "/workspaces/ws1/onlineEndpoints/nope" + av, "", 404, "ResourceNotFound"},
		{"missing deployment", "GET", base + "/workspaces/ws1/onlineEndpoints/nope/deployments/d" + av, "", 404, "ResourceNotFound"},
		{"bad body", "PUT", base + "/workspaces/ws1/onlineEndpoints/x" + av, `{"location":1}`, 400, "InvalidRequestContent"},
		{"no api-version", "GET", base + "/workspaces/ws1", "", 400, "MissingApiVersionParameter"},
	} {
		_, body := e.must(tc.status, tc.method, tc.path, tc.body)
		var env map[string]map[string]any
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatalf("%s: %s: %v", tc.name, body, err)
		}
		if got := slices.Sorted(maps.Keys(env["error"])); !reflect.DeepEqual(got, []string{"code", "message"}) {
			t.Errorf("%s: error keys = %v, want code and message only: %s", tc.name, got, body)
		}
		if env["error"]["code"] != tc.code {
			t.Errorf("%s: code = %v, want %s", tc.name, env["error"]["code"], tc.code)
		}
		msg, _ := env["error"]["message"].(string)
		if pointer := strings.HasSuffix(msg, ". For more details please go to https://aka.ms/ARMResourceNotFoundFix"); pointer != (tc.code == "ResourceNotFound") {
			t.Errorf("%s: message %q; want the aka.ms pointer exactly on ResourceNotFound", tc.name, msg)
		}
	}
}

// TestTokenLifetime: the token operation issues Azure ML's lifetime by
// default (expiry ≈ now + 86,340 s, refresh ≈ now + 43,170 s) and the
// configured one otherwise.
func TestTokenLifetime(t *testing.T) {
	for _, tc := range []struct {
		name          string
		lifetime      time.Duration
		expiry, after int64
	}{
		{"default", 0, 86340, 43170},
		{"configured", 2 * time.Hour, 7200, 3600},
	} {
		e := newEnv(t, func(c *arm.Config) { c.TokenLifetime = tc.lifetime })
		e.workspace("ws1")
		e.endpoint("ws1", "tok", "AMLToken")
		before := time.Now().Unix()
		_, body := e.must(http.StatusOK, "POST", base+"/workspaces/ws1/onlineEndpoints/tok/token"+av, "")
		after := time.Now().Unix()
		var tok struct {
			ExpiryTimeUTC       int64 `json:"expiryTimeUtc"`
			RefreshAfterTimeUTC int64 `json:"refreshAfterTimeUtc"`
		}
		json.Unmarshal(body, &tok)
		if tok.ExpiryTimeUTC < before+tc.expiry || tok.ExpiryTimeUTC > after+tc.expiry {
			t.Errorf("%s: expiryTimeUtc = now%+d, want now+%d", tc.name, tok.ExpiryTimeUTC-before, tc.expiry)
		}
		if tok.RefreshAfterTimeUTC < before+tc.after || tok.RefreshAfterTimeUTC > after+tc.after {
			t.Errorf("%s: refreshAfterTimeUtc = now%+d, want now+%d", tc.name, tok.RefreshAfterTimeUTC-before, tc.after)
		}
	}
}

// deploymentBody builds a deployment PUT body whose properties are the
// given JSON members plus the rekey upstream.
func deploymentBody(computeType, members string) string {
	if members != "" {
		members = "," + members
	}
	return `{"location":"eastus","sku":{"name":"Default","capacity":1},"properties":{"endpointComputeType":"` + computeType +
		`","properties":{"rekey.upstream":"http://127.0.0.1:9"}` + members + `}}`
}

// The OnlineDeployment properties a caller may send, Managed variant, and
// the Kubernetes variant's addition.
const (
	managedMembers = `"description":"d1","codeConfiguration":{"codeId":"/subscriptions/s/codes/c/versions/1","scoringScript":"score.py"},
		"environmentId":"azureml:env:1","environmentVariables":{"A":"1","B":"two"},"model":"azureml:model:3","modelMountPath":"/var/model",
		"instanceType":"Standard_DS3_v2","appInsightsEnabled":true,"egressPublicNetworkAccess":"Disabled",
		"requestSettings":{"maxConcurrentRequestsPerInstance":4,"maxQueueWait":"PT1S","requestTimeout":"PT30S"},
		"livenessProbe":{"failureThreshold":5,"successThreshold":2,"timeout":"PT3S","period":"PT20S","initialDelay":"PT40S"},
		"readinessProbe":{"failureThreshold":6,"successThreshold":3,"timeout":"PT4S","period":"PT25S","initialDelay":"PT50S"},
		"scaleSettings":{"scaleType":"TargetUtilization","minInstances":2,"maxInstances":5,"pollingInterval":"PT10S","targetUtilizationPercentage":60},
		"dataCollector":{"collections":{"model_inputs":{"dataCollectionMode":"Enabled","samplingRate":0.5,"dataId":"azureml:in:1","clientId":"cid"}},
			"requestLogging":{"captureHeaders":["x-a","x-b"]},"rollingRate":"Day"}`
	kubernetesMembers = managedMembers + `,"containerResourceRequirements":{"containerResourceLimits":{"cpu":"2","gpu":"1","memory":"4Gi"},
		"containerResourceRequests":{"cpu":"1","gpu":null,"memory":"2Gi"}}`
)

// TestDeploymentRoundTrip: every property of the Managed and Kubernetes
// OnlineDeployment schemas comes back as sent, on the 201, on GET and in
// the list; what is left out gets Azure ML's recorded defaults.
func TestDeploymentRoundTrip(t *testing.T) {
	var sent map[string]any
	json.Unmarshal([]byte(`{`+kubernetesMembers+`}`), &sent)
	withoutK8s := maps.Clone(sent)
	delete(withoutK8s, "containerResourceRequirements")
	defaults := map[string]any{
		"description": nil, "codeConfiguration": nil, "environmentId": nil, "environmentVariables": map[string]any{},
		"model": nil, "modelMountPath": nil, "instanceType": nil, "appInsightsEnabled": false, "egressPublicNetworkAccess": "Enabled",
		"requestSettings": map[string]any{"maxConcurrentRequestsPerInstance": 1.0, "maxQueueWait": "PT0S", "requestTimeout": "PT5S"},
		"livenessProbe":   map[string]any{"failureThreshold": 30.0, "successThreshold": 1.0, "timeout": "PT2S", "period": "PT10S", "initialDelay": "PT10S"},
		"readinessProbe":  map[string]any{"failureThreshold": 30.0, "successThreshold": 1.0, "timeout": "PT2S", "period": "PT10S", "initialDelay": "PT10S"},
		"scaleSettings":   map[string]any{"scaleType": "Default"}, "dataCollector": nil,
	}
	partial := maps.Clone(defaults)
	partial["requestSettings"] = map[string]any{"maxConcurrentRequestsPerInstance": 8.0, "maxQueueWait": "PT0S", "requestTimeout": "PT5S"}
	partial["livenessProbe"] = map[string]any{"failureThreshold": 30.0, "successThreshold": 1.0, "timeout": "PT2S", "period": "PT10S", "initialDelay": "PT90S"}
	partial["scaleSettings"] = map[string]any{"scaleType": "TargetUtilization", "minInstances": 1.0, "maxInstances": 1.0, "pollingInterval": "PT1S", "targetUtilizationPercentage": 70.0}
	partial["dataCollector"] = map[string]any{"collections": map[string]any{"c": map[string]any{"dataCollectionMode": "Disabled", "samplingRate": 1.0, "dataId": nil, "clientId": nil}},
		"requestLogging": nil, "rollingRate": "Hour"}

	e := newEnv(t)
	e.workspace("ws1")
	e.endpoint("ws1", "ep", "Key")
	for _, tc := range []struct {
		name, computeType, members string
		want                       map[string]any
	}{
		{"managed", "Managed", managedMembers, withoutK8s},
		{"kubernetes", "Kubernetes", kubernetesMembers, sent},
		{"defaults", "Managed", "", defaults},
		{"partial", "Managed", `"requestSettings":{"maxConcurrentRequestsPerInstance":8},"livenessProbe":{"initialDelay":"PT90S"},
			"scaleSettings":{"scaleType":"targetutilization"},"dataCollector":{"collections":{"c":{}}}`, partial},
	} {
		path := base + "/workspaces/ws1/onlineEndpoints/ep/deployments/" + tc.name
		resp, body := e.must(http.StatusCreated, "PUT", path+av, deploymentBody(tc.computeType, tc.members))
		golden(t, "deployment_put_"+tc.name, resp, body)
		if got, want := resp.Header.Get("Location"), e.srv.URL+path+av; got != want {
			t.Errorf("%s: Location = %q, want %q", tc.name, got, want)
		}
		compare := func(when string, m map[string]any) {
			t.Helper()
			p := m["properties"].(map[string]any)
			for k, want := range tc.want {
				if !reflect.DeepEqual(p[k], want) {
					t.Errorf("%s %s: properties.%s = %#v, want %#v", tc.name, when, k, p[k], want)
				}
			}
			if _, ok := p["containerResourceRequirements"]; ok != (tc.computeType == "Kubernetes") {
				t.Errorf("%s %s: containerResourceRequirements present = %v", tc.name, when, ok)
			}
			props := p["properties"].(map[string]any)
			if props["AzureAsyncOperationUri"] != resp.Header.Get("Azure-AsyncOperation") || props["rekey.upstream"] != "http://127.0.0.1:9" {
				t.Errorf("%s %s: properties.properties = %v, want the upstream and AzureAsyncOperationUri", tc.name, when, props)
			}
			if p["endpointComputeType"] != tc.computeType {
				t.Errorf("%s %s: endpointComputeType = %v", tc.name, when, p["endpointComputeType"])
			}
		}
		compare("201", decodeMap(t, body))
		e.waitOp(resp.Header.Get("Azure-AsyncOperation"))
		_, body = e.must(http.StatusOK, "GET", path+av, "")
		compare("GET", decodeMap(t, body))

		// Sending the GET body back changes nothing but the operation.
		resp, again := e.must(http.StatusCreated, "PUT", path+av, string(body))
		compare("PUT of the GET body", decodeMap(t, again))
		e.waitOp(resp.Header.Get("Azure-AsyncOperation"))
	}
	_, body := e.must(http.StatusOK, "GET", base+"/workspaces/ws1/onlineEndpoints/ep/deployments"+av, "")
	var list struct{ Value []map[string]any }
	json.Unmarshal(body, &list)
	if len(list.Value) != 4 || list.Value[1]["properties"].(map[string]any)["containerResourceRequirements"] == nil {
		t.Errorf("list = %d deployments, want 4 with the Kubernetes one's resources", len(list.Value))
	}
}

// TestDeploymentBadInput: wrongly typed properties are refused with ARM's
// InvalidRequestContent, invalid values with BadArgument, and nothing is
// written.
func TestDeploymentBadInput(t *testing.T) {
	e := newEnv(t)
	e.workspace("ws1")
	e.endpoint("ws1", "ep", "Key")
	path := base + "/workspaces/ws1/onlineEndpoints/ep/deployments/bad" + av
	for _, tc := range []struct {
		name, computeType, members, code, mention string
	}{
		{"probe threshold as string", "Managed", `"livenessProbe":{"failureThreshold":"30"}`, "InvalidRequestContent", "livenessProbe.failureThreshold"},
		{"app insights as string", "Managed", `"appInsightsEnabled":"yes"`, "InvalidRequestContent", "appInsightsEnabled"},
		{"env vars as list", "Managed", `"environmentVariables":["A=1"]`, "InvalidRequestContent", "environmentVariables"},
		{"code configuration as string", "Managed", `"codeConfiguration":"score.py"`, "InvalidRequestContent", "codeConfiguration"},
		{"no scoring script", "Managed", `"codeConfiguration":{"codeId":"c"}`, "BadArgument", "scoringScript"},
		{"bad egress", "Managed", `"egressPublicNetworkAccess":"Sometimes"`, "BadArgument", "egressPublicNetworkAccess"},
		{"bad scale type", "Managed", `"scaleSettings":{"scaleType":"Manual"}`, "BadArgument", "scaleType"},
		{"no scale type", "Managed", `"scaleSettings":{"minInstances":1}`, "BadArgument", "scaleType"},
		{"min above max", "Managed", `"scaleSettings":{"scaleType":"TargetUtilization","minInstances":3,"maxInstances":2}`, "BadArgument", "minInstances"},
		{"bad duration", "Managed", `"requestSettings":{"requestTimeout":"5 seconds"}`, "BadArgument", "requestTimeout"},
		{"bad probe duration", "Managed", `"readinessProbe":{"period":"P"}`, "BadArgument", "readinessProbe.period"},
		{"collections missing", "Managed", `"dataCollector":{"rollingRate":"Hour"}`, "BadArgument", "collections"},
		{"sampling rate", "Managed", `"dataCollector":{"collections":{"c":{"samplingRate":2}}}`, "BadArgument", "samplingRate"},
		{"bad rolling rate", "Managed", `"dataCollector":{"collections":{},"rollingRate":"Week"}`, "BadArgument", "rollingRate"},
		{"k8s resources on managed", "Managed", `"containerResourceRequirements":{}`, "BadArgument", "Kubernetes"},
	} {
		resp, body := e.must(http.StatusBadRequest, "PUT", path, deploymentBody(tc.computeType, tc.members))
		if resp.Header.Get("x-ms-error-code") != tc.code || !strings.Contains(string(body), tc.mention) {
			t.Errorf("%s: %s %s, want %s mentioning %s", tc.name, resp.Header.Get("x-ms-error-code"), body, tc.code, tc.mention)
		}
	}
	e.must(http.StatusNotFound, "GET", path, "")
}

// TestDeploymentDeleteBody: a deployment's DELETE answers like the
// endpoint's: 202 with a JSON null body.
func TestDeploymentDeleteBody(t *testing.T) {
	e := newEnv(t)
	e.workspace("ws1")
	e.endpoint("ws1", "ep", "Key")
	path := base + "/workspaces/ws1/onlineEndpoints/ep/deployments/d" + av
	resp, _ := e.must(http.StatusCreated, "PUT", path, deploymentBody("Managed", ""))
	e.waitOp(resp.Header.Get("Azure-AsyncOperation"))
	resp, body := e.must(http.StatusAccepted, "DELETE", path, "")
	if resp.Header.Get("Content-Type") != "application/json; charset=utf-8" || strings.TrimSpace(string(body)) != "null" {
		t.Errorf("DELETE = %q %q, want JSON null", resp.Header.Get("Content-Type"), body)
	}
}
