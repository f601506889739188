package arm_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestGoldenBodies pins every success body and polling header set the
// ARM dialect produces, in the order a client meets them.
func TestGoldenBodies(t *testing.T) {
	e := newEnv(t)
	ws := base + "/workspaces/ws1"
	ep := ws + "/onlineEndpoints/ep1"

	resp, body := e.must(http.StatusOK, "PUT", ws+av, `{"location":"eastus","tags":{"team":"ml"},"properties":{"friendlyName":"Workspace One","description":"golden"}}`)
	golden(t, "workspace_put", resp, body)
	resp, body = e.must(http.StatusOK, "GET", ws+av, "")
	golden(t, "workspace_get", resp, body)
	resp, body = e.must(http.StatusOK, "GET", base+"/workspaces"+av, "")
	golden(t, "workspace_list", resp, body)

	resp, body = e.must(http.StatusCreated, "PUT", ep+av, `{"location":"eastus","tags":{"a":"b"},"kind":"Managed",
		"identity":{"type":"SystemAssigned"},"sku":{"name":"Default","tier":"Standard","capacity":1},
		"properties":{"authMode":"Key","description":"golden endpoint","properties":{"owner":"team-ml"},
		"keys":{"primaryKey":"golden-primary-key-000000001","secondaryKey":"golden-secondary-key-00000002"}}}`)
	golden(t, "endpoint_put_created", resp, body)
	e.waitOp(resp.Header.Get("Azure-AsyncOperation"))
	resp, body = e.must(http.StatusOK, "GET", ep+av, "")
	golden(t, "endpoint_get", resp, body)

	e.endpoint("ws1", "ep2", "AMLToken")
	resp, body = e.must(http.StatusOK, "GET", ws+"/onlineEndpoints"+av+"&count=1", "")
	golden(t, "endpoint_list_page1", resp, body)
	var page struct{ NextLink string }
	json.Unmarshal(body, &page)
	resp, body = e.must(http.StatusOK, "GET", strings.TrimPrefix(page.NextLink, e.srv.URL), "")
	golden(t, "endpoint_list_page2", resp, body)

	resp, body = e.must(http.StatusOK, "PATCH", ep+av, `{"tags":{"a":"c"}}`)
	golden(t, "endpoint_patch", resp, body)

	resp, body = e.must(http.StatusOK, "POST", ep+"/listKeys"+av, "")
	golden(t, "listkeys", resp, body)

	resp, body = e.must(http.StatusAccepted, "POST", ep+"/regenerateKeys"+av, `{"keyType":"Secondary","keyValue":"golden-secondary-key-00000003"}`)
	golden(t, "regeneratekeys_accepted", resp, body)
	status, result := resp.Header.Get("Azure-AsyncOperation"), resp.Header.Get("Location")
	e.waitOp(status)
	resp, body = e.must(http.StatusOK, "GET", strings.TrimPrefix(status, e.srv.URL), "")
	golden(t, "operation_status_succeeded", resp, body)
	resp, body = e.must(http.StatusOK, "GET", strings.TrimPrefix(result, e.srv.URL), "")
	golden(t, "operation_result_regenerate", resp, body)
	_, body = e.must(http.StatusOK, "POST", ep+"/listKeys"+av, "")
	if !strings.Contains(string(body), `"secondaryKey":"golden-secondary-key-00000003"`) || !strings.Contains(string(body), `"primaryKey":"golden-primary-key-000000001"`) {
		t.Errorf("listKeys after regenerating Secondary verbatim = %s", body)
	}

	resp, body = e.must(http.StatusAccepted, "DELETE", ep+av, "")
	golden(t, "endpoint_delete_accepted", resp, body)
	e.waitOp(resp.Header.Get("Azure-AsyncOperation"))
	resp, body = e.must(http.StatusNoContent, "GET", strings.TrimPrefix(resp.Header.Get("Location"), e.srv.URL), "")
	golden(t, "operation_result_delete", resp, body)
	resp, body = e.must(http.StatusNotFound, "GET", ep+av, "")
	golden(t, "endpoint_get_deleted", resp, body)
	e.must(http.StatusNoContent, "DELETE", ep+av, "")

	resp, body = e.must(http.StatusOK, "DELETE", ws+av, "")
	golden(t, "workspace_delete", resp, body)
}

// TestToken checks the token body's shape; its value is random.
func TestToken(t *testing.T) {
	e := newEnv(t)
	e.workspace("ws1")
	e.endpoint("ws1", "tok", "AMLToken")
	_, body := e.must(http.StatusOK, "POST", base+"/workspaces/ws1/onlineEndpoints/tok/token"+av, "")
	var tok struct {
		AccessToken         string `json:"accessToken"`
		TokenType           string `json:"tokenType"`
		ExpiryTimeUTC       int64  `json:"expiryTimeUtc"`
		RefreshAfterTimeUTC int64  `json:"refreshAfterTimeUtc"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.ExpiryTimeUTC-tok.RefreshAfterTimeUTC < 1700 {
		t.Errorf("token = %+v, want Bearer with refresh about half-way to expiry", tok)
	}
	// The token verifies for this endpoint's UID only.
	uid, err := e.kr.VerifyToken(tok.AccessToken, timeNow())
	if err != nil || uid == "" {
		t.Errorf("VerifyToken(issued token) = %q, %v; want the endpoint UID", uid, err)
	}
}
