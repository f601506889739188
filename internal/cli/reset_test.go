package cli

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestResetForgetsEverything: "rekey reset --yes" empties a running server
// while its clients keep their credentials. In the same process the
// gateway refuses a key that worked a moment before, the operation status
// URL answers 404, and an endpoint made again under the same name has new
// keys and fresh usage counts; the admin token and service principals
// still work.
func TestResetForgetsEverything(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok":true}`) }))
	defer up.Close()
	s := startServer(t, "")
	env := envOf("REKEY_SERVER", s.URL, "REKEY_DATA", s.DataDir)
	must := func(args ...string) string {
		t.Helper()
		out, stderr, err := cli(t, env, args...)
		if err != nil {
			t.Fatalf("rekey %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return out
	}
	makeEndpoint := func() (primary string) {
		t.Helper()
		must("workspace", "create", "--name", "ws1")
		must("endpoint", "create", "--workspace", "ws1", "--name", "ep1")
		must("deployment", "create", "--workspace", "ws1", "--endpoint", "ep1", "--name", "blue", "--upstream", up.URL)
		must("endpoint", "traffic", "--workspace", "ws1", "--name", "ep1", "--set", "blue=100")
		var k struct{ PrimaryKey string }
		if err := json.Unmarshal([]byte(must("keys", "list", "--workspace", "ws1", "--endpoint", "ep1", "--output", "json")), &k); err != nil || k.PrimaryKey == "" {
			t.Fatalf("keys list: %v", err)
		}
		return k.PrimaryKey
	}
	score := func(key string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", s.Gateway+"/endpoints/ep1/score", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	get := func(url string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		resp, err := s.httpClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	old := makeEndpoint()
	if got := score(old); got != http.StatusOK {
		t.Fatalf("gateway with the primary key before the reset = %d, want 200", got)
	}
	// An operation whose status URL answers before the reset.
	req, _ := http.NewRequest("POST", s.URL+"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rekey/providers/Microsoft.MachineLearningServices/workspaces/ws1/onlineEndpoints/ep1/regenerateKeys?api-version=2024-04-01", strings.NewReader(`{"keyType":"Secondary"}`))
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	status := resp.Header.Get("Azure-AsyncOperation")
	if resp.StatusCode != http.StatusAccepted || status == "" {
		t.Fatalf("regenerateKeys = %d, Azure-AsyncOperation %q; want 202 with a status URL", resp.StatusCode, status)
	}
	if got := get(status); got != http.StatusOK {
		t.Fatalf("operation status before the reset = %d, want 200", got)
	}
	must("sp", "create", "--name", "kept")

	// Without --yes and without a terminal to ask on, nothing happens.
	if _, _, err := cli(t, env, "reset"); !errors.Is(err, errUsage) {
		t.Errorf("reset without --yes on a non-terminal = %v, want a usage error", err)
	}
	if got := score(old); got != http.StatusOK {
		t.Fatalf("gateway after a refused reset = %d, want 200", got)
	}

	if out := must("reset", "--yes"); !strings.Contains(out, "Reset "+s.URL) {
		t.Errorf("reset --yes printed %q", out)
	}
	if got := score(old); got == http.StatusOK {
		t.Errorf("gateway with a key from before the reset = %d, want it refused", got)
	}
	if got := get(status); got != http.StatusNotFound {
		t.Errorf("operation status after the reset = %d, want 404", got)
	}
	if out := must("workspace", "list", "--output", "json"); strings.Contains(out, "ws1") {
		t.Errorf("workspace list after the reset = %s, want none", out)
	}
	if out := must("sp", "list"); !strings.Contains(out, "kept") {
		t.Errorf("sp list after the reset = %q, want the service principal kept", out)
	}

	// The same names again: new keys; the old one stays refused.
	fresh := makeEndpoint()
	if fresh == old {
		t.Fatalf("the endpoint made after the reset has the old primary key")
	}
	if got := score(old); got != http.StatusUnauthorized {
		t.Errorf("gateway with the old key on the re-made endpoint = %d, want 401", got)
	}
	if got := score(fresh); got != http.StatusOK {
		t.Errorf("gateway with the new key = %d, want 200", got)
	}
	// A periodic usage flush may be in flight; wait for the count to land.
	var n int64
	for deadline := time.Now().Add(10 * time.Second); n == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var usage struct{ Keys []struct{ Requests int64 } }
		if err := json.Unmarshal([]byte(must("keys", "usage", "--workspace", "ws1", "--endpoint", "ep1", "--output", "json")), &usage); err != nil {
			t.Fatal(err)
		}
		n = 0
		for _, k := range usage.Keys {
			n += k.Requests
		}
	}
	if n != 1 {
		t.Errorf("usage after the reset = %d requests, want 1 (only the one since)", n)
	}
}

// TestResetNeedsTheAdminToken: the reset is the admin's alone.
func TestResetNeedsTheAdminToken(t *testing.T) {
	s := startServer(t, "")
	for _, tt := range []struct {
		name, method, token string
		want                int
	}{
		{"no token", "POST", "", http.StatusUnauthorized},
		{"wrong token", "POST", "not-the-admin-token-at-all", http.StatusUnauthorized},
		{"GET", "GET", s.Token, http.StatusMethodNotAllowed},
		{"admin", "POST", s.Token, http.StatusNoContent},
	} {
		req, _ := http.NewRequest(tt.method, s.URL+"/rekey/v1/reset", nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := s.httpClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code, Message string }
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %s /rekey/v1/reset = %d, want %d", tt.name, tt.method, resp.StatusCode, tt.want)
		}
		if tt.want >= 400 && (body.Error.Code == "" || body.Error.Message == "") {
			t.Errorf("%s: error body without code and message", tt.name)
		}
	}
}
