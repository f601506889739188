package arm_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey/api/arm"
)

// TestFailedOperation: an endpoint deleted while its creation is still
// running fails the create operation. The status resource says Failed with
// an error, and the result URL answers the error the synchronous call
// would have returned.
func TestFailedOperation(t *testing.T) {
	// Room for the PUT, GET and DELETE below before the create completes, on a loaded machine.
	e := newEnv(t, func(c *arm.Config) { c.OperationDelay = 2 * time.Second })
	e.workspace("ws1")
	ep := base + "/workspaces/ws1/onlineEndpoints/doomed"
	created, _ := e.must(http.StatusCreated, "PUT", ep+av, `{"location":"eastus","properties":{"authMode":"Key"}}`)
	_, body := e.must(http.StatusOK, "GET", strings.TrimPrefix(created.Header.Get("Azure-AsyncOperation"), e.srv.URL), "")
	if !strings.Contains(string(body), `"status":"Updating"`) {
		t.Fatalf("status during the delay = %s, want Updating", body)
	}
	deleted, _ := e.must(http.StatusAccepted, "DELETE", ep+av, "")
	st := e.waitOp(created.Header.Get("Azure-AsyncOperation"))
	if st["status"] != "Failed" || st["error"] == nil {
		t.Fatalf("create status = %v, want Failed with an error", st)
	}
	resp, body := e.must(http.StatusOK, "GET", strings.TrimPrefix(created.Header.Get("Azure-AsyncOperation"), e.srv.URL), "")
	golden(t, "operation_status_failed", resp, body)

	// The create's result URL has the same id with mfeOperationResults.
	result := strings.Replace(created.Header.Get("Azure-AsyncOperation"), "mfeOperationsStatus", "mfeOperationResults", 1)
	resp, body = e.must(http.StatusConflict, "GET", strings.TrimPrefix(result, e.srv.URL), "")
	golden(t, "operation_result_failed", resp, body)

	if st := e.waitOp(deleted.Header.Get("Azure-AsyncOperation")); st["status"] != "Succeeded" {
		t.Errorf("delete status = %v, want Succeeded", st)
	}
	e.must(http.StatusNotFound, "GET", ep+av, "")
}

// TestOperationStatusWhileRunning: Azure ML's recorded status resource for
// a running operation says "Updating", with endTime .NET's zero
// DateTimeOffset and percentComplete 0.
func TestOperationStatusWhileRunning(t *testing.T) {
	e := newEnv(t, func(c *arm.Config) { c.OperationDelay = 2 * time.Second })
	e.workspace("ws1")
	created, _ := e.must(http.StatusCreated, "PUT", base+"/workspaces/ws1/onlineEndpoints/slow"+av, `{"location":"eastus","properties":{"authMode":"Key"}}`)
	resp, body := e.must(http.StatusOK, "GET", strings.TrimPrefix(created.Header.Get("Azure-AsyncOperation"), e.srv.URL), "")
	var st map[string]any
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if st["status"] != "Updating" || st["endTime"] != "0001-01-01T00:00:00+00:00" || st["percentComplete"] != 0.0 {
		t.Errorf("running status = %s, want status Updating, endTime 0001-01-01T00:00:00+00:00, percentComplete 0", body)
	}
	golden(t, "operation_status_running", resp, body)
}

// TestOperationResultWhileRunning: 202 with Location and a retry hint.
func TestOperationResultWhileRunning(t *testing.T) {
	e := newEnv(t, func(c *arm.Config) { c.OperationDelay = 2 * time.Second })
	e.workspace("ws1")
	e.must(http.StatusCreated, "PUT", base+"/workspaces/ws1/onlineEndpoints/ep"+av, `{"location":"eastus","properties":{"authMode":"Key"}}`)
	resp, _ := e.must(http.StatusAccepted, "POST", base+"/workspaces/ws1/onlineEndpoints/ep/regenerateKeys"+av, `{"keyType":"Primary"}`)
	res, _ := e.must(http.StatusAccepted, "GET", strings.TrimPrefix(resp.Header.Get("Location"), e.srv.URL), "")
	if res.Header.Get("Location") == "" || res.Header.Get("Retry-After") != "2" || res.Header.Get("Retry-After-Ms") == "" {
		t.Errorf("running result headers = Location %q, Retry-After %q, Retry-After-Ms %q; want a Location, 2 and a hint",
			res.Header.Get("Location"), res.Header.Get("Retry-After"), res.Header.Get("Retry-After-Ms"))
	}
	// Another subscription cannot read the operation.
	other := strings.Replace(strings.TrimPrefix(resp.Header.Get("Location"), e.srv.URL), sub, "00000000-0000-0000-0000-0000000000bb", 1)
	e.must(http.StatusNotFound, "GET", other, "")
}
