package gateway_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/gateway"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// BenchmarkProxy measures one whole scoring request through the gateway:
// a keep-alive client, key check, routing, reverse proxy to a loopback
// upstream and back. Client, gateway and upstream share the process, so
// allocs/op counts all three; compare runs, not absolute numbers.
//
//	go test ./gateway -run '^$' -bench Proxy -benchmem
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"result":[1,2,3]}`))
	}))
	defer up.Close()
	store, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "rekey.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
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
			Properties: map[string]string{rekey.UpstreamProperty: up.URL}, ProvisioningState: rekey.Succeeded}
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
	defer gw.Stop(context.Background())
	srv := serveGateway(b, gw)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	url := srv.URL + "/endpoints/bench/score"
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
