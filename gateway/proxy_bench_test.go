package gateway_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/gateway"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// BenchmarkProxy measures one whole scoring request through the gateway,
// on each engine: a keep-alive client, key check, routing, proxy to a
// loopback upstream and back. Client, gateway and upstream share the
// process, so allocs/op counts all three; the "direct" run (the same
// client straight to the upstream) is what to subtract for the gateway's
// own share. Compare runs, not absolute numbers.
//
//	go test ./gateway -run '^$' -bench Proxy -benchmem
func BenchmarkProxy(b *testing.B) {
	for _, engine := range []string{"nethttp", "fast"} {
		b.Run("engine="+engine, func(b *testing.B) { benchmarkProxy(b, engine) })
	}
	b.Run("direct", func(b *testing.B) { benchmarkProxy(b, "") })
}

// BenchmarkProxyAllocs is BenchmarkProxy with a client and an upstream
// that allocate next to nothing themselves (fasthttp's), so allocs/op is
// close to the gateway's own count per proxied request; "direct" is the
// remainder to subtract.
//
//	go test ./gateway -run '^$' -bench ProxyAllocs -benchmem
func BenchmarkProxyAllocs(b *testing.B) {
	for _, engine := range []string{"nethttp", "fast"} {
		b.Run("engine="+engine, func(b *testing.B) { benchmarkLean(b, engine) })
	}
	b.Run("direct", func(b *testing.B) { benchmarkLean(b, "") })
}

func benchmarkLean(b *testing.B, engine string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	upSrv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.WriteString(`{"result":[1,2,3]}`)
	}}
	go upSrv.Serve(ln)
	defer upSrv.Shutdown()
	gw, key := benchGateway(b, "http://"+ln.Addr().String())
	addr, path := ln.Addr().String(), "/score"
	switch engine {
	case "nethttp":
		srv := httptest.NewServer(gw)
		defer srv.Close()
		addr, path = strings.TrimPrefix(srv.URL, "http://"), "/endpoints/bench/score"
	case "fast":
		srv := serveFast(b, gw, gateway.FastOptions{})
		defer srv.Close()
		addr, path = strings.TrimPrefix(srv.URL, "http://"), "/endpoints/bench/score"
	}
	client := &fasthttp.HostClient{Addr: addr}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI("http://" + addr + path)
	req.Header.SetMethod("POST")
	req.Header.Set("Authorization", "Bearer "+key)
	req.SetBodyString(`{"data":[1]}`)
	do := func() {
		if err := client.Do(req, resp); err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode() != 200 {
			b.Fatalf("status %d", resp.StatusCode())
		}
	}
	do()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		do()
	}
}

func benchmarkProxy(b *testing.B, engine string) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"result":[1,2,3]}`))
	}))
	defer up.Close()
	gw, key := benchGateway(b, up.URL)
	var url string
	switch engine {
	case "nethttp":
		srv := httptest.NewServer(gw)
		defer srv.Close()
		url = srv.URL + "/endpoints/bench/score"
	case "fast":
		srv := serveFast(b, gw, gateway.FastOptions{})
		defer srv.Close()
		url = srv.URL + "/endpoints/bench/score"
	default:
		url = up.URL + "/score"
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	do := func() {
		req, _ := http.NewRequest("POST", url, strings.NewReader(`{"data":[1]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	do()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		do()
	}
}

// benchGateway is a gateway over a fresh store with one key-auth
// endpoint "bench" whose deployment forwards to upstream; it returns the
// gateway and the endpoint's key.
func benchGateway(b *testing.B, upstream string) (*gateway.Gateway, string) {
	store, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "rekey.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	kr, _ := rekey.NewKeyring(bytes.Repeat([]byte{5}, 32))
	ws := rekey.WorkspaceID{Subscription: sub, ResourceGroup: "rg", Name: "ws1"}
	ep := &rekey.Endpoint{ID: rekey.EndpointID{Workspace: ws, Name: "bench"}, UID: rekey.NewGUID(), AuthMode: rekey.AuthKey,
		Traffic: map[string]int32{"blue": 100}, ProvisioningState: rekey.Succeeded}
	key := rekey.NewKey()
	err = store.Update(context.Background(), func(tx rekey.Tx) error {
		tx.PutWorkspace(&rekey.Workspace{ID: ws})
		if _, err := tx.PutEndpoint(ep); err != nil {
			return err
		}
		d := &rekey.Deployment{ID: rekey.DeploymentID{Endpoint: ep.ID, Name: "blue"}, ComputeType: "Managed",
			Properties: map[string]string{rekey.UpstreamProperty: upstream}, ProvisioningState: rekey.Succeeded}
		if _, err := tx.PutDeployment(d); err != nil {
			return err
		}
		for _, slot := range rekey.Slots {
			sk := kr.StoredKey(ep.ID.Key(), slot, key)
			sk.UpdatedAt = time.Now().Add(-time.Hour)
			if _, err := tx.PutKey(sk); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	gw, err := gateway.New(context.Background(), gateway.Config{Source: store, Keyring: kr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { gw.Stop(context.Background()) })
	return gw, key
}
