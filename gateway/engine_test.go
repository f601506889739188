package gateway_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/rekey-dev/rekey/gateway"
)

// testEngine is the HTTP layer the gateway's tests serve it with:
// REKEY_GATEWAY_ENGINE=nethttp runs them on the net/http engine, anything
// else on the fast one (the default of rekey serve).
var testEngine = os.Getenv("REKEY_GATEWAY_ENGINE")

// testServer is a gateway served on a loopback listener, as rekey serve
// serves it.
type testServer struct {
	URL   string
	close func()
}

func (s *testServer) Close() { s.close() }

func serveGateway(t testing.TB, gw *gateway.Gateway) *testServer {
	t.Helper()
	if testEngine == "nethttp" {
		srv := httptest.NewServer(gw)
		return &testServer{URL: srv.URL, close: srv.Close}
	}
	return serveFast(t, gw, gateway.FastOptions{})
}

func serveFast(t testing.TB, gw *gateway.Gateway, o gateway.FastOptions) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := gw.NewFastServer(o)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	scheme := "http://"
	if o.TLS != nil {
		scheme = "https://"
	}
	return &testServer{URL: scheme + ln.Addr().String(), close: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}}
}

var _ http.Handler = (*gateway.Gateway)(nil)
