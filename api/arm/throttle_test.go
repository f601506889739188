package arm_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekey-dev/rekey/api/arm"
	"github.com/rekey-dev/rekey/throttle"
)

// TestThrottle: after the limit of failed authentications, an address
// gets 429 TooManyRequests in ARM's envelope, with Retry-After, whatever
// token it sends (the right one too), until the penalty ends.
func TestThrottle(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, func(c *arm.Config) { c.Throttle, c.Now = throttle.New(3, 10*time.Second), clock })
	path := base + "/workspaces" + av
	for i, auth := range []string{"Bearer wrong", "", "Basic x"} {
		resp := e.do("GET", path, "", "Authorization", auth)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("failure %d = %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp := e.do("GET", path, "") // the right token
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(body, &got)
	if resp.StatusCode != 429 || got.Error.Code != "TooManyRequests" || !strings.Contains(got.Error.Message, "throttled") ||
		resp.Header.Get("Retry-After") != "10" || resp.Header.Get("x-ms-error-code") != "TooManyRequests" {
		t.Errorf("right token from a throttled address = %d %s (Retry-After %q), want 429 TooManyRequests with Retry-After 10",
			resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	mu.Lock()
	now = now.Add(10 * time.Second)
	mu.Unlock()
	e.must(http.StatusOK, "GET", path, "")
}
