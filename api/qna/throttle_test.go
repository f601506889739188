package qna_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/qna"
	"github.com/rekey-dev/rekey/throttle"
)

// TestThrottle: after the limit of wrong subscription keys, an address
// gets 429 QuotaExceeded with Retry-After, even with a right key.
func TestThrottle(t *testing.T) {
	e := newEnv(t, func(c *qna.Config) { c.Throttle = throttle.New(3, 10*time.Second) })
	k1, _ := e.account("qna1", rekey.KindQnAMaker, nil)
	for i := range 3 {
		if resp, body := e.call("GET", "/qnamaker/v4.0/endpointkeys", nil, "Ocp-Apim-Subscription-Key", "wrong"); resp.StatusCode != 401 {
			t.Fatalf("failure %d = %d %s, want 401", i+1, resp.StatusCode, body)
		}
	}
	resp, body := e.call("GET", "/qnamaker/v4.0/endpointkeys", nil, "Ocp-Apim-Subscription-Key", k1)
	if resp.StatusCode != 429 || !strings.Contains(string(body), `"code":"QuotaExceeded"`) || !strings.Contains(string(body), "throttled") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("right key from a throttled address = %d %s, want 429 QuotaExceeded with Retry-After", resp.StatusCode, body)
	}
}
