package arm_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey/api/arm"
)

// waitAccountOp polls an account operation until it leaves Creating.
func (e *env) waitAccountOp(statusURL string) map[string]any {
	e.t.Helper()
	if statusURL == "" {
		e.t.Fatal("no Azure-AsyncOperation URL to wait for")
	}
	path := strings.TrimPrefix(statusURL, e.srv.URL)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		_, data := e.must(http.StatusOK, "GET", path, "")
		var st map[string]any
		json.Unmarshal(data, &st)
		if st["status"] != "Creating" {
			return st
		}
	}
	e.t.Fatalf("operation %s did not end", statusURL)
	return nil
}

// TestAccountCreateAsync: creating an account answers 201 Creating with an
// Azure-AsyncOperation URL shaped like Azure's (subscription scope, the
// caller's location, a GUID, api-version 2017-04-18); the status resource
// says Creating for the operation delay, then Succeeded with an endTime,
// and the account turns Succeeded.
func TestAccountCreateAsync(t *testing.T) {
	const delay = 400 * time.Millisecond
	e := newEnv(t, func(c *arm.Config) { c.OperationDelay = delay })
	acc := csBase + "/slow"
	const v = "?api-version=2023-05-01"
	start := time.Now()
	resp, body := e.must(http.StatusCreated, "PUT", acc+v, `{"location":"SOUTHCENTRALUS","kind":"FormRecognizer","sku":{"name":"S0"},"properties":{}}`)
	if !strings.Contains(string(body), `"provisioningState":"Creating"`) {
		t.Errorf("201 body = %s, want provisioningState Creating", body)
	}
	ao := resp.Header.Get("Azure-AsyncOperation")
	want := regexp.MustCompile(`^` + regexp.QuoteMeta(e.srv.URL+"/subscriptions/"+sub+"/providers/Microsoft.CognitiveServices/locations/SOUTHCENTRALUS/operationResults/") +
		`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\?api-version=2017-04-18$`)
	if !want.MatchString(ao) {
		t.Fatalf("Azure-AsyncOperation = %q, want %s", ao, want)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("201 has no Retry-After hint")
	}
	golden(t, "account_put_creating", resp, body)

	statusPath := strings.TrimPrefix(ao, e.srv.URL)
	resp, body = e.must(http.StatusOK, "GET", statusPath, "")
	if time.Since(start) < delay {
		golden(t, "account_operation_creating", resp, body)
		_, body = e.must(http.StatusOK, "GET", acc+v, "")
		if !strings.Contains(string(body), `"provisioningState":"Creating"`) {
			t.Errorf("GET during the delay = %s, want Creating", body)
		}
	}
	st := e.waitAccountOp(ao)
	if st["status"] != "Succeeded" || st["endTime"] == nil {
		t.Fatalf("final status = %v, want Succeeded with an endTime", st)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("operation ended after %v, before the %v operation delay", took, delay)
	}
	resp, body = e.must(http.StatusOK, "GET", statusPath, "")
	golden(t, "account_operation_succeeded", resp, body)
	var got map[string]any
	json.Unmarshal(body, &got)
	wantKeys := []string{"endTime", "id", "name", "startTime", "status"}
	if keys := sortedKeys(got); strings.Join(keys, ",") != strings.Join(wantKeys, ",") {
		t.Errorf("status resource fields = %v, want %v", keys, wantKeys)
	}
	if id, _ := got["id"].(string); !strings.HasPrefix(ao, e.srv.URL+id+"?") {
		t.Errorf("status id = %q, want the path of %q", id, ao)
	}
	_, body = e.must(http.StatusOK, "GET", acc+v, "")
	if !strings.Contains(string(body), `"provisioningState":"Succeeded"`) {
		t.Errorf("GET after the operation = %s, want Succeeded", body)
	}

	// An update is synchronous: 200, no polling URL.
	resp, _ = e.must(http.StatusOK, "PUT", acc+v, `{"location":"southcentralus","kind":"FormRecognizer","sku":{"name":"S0"}}`)
	if resp.Header.Get("Azure-AsyncOperation") != "" {
		t.Errorf("update answered an Azure-AsyncOperation URL")
	}
	// Another subscription, or another location, cannot read the operation.
	e.must(http.StatusNotFound, "GET", strings.Replace(statusPath, sub, "00000000-0000-0000-0000-0000000000bb", 1), "")
	e.must(http.StatusNotFound, "GET", strings.Replace(statusPath, "SOUTHCENTRALUS", "westus", 1), "")
}

// TestAccountCreateDeletedMeanwhile: deleting an account while it is
// being created fails its operation with an error.
func TestAccountCreateDeletedMeanwhile(t *testing.T) {
	e := newEnv(t, func(c *arm.Config) { c.OperationDelay = 300 * time.Millisecond })
	const v = "?api-version=2025-06-01"
	resp, _ := e.must(http.StatusCreated, "PUT", csBase+"/doomed"+v, `{"location":"westus","kind":"Face","sku":{"name":"F0"}}`)
	e.must(http.StatusOK, "DELETE", csBase+"/doomed"+v, "")
	st := e.waitAccountOp(resp.Header.Get("Azure-AsyncOperation"))
	if st["status"] != "Failed" || st["error"] == nil {
		t.Errorf("status = %v, want Failed with an error", st)
	}
}

// TestAccountOperationIsNotAnMLOperation: an ML operation id does not
// answer on the Cognitive Services route.
func TestAccountOperationIsNotAnMLOperation(t *testing.T) {
	e := newEnv(t)
	e.workspace("ws1")
	resp, _ := e.must(http.StatusCreated, "PUT", base+"/workspaces/ws1/onlineEndpoints/ep"+av, `{"location":"eastus","properties":{"authMode":"Key"}}`)
	ml := strings.TrimPrefix(resp.Header.Get("Azure-AsyncOperation"), e.srv.URL)
	cs := strings.Replace(strings.Replace(ml, "Microsoft.MachineLearningServices", "Microsoft.CognitiveServices", 1), "mfeOperationsStatus", "operationResults", 1)
	cs = cs[:strings.Index(cs, "?")] + "?api-version=2017-04-18"
	e.must(http.StatusNotFound, "GET", cs, "")
}

func sortedKeys(m map[string]any) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}
