package cli

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestManagementNoAuthBypass: on the management listener, no spelling of
// the path, method, case or header reaches the ARM, admin or QnA
// authoring API without a valid credential. Requests are sent raw, so
// nothing is cleaned on the way; throttling is off, so each is judged.
func TestManagementNoAuthBypass(t *testing.T) {
	s := startServer(t, "", "--auth-fail-limit", "0")
	addr := strings.TrimPrefix(s.URL, "https://")
	ws := "/subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces?api-version=2024-04-01"
	send := func(request string) int {
		t.Helper()
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // loopback, our own server
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, request)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{
		ws, "/" + ws, "/SUBSCRIPTIONS" + ws[len("/subscriptions"):], "/%73ubscriptions" + ws[len("/subscriptions"):],
		"/healthz/.." + ws, "/metrics/.." + ws, "/readyz/..%2f.." + ws, "/./" + ws[1:], "/qnamaker/.." + ws,
		"/rekey/v1/../.." + ws, "/rekey/v1/keys/usage?resource=x", "/REKEY/V1/keys/usage?resource=x", "//rekey/v1/keys/usage",
		"/rekey/v1/%2e%2e/v1/keys/usage", "/qnamaker/v4.0/endpointkeys", "/QNAMAKER/V4.0/ENDPOINTKEYS", "//qnamaker//v4.0//endpointkeys",
		"/qnamaker/v4.0/endpointkeys/../endpointSettings", "/healthz/../qnamaker/v4.0/endpointkeys",
	} {
		for _, m := range []string{"GET", "PUT", "PATCH", "DELETE", "POST", "HEAD", "OPTIONS"} {
			for _, h := range []string{
				"", "Authorization: Bearer\r\n", "Authorization: Bearer " + s.Token + "x\r\n", "Authorization: Basic " + s.Token + "\r\n",
				"Authorization: " + s.Token + "\r\n", "Ocp-Apim-Subscription-Key: " + s.Token + "\r\n",
				"X-Original-URL: /healthz\r\nX-Forwarded-For: 127.0.0.1\r\nAuthorization: Bearer wrong\r\n",
			} {
				req := m + " " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n" + h + "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
				// net/http's mux answers unclean paths ("//x", "/a/../x") with a
				// 307 to the clean path, where the credential is checked.
				if code := send(req); code < 300 || code >= 500 {
					t.Errorf("%s %s with %q = %d, want 4xx (or the mux's 307)", m, path, strings.ReplaceAll(h, s.Token, "<token>"), code)
				}
			}
		}
	}
	// The admin token works, so the refusals above are about credentials.
	if code := send("GET " + ws + " HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + s.Token + "\r\nConnection: close\r\n\r\n"); code != 200 {
		t.Errorf("GET with the admin token = %d, want 200", code)
	}
}
