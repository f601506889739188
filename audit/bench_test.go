package audit_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/arm"
	"github.com/rekey-dev/rekey/audit"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// BenchmarkAuditOverhead measures what recording costs a management
// request: regenerateKeys (a change, recorded in its transaction) and
// listKeys (a read, recorded in a transaction of its own after the
// answer), with and without the recorder, over an in-memory store.
func BenchmarkAuditOverhead(b *testing.B) {
	for _, audited := range []bool{false, true} {
		for _, op := range []struct{ name, path, body string }{
			{"regenerateKeys", "/regenerateKeys", `{"keyType":"Primary"}`},
			{"listKeys", "/listKeys", ``},
		} {
			name := op.name + "/plain"
			if audited {
				name = op.name + "/audited"
			}
			b.Run(name, func(b *testing.B) {
				store, err := sqlite.OpenMemory(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				defer store.Close()
				kr, _ := rekey.NewKeyring(bytes.Repeat([]byte{7}, 32))
				logger := slog.New(slog.NewTextHandler(io.Discard, nil))
				var h http.Handler
				if audited {
					rec := audit.New(store, logger, nil)
					h = rec.Middleware(arm.New(arm.Config{Store: rec.Store(store), Keyring: kr, Auth: tokenAuth{}, Logger: logger, GatewayURL: "http://gateway.test"}))
				} else {
					h = arm.New(arm.Config{Store: store, Keyring: kr, Auth: tokenAuth{}, Logger: logger, GatewayURL: "http://gateway.test"})
				}
				do := func(method, path, body string) int {
					req := httptest.NewRequest(method, path, strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					return w.Code
				}
				do("PUT", ws+av, `{"location":"westeurope"}`)
				if st := do("PUT", ep+av, `{"location":"westeurope","properties":{"authMode":"Key"}}`); st != 201 {
					b.Fatalf("PUT endpoint = %d", st)
				}
				b.ResetTimer()
				for b.Loop() {
					if st := do("POST", ep+op.path+av, op.body); st >= 300 {
						b.Fatalf("%s = %d", op.name, st)
					}
				}
			})
		}
	}
}
