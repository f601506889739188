package arm_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey/api/arm"
)

const testTenant = "11111111-2222-3333-4444-555555555555"

// TestSubscriptionsAndTenants: what `az login` asks of ARM after signing
// in. The server knows the default subscription, configured ones, and
// every one that holds a resource; an unknown one is ARM's 404.
func TestSubscriptionsAndTenants(t *testing.T) {
	const configured = "cccccccc-0000-0000-0000-000000000003"
	e := newEnv(t, func(c *arm.Config) { c.Tenant = testTenant; c.Subscriptions = []string{strings.ToUpper(configured)} })
	e.workspace("ws1") // in sub

	resp, body := e.must(http.StatusOK, "GET", "/subscriptions?api-version=2019-11-01", "")
	golden(t, "subscription_list", resp, body)
	var list struct {
		Value []struct{ SubscriptionID, TenantID, State string }
		Count struct{ Value int }
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range list.Value {
		ids = append(ids, s.SubscriptionID)
		if s.TenantID != testTenant || s.State != "Enabled" {
			t.Errorf("subscription %s: tenantId %q, state %q; want %q, Enabled", s.SubscriptionID, s.TenantID, s.State, testTenant)
		}
	}
	if want := []string{arm.DefaultSubscription, sub, configured}; strings.Join(ids, ",") != strings.Join(want, ",") || list.Count.Value != 3 {
		t.Errorf("GET /subscriptions = %v (count %d), want %v", ids, list.Count.Value, want)
	}

	resp, body = e.must(http.StatusOK, "GET", "/subscriptions/"+sub+"?api-version=2016-06-01", "")
	golden(t, "subscription_get", resp, body)
	e.must(http.StatusOK, "GET", "/SUBSCRIPTIONS/"+strings.ToUpper(configured)+"?api-version=2022-12-01", "")
	resp, body = e.must(http.StatusNotFound, "GET", "/subscriptions/dddddddd-0000-0000-0000-000000000004?api-version=2019-11-01", "")
	golden(t, "error_subscription_not_found", resp, body)
	e.must(http.StatusBadRequest, "GET", "/subscriptions", "")

	resp, body = e.must(http.StatusOK, "GET", "/tenants?api-version=2019-11-01", "")
	golden(t, "tenant_list", resp, body)

	// Both need a credential, as in ARM.
	for _, p := range []string{"/subscriptions?api-version=2019-11-01", "/tenants?api-version=2019-11-01"} {
		if resp := e.do("GET", p, "", "Authorization", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a token = %d, want 401", p, resp.StatusCode)
		}
	}
}

// TestCloudMetadata: `az cloud register --endpoint-resource-manager URL`
// reads GET /metadata/endpoints?api-version=2015-01-01 before anyone has
// signed in, so it needs no token; later versions answer a list of clouds.
func TestCloudMetadata(t *testing.T) {
	e := newEnv(t)
	resp := e.do("GET", "/metadata/endpoints?api-version=2015-01-01", "", "Authorization", "")
	body := readAll(resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metadata/endpoints without a token = %d %s, want 200", resp.StatusCode, body)
	}
	golden(t, "metadata_2015", resp, body)
	var m struct {
		GraphEndpoint  string
		Authentication struct {
			LoginEndpoint string
			Audiences     []string
		}
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Authentication.LoginEndpoint != e.srv.URL+"/adfs" || len(m.Authentication.Audiences) != 2 || m.GraphEndpoint == "" {
		t.Errorf("metadata = %+v, want loginEndpoint %s/adfs, two audiences and a graphEndpoint", m, e.srv.URL)
	}

	// az cloud register --endpoint-resource-manager https://host/ asks for //metadata/endpoints.
	if resp := e.do("GET", "//metadata/endpoints?api-version=2015-01-01", "", "Authorization", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET //metadata/endpoints = %d, want 200", resp.StatusCode)
	}
	resp = e.do("GET", "/METADATA/endpoints?api-version=2022-09-01", "", "Authorization", "")
	body = readAll(resp)
	golden(t, "metadata_2022", resp, body)
	var clouds []struct{ ResourceManager string }
	if err := json.Unmarshal(body, &clouds); err != nil || len(clouds) != 1 || clouds[0].ResourceManager != e.srv.URL+"/" {
		t.Errorf("metadata 2022-09-01 = %s, want one cloud whose resourceManager is %s/", body, e.srv.URL)
	}

	for _, tc := range []struct {
		query string
		code  string
	}{{"", "MissingApiVersionParameter"}, {"?api-version=2015-01-32", "InvalidApiVersionParameter"}, {"?api-version=2014-01-01", "NoRegisteredProviderFound"}} {
		resp := e.do("GET", "/metadata/endpoints"+tc.query, "", "Authorization", "")
		readAll(resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("x-ms-error-code") != tc.code {
			t.Errorf("GET /metadata/endpoints%s = %d %s, want 400 %s", tc.query, resp.StatusCode, resp.Header.Get("x-ms-error-code"), tc.code)
		}
	}
	// Only GET is public: anything else still needs a token.
	if resp := e.do("POST", "/metadata/endpoints?api-version=2015-01-01", "", "Authorization", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /metadata/endpoints without a token = %d, want 401", resp.StatusCode)
	}
}
