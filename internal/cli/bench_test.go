package cli

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	ml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"

	"github.com/rekey-dev/rekey/store/postgres/pgtest"
)

// BenchmarkSDKRegenerateKeys measures what a user's code waits for: the
// official Go SDK's BeginRegenerateKeys + PollUntilDone against a local
// server over TLS, operation delay 0. Reports the median and p99.
//
//	go test ./internal/cli -run '^$' -bench SDKRegenerateKeys -benchtime 2000x
func BenchmarkSDKRegenerateKeys(b *testing.B) {
	s := startServer(b, "")
	c := newSDKB(b, s)
	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		kt := ml.KeyTypePrimary
		if i%2 == 1 {
			kt = ml.KeyTypeSecondary
		}
		p, err := c.ep.BeginRegenerateKeys(b.Context(), testRG, "bench", "bench-ep", ml.RegenerateEndpointKeysRequest{KeyType: to.Ptr(kt)}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.PollUntilDone(b.Context(), nil); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(durations[len(durations)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkRegenerateThroughput measures accepted regenerations per second
// through the HTTP API, each one a durable commit (plus the operation's
// completion), from 16 concurrent clients on 16 endpoints: on SQLite, and
// on PostgreSQL when REKEY_TEST_DATABASE_URL names one.
//
//	go test ./internal/cli -run '^$' -bench RegenerateThroughput -benchtime 5000x
func BenchmarkRegenerateThroughput(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchRegenerate(b, startServer(b, "")) })
	b.Run("postgres", func(b *testing.B) { benchRegenerate(b, startServer(b, "", "--database", pgtest.URL(b))) })
}

func benchRegenerate(b *testing.B, s *testServer) {
	newSDKB(b, s) // workspace "bench" with bench-ep
	hc := s.httpClient()
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	const av = "?api-version=2024-04-01"
	base := s.URL + "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.MachineLearningServices/workspaces/bench/onlineEndpoints/"
	do := func(method, url, body string) int {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const endpoints = 16
	for i := range endpoints {
		if st := do("PUT", fmt.Sprintf("%sthroughput-%d%s", base, i, av), `{"location":"eastus","properties":{"authMode":"Key"}}`); st != 201 {
			b.Fatalf("create endpoint: %d", st)
		}
	}
	var next atomic.Int64
	b.SetParallelism(8) // 8 × GOMAXPROCS(2) = 16 clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		ep := next.Add(1) % endpoints
		url := fmt.Sprintf("%sthroughput-%d/regenerateKeys%s", base, ep, av)
		for pb.Next() {
			if st := do("POST", url, `{"keyType":"Primary"}`); st != http.StatusAccepted {
				b.Errorf("regenerate = %d, want 202", st)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "regen/s")
}

// newSDKB is newSDK for benchmarks: clients plus workspace "bench" with
// the Key endpoint "bench-ep".
func newSDKB(b *testing.B, s *testServer) sdkClients {
	b.Helper()
	ws, err := ml.NewWorkspacesClient(testSub, staticToken(s.Token), s.armOptions())
	if err != nil {
		b.Fatal(err)
	}
	ep, err := ml.NewOnlineEndpointsClient(testSub, staticToken(s.Token), s.armOptions())
	if err != nil {
		b.Fatal(err)
	}
	wp, err := ws.BeginCreateOrUpdate(b.Context(), testRG, "bench", ml.Workspace{Location: to.Ptr("eastus")}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := wp.PollUntilDone(b.Context(), nil); err != nil {
		b.Fatal(err)
	}
	p, err := ep.BeginCreateOrUpdate(b.Context(), testRG, "bench", "bench-ep", ml.OnlineEndpoint{
		Location: to.Ptr("eastus"), Properties: &ml.OnlineEndpointProperties{AuthMode: to.Ptr(ml.EndpointAuthModeKey)}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := p.PollUntilDone(b.Context(), nil); err != nil {
		b.Fatal(err)
	}
	return sdkClients{ws, ep}
}
