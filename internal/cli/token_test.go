package cli

import (
	"testing"
	"time"

	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"
)

// TestSDKTokenLifetime: the token operation, read through the Go SDK,
// issues Azure ML's recorded lifetime by default (expiry now + 86,340 s,
// refresh after now + 43,170 s); --aml-token-lifetime changes it and wins
// over REKEY_AML_TOKEN_LIFETIME.
func TestSDKTokenLifetime(t *testing.T) {
	for _, tc := range []struct {
		name          string
		env, args     []string
		expiry, after int64
	}{
		{"default", nil, nil, 86340, 43170},
		{"env", []string{"REKEY_AML_TOKEN_LIFETIME", "2h"}, nil, 7200, 3600},
		{"flag over env", []string{"REKEY_AML_TOKEN_LIFETIME", "2h"}, []string{"--aml-token-lifetime", "30m"}, 1800, 900},
	} {
		s := startServerEnv(t, envOf(tc.env...), "", tc.args...)
		c := newSDK(t, s)
		c.mustWorkspace(t, "ws1")
		c.mustEndpoint(t, "ws1", "tok", ml.EndpointAuthModeAMLToken)
		before := time.Now().Unix()
		res, err := c.ep.GetToken(t.Context(), testRG, "ws1", "tok", nil)
		after := time.Now().Unix()
		if err != nil {
			t.Fatalf("%s: GetToken: %v", tc.name, err)
		}
		exp, ref := *res.ExpiryTimeUTC, *res.RefreshAfterTimeUTC
		if exp < before+tc.expiry || exp > after+tc.expiry || ref < before+tc.after || ref > after+tc.after {
			t.Errorf("%s: expiry now%+d, refresh now%+d; want now+%d and now+%d", tc.name, exp-before, ref-before, tc.expiry, tc.after)
		}
	}
}
