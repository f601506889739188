package arm_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/rekey-dev/rekey/authz"
)

// BenchmarkAuthorizeGet measures what authorization adds to a management
// request: GET of an endpoint without an authorizer, as the admin (Owner
// at "/", decided without a lookup), and as a service principal whose
// Reader assignment at the subscription grants it (a cached decision).
func BenchmarkAuthorizeGet(b *testing.B) {
	for _, bc := range []struct {
		name, token string
		roles       bool
	}{{"none", token, false}, {"admin", token, true}, {"reader", spToken, true}} {
		b.Run(bc.name, func(b *testing.B) {
			var e *env
			if bc.roles {
				e = newRolesEnv(b)
				e.assign("bbbbbbbb-0000-4000-8000-000000000001", "/subscriptions/"+sub, authz.ReaderID, spObject)
			} else {
				e = newEnv(b)
			}
			e.workspace("ws1")
			e.endpoint("ws1", "ep1", "Key")
			req, _ := http.NewRequest("GET", e.srv.URL+base+"/workspaces/ws1/onlineEndpoints/ep1"+av, nil)
			req.Header.Set("Authorization", "Bearer "+bc.token)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
