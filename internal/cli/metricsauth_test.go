package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMetricsAuth: /metrics is open by default; with --metrics-auth it
// takes the admin token, on the management listener and on a gateway-role
// process's listener, and answers 401 in the admin API's envelope without.
func TestMetricsAuth(t *testing.T) {
	get := func(t *testing.T, c *http.Client, url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	expect := func(t *testing.T, c *http.Client, url, token string) {
		t.Helper()
		for _, tc := range []struct {
			token string
			want  int
		}{{"", 401}, {"not-the-admin-token-0123", 401}, {token, 200}} {
			code, body := get(t, c, url, tc.token)
			if code != tc.want {
				t.Errorf("GET %s (admin token: %v) = %d, want %d", url, tc.token == token, code, tc.want)
				continue
			}
			if code == 200 && !strings.Contains(body, "# TYPE") {
				t.Errorf("GET %s with the admin token: not metrics: %.200s", url, body)
			}
			var env struct{ Error struct{ Code string } }
			if code == 401 && (json.Unmarshal([]byte(body), &env) != nil || env.Error.Code == "") {
				t.Errorf("GET %s 401 body = %.200s, want an error envelope", url, body)
			}
		}
	}

	t.Run("open by default", func(t *testing.T) {
		s := startServer(t, "")
		if code, _ := get(t, s.httpClient(), s.URL+"/metrics", ""); code != 200 {
			t.Errorf("GET /metrics without --metrics-auth = %d, want 200", code)
		}
	})
	t.Run("management", func(t *testing.T) {
		s := startServerEnv(t, envOf("REKEY_METRICS_AUTH", "true"), "")
		expect(t, s.httpClient(), s.URL+"/metrics", s.Token)
	})
	t.Run("throttled like the admin token", func(t *testing.T) {
		s := startServerEnv(t, envOf("REKEY_METRICS_AUTH", "true", "REKEY_AUTH_FAIL_LIMIT", "3"), "")
		for i := range 3 {
			if code, _ := get(t, s.httpClient(), s.URL+"/metrics", "not-the-admin-token-0123"); code != 401 {
				t.Fatalf("wrong token #%d on /metrics = %d, want 401", i+1, code)
			}
		}
		if code, _ := get(t, s.httpClient(), s.URL+"/metrics", s.Token); code != http.StatusTooManyRequests {
			t.Errorf("the admin token on /metrics after 3 failures = %d, want 429 before it is checked", code)
		}
	})
	t.Run("gateway role", func(t *testing.T) {
		s := startServer(t, "", "--role", "management")
		gw := startGateway(t, s.DataDir, "--metrics-auth")
		expect(t, http.DefaultClient, gw+"/metrics", s.Token)
	})
}
