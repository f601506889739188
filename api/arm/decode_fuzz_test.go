package arm

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey"
)

// checkClientError fails unless err is nil or renders as a 4xx with a code
// and message: bad input must never look like a server fault.
func checkClientError(t *testing.T, body string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	st, d := status(err)
	if st < 400 || st >= 500 || d.Code == "" || d.Message == "" {
		t.Fatalf("body %q gave %d %q %q, want a 4xx with code and message", body, st, d.Code, d.Message)
	}
}

func request(body string) (*httptest.ResponseRecorder, *http.Request) {
	r := httptest.NewRequest("PUT", "/x", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return httptest.NewRecorder(), r
}

// FuzzReadEndpointPut fuzzes the createOrUpdate body decoder and checks.
func FuzzReadEndpointPut(f *testing.F) {
	for _, s := range []string{
		`{"location":"eastus","properties":{"authMode":"Key"}}`,
		`{"location":"eastus","tags":{"a":"b"},"sku":{"name":"s","tier":"free","capacity":2},"properties":{"authMode":"amltoken","keys":{"primaryKey":"0123456789abcdefgh","secondaryKey":"0123456789abcdefgh"}}}`,
		`{"location":"eastus","identity":{"type":"SystemAssigned, UserAssigned","userAssignedIdentities":{"/subscriptions/s/providers/p/t/n":{}}},"properties":{"authMode":"Key","traffic":{"a":100},"mirrorTraffic":{"b":60}}}`,
		`{"location":"","properties":null}`, `[]`, `{"properties":{"authMode":1}}`,
	} {
		f.Add(s)
	}
	a := &api{Config: Config{MaxBody: 1 << 16}}
	f.Fuzz(func(t *testing.T, body string) {
		w, r := request(body)
		put, err := a.readEndpointPut(w, r)
		checkClientError(t, body, err)
		if err != nil {
			return
		}
		_, err = identityFrom(put.in.Identity, "owner", "sub")
		checkClientError(t, body, err)
		e := &rekey.Endpoint{
			ID:       rekey.EndpointID{Workspace: rekey.WorkspaceID{Subscription: "00000000-0000-0000-0000-000000000001", ResourceGroup: "rg", Name: "ws1"}, Name: "ep"},
			Location: *put.in.Location, AuthMode: put.mode, PublicNetworkAccess: "Enabled",
			Traffic: put.in.Properties.Traffic, MirrorTraffic: put.in.Properties.MirrorTraffic,
		}
		checkClientError(t, body, e.Validate(nil))
		if put.keys.Primary != "" && rekey.ValidateKeyValue("k", put.keys.Primary) != nil {
			t.Fatalf("accepted an invalid primary key from %q", body)
		}
	})
}

// FuzzReadRegenerate fuzzes the regenerateKeys body decoder.
func FuzzReadRegenerate(f *testing.F) {
	for _, s := range []string{`{"keyType":"Primary"}`, `{"keyType":"secondary","keyValue":"0123456789abcdef"}`, `{"keyType":null}`, `{}`, `x`} {
		f.Add(s)
	}
	a := &api{Config: Config{MaxBody: 1 << 16}}
	f.Fuzz(func(t *testing.T, body string) {
		w, r := request(body)
		slot, _, err := a.readRegenerate(w, r)
		checkClientError(t, body, err)
		if err == nil && slot != rekey.Primary && slot != rekey.Secondary {
			t.Fatalf("body %q gave slot %q", body, slot)
		}
	})
}

// FuzzDeploymentSpec fuzzes the OnlineDeployment properties checker: any
// input is either refused as a client error or stored with every default
// filled, and renders back without a panic.
func FuzzDeploymentSpec(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"codeConfiguration":{"scoringScript":"score.py"},"requestSettings":{"maxQueueWait":"PT0.5S"},"livenessProbe":{"period":"P1DT2H"}}`,
		`{"scaleSettings":{"scaleType":"TargetUtilization","minInstances":3,"maxInstances":2}}`,
		`{"dataCollector":{"collections":{"c":{"samplingRate":0.25,"dataCollectionMode":"enabled"}},"requestLogging":{"captureHeaders":null}}}`,
		`{"containerResourceRequirements":{"containerResourceLimits":{"cpu":"1"}}}`,
		`{"requestSettings":{"requestTimeout":"PT"}}`, `{"livenessProbe":null}`, `[]`,
	} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, body string, kubernetes bool) {
		var in deploymentSpecIn
		if json.Unmarshal([]byte(body), &in) != nil {
			return
		}
		computeType := "Managed"
		if kubernetes {
			computeType = "Kubernetes"
		}
		s, err := specFrom(in, computeType)
		checkClientError(t, body, err)
		if err != nil {
			return
		}
		if s.RequestSettings.MaxQueueWait == nil || s.LivenessProbe.Period == nil || s.ReadinessProbe.Timeout == nil || s.ScaleSettings.ScaleType == nil {
			t.Fatalf("body %q left a default unfilled: %+v", body, s)
		}
		var p deploymentPropsJSON
		specOut(s, &p)
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("body %q: rendering failed: %v", body, err)
		}
	})
}
