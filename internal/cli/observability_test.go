package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestRequestIDOnEveryLogLine: every line a request logs, on the
// management listener (the access log, a dialect's warning, the admin
// API) and on the gateway, carries the request's id, the one its
// response's header names.
func TestRequestIDOnEveryLogLine(t *testing.T) {
	s := startServer(t, "", "--log-format", "json")
	hc := s.httpClient()
	do := func(method, url, header string) string {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Header.Get(header)
		if id == "" {
			t.Fatalf("%s %s: no %s header", method, url, header)
		}
		return id
	}
	// An api-version newer than any known: the ARM dialect logs a warning.
	armID := do("GET", s.URL+"/subscriptions/"+testSub+"/providers/Microsoft.MachineLearningServices/workspaces?api-version=2099-01-01", "x-ms-request-id")
	adminID := do("GET", s.URL+"/rekey/v1/no-such-thing", "x-ms-request-id")
	gwID := do("POST", s.Gateway+"/endpoints/missing/score", "X-Request-Id")

	seen := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(s.Logs.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		msg, _ := rec["msg"].(string)
		id, _ := rec["request_id"].(string)
		if msg == "request" || msg == "gateway request" || strings.Contains(msg, "api-version") {
			if id == "" {
				t.Errorf("a request's log line has no request_id: %s", line)
			}
			seen[id] = append(seen[id], msg)
		}
	}
	for _, tt := range []struct {
		id   string
		want []string
	}{
		{armID, []string{"request", "api-version is newer"}},
		{adminID, []string{"request"}},
		{gwID, []string{"gateway request"}},
	} {
		got := strings.Join(seen[tt.id], "|")
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("lines with request_id %s: %q; want one containing %q", tt.id, seen[tt.id], w)
			}
		}
	}
}

// TestMetricsExposition: /metrics has the management API's requests by
// operation and status with latency, the operation runner's queue, the
// store's latency, the Go runtime and process collectors, and the
// gateway's series, through client_golang.
func TestMetricsExposition(t *testing.T) {
	s := startServer(t, "")
	c := newSDK(t, s)
	c.mustWorkspace(t, "ws-metrics")
	if resp, err := http.Post(s.Gateway+"/endpoints/missing/score", "application/json", nil); err == nil {
		resp.Body.Close()
	}
	resp, err := s.httpClient().Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`rekey_api_requests_total{code="200",operation="PUT Microsoft.MachineLearningServices/workspaces"} 1`,
		`rekey_api_request_duration_seconds_count{operation="PUT Microsoft.MachineLearningServices/workspaces"} 1`,
		"rekey_operations_due ",
		"rekey_operations_oldest_due_age_seconds ",
		`rekey_store_transaction_duration_seconds_count{kind="update",outcome="ok"}`,
		"go_goroutines ",
		"go_build_info{",
		"process_resident_memory_bytes ",
		`rekey_gateway_requests_total{code="404",deployment="",endpoint="(unknown)",slot="none"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}
