package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestUncleanPathsGetAnEnvelopeNotARedirect: ServeMux answers a path with
// dot or empty segments, also one an encoded slash decodes into, with a
// redirect and an HTML body. The management listener answers ARM's (or
// the admin API's) JSON envelope instead: 401 without a token, 404
// NotFound with one.
func TestUncleanPathsGetAnEnvelopeNotARedirect(t *testing.T) {
	// Many refused requests from one address: throttling would answer 429.
	s := startServerEnv(t, envOf("REKEY_AUTH_FAIL_LIMIT", "0"), "")
	c := s.httpClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, p := range []string{
		"/subscriptions/..%2f..%2fetc",
		"/subscriptions/..%2F..%2Fetc?api-version=2024-04-01",
		"/subscriptions/x/../y",
		"/subscriptions/./" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.MachineLearningServices/workspaces?api-version=2024-04-01",
		"//x",
		"/subscriptions//resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces",
		"/rekey",
		"/rekey/v1",
		"/rekey/v1/../../healthz",
		// The token service's own mux would redirect these too.
		"/organizations//oauth2/v2.0/token",
		"/organizations/oauth2/v2.0/./token",
		"/adfs/./oauth2/token",
		"/msi/../msi/token",
		"/common/discovery/../discovery/instance",
	} {
		for _, method := range []string{"GET", "POST"} {
			for _, token := range []string{"", s.Token} {
				req, err := http.NewRequest(method, s.URL+p, strings.NewReader("{}"))
				if err != nil {
					t.Fatal(err)
				}
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var env struct {
					Error struct{ Code, Message string }
				}
				json.Unmarshal(body, &env)
				want, wantCode := http.StatusNotFound, "NotFound"
				if token == "" {
					want, wantCode = http.StatusUnauthorized, "AuthenticationFailed"
				}
				if resp.StatusCode != want || env.Error.Code != wantCode || env.Error.Message == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
					t.Errorf("%s %s (token: %v) = %d %s %.120q, want %d with code %s in a JSON envelope", method, p, token != "", resp.StatusCode, resp.Header.Get("Content-Type"), body, want, wantCode)
				}
			}
		}
	}
	// QnA clients' doubled slash is still routed to the QnA API.
	resp, err := c.Get(s.URL + "//qnamaker/v4.0/endpointkeys")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET //qnamaker/v4.0/endpointkeys without a key = %d, want the QnA API's 401", resp.StatusCode)
	}
}
