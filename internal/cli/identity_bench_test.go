package cli

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkTokenIssue measures a client-credentials token request, from
// sending the form to reading the answer, over TLS (kept-alive connection)
// to a real server: secret check (one store read), RS256 signature.
// Reports the median and p99.
//
//	go test ./internal/cli -run '^$' -bench TokenIssue -benchtime 2000x
func BenchmarkTokenIssue(b *testing.B) {
	s := startServerEnv(b, envOf("REKEY_SP_CLIENT_ID", testSPID, "REKEY_SP_CLIENT_SECRET", testSPSecret), "", "--tenant-id", testTenant)
	hc := s.httpClient()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {testSPID}, "client_secret": {testSPSecret},
		"scope": {"https://management.azure.com/.default openid offline_access profile"}}.Encode()
	target := s.URL + "/" + testTenant + "/oauth2/v2.0/token"
	durations := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		resp, err := hc.Post(target, "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		durations = append(durations, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(durations[len(durations)*99/100].Microseconds())/1000, "p99-ms")
}
