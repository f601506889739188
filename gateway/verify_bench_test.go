package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/identity"
	"github.com/rekey-dev/rekey/store/sqlite"
	"github.com/rekey-dev/rekey/throttle"
)

// verifyTable builds a table with n endpoints of two keys each, straight
// in memory, and returns it with every endpoint's name and one of its keys.
func verifyTable(b *testing.B, n int) (*table, []string, []string) {
	b.Helper()
	t := newTable(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.names, t.byKey, t.keys = newNameIndex(n), make(map[string]*endpoint, n), make(map[string]*keySet, n)
	names, keys := make([]string, n), make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("endpoint-%07d", i)
		ks := &keySet{owner: names[i]}
		for s := range ks.slots {
			k := rekey.NewKey()
			ks.cur[s], ks.hasCurrent[s] = t.fp.of(k), true
			if s == i%2 {
				keys[i] = k
			}
		}
		ep := &endpoint{name: names[i], authMode: rekey.AuthKey, keys: ks}
		t.names.put(names[i], ep)
		t.byKey[names[i]], t.keys[names[i]] = ep, ks
	}
	return t, names, keys
}

// benchLimiter is the gateway's default throttle, with nobody throttled.
var benchLimiter = throttle.New(20, 10*time.Second)

// verify is the gateway's per-request key check: fingerprint the
// presented key, find the endpoint named in the path, ask the throttle
// about the client's address, compare with both slots in constant time.
func verify(t *table, name, key string, now time.Time) bool {
	fp := t.fp.of(key)
	t.mu.RLock()
	ep, ks := t.endpointNamed(name)
	_, throttled := benchLimiter.Throttled("192.0.2.1", now)
	ok := ep != nil && !throttled && check(ks, &fp, now.UnixNano()).ok
	t.mu.RUnlock()
	return ok
}

// BenchmarkVerifyKey measures one key check with 1,000,000 keys loaded
// (500,000 endpoints). "hot" sends requests to 1,000 endpoints (a working
// set that stays in cache, as busy endpoints do); "cold" spreads them
// uniformly over all 500,000, so nearly every check misses the CPU caches
// several times: that case measures memory latency more than the check.
//
// A request's endpoint name and key sit together in one 64-byte record,
// as they sit together in a request's bytes, so the benchmark's own
// reads cost one cache miss, not the four that separate name and key
// strings (headers and bytes) would add to every cold check.
//
//	go test ./gateway -run '^$' -bench VerifyKey -benchmem
func BenchmarkVerifyKey(b *testing.B) {
	t, names, keys := verifyTable(b, 500_000)
	reqs := newRequests(names, keys)
	for _, bc := range []struct {
		name string
		set  int
	}{{"one", 1}, {"hot", 1000}, {"cold", len(names)}} {
		b.Run(bc.name, func(b *testing.B) { benchVerify(b, t, reqs, bc.set) })
	}
}

// requests holds each endpoint's name and key in a 64-byte record.
type requests struct {
	buf string
	n   int
}

const requestRecord = 64

func newRequests(names, keys []string) requests {
	var sb strings.Builder
	sb.Grow(len(names) * requestRecord)
	for i := range names {
		rec := make([]byte, requestRecord)
		rec[0] = byte(len(names[i]))
		copy(rec[1+copy(rec[1:], names[i]):], keys[i])
		if 1+len(names[i])+len(keys[i]) > requestRecord {
			panic("a name and key longer than one record")
		}
		sb.Write(rec)
	}
	return requests{buf: sb.String(), n: len(names)}
}

// at returns request j's endpoint name and key, substrings of one record.
func (r requests) at(j int) (name, key string) {
	rec := r.buf[j*requestRecord : (j+1)*requestRecord]
	n := int(rec[0])
	const keyLen = 43 // rekey.NewKey's length
	return rec[1 : 1+n], rec[1+n : 1+n+keyLen]
}

func benchVerify(b *testing.B, t *table, reqs requests, set int) {
	now := time.Now()
	order := make([]int, 1<<16)
	for i := range order {
		order[i] = rand.IntN(reqs.n) % set * (reqs.n / set)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := processCPU()
	i := 0
	for b.Loop() {
		name, key := reqs.at(order[i&(len(order)-1)])
		if !verify(t, name, key, now) {
			b.Fatal("a valid key was refused")
		}
		i++
	}
	b.StopTimer()
	if cpu1, _ := processCPU(); cpuOK && i > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(i), "cpu-ns/op")
	}
	name, _ := reqs.at(0)
	_, key := reqs.at(1)
	if verify(t, name, key, now) {
		b.Fatal("another endpoint's key was accepted")
	}
}

// BenchmarkFingerprint is the part of every key check that does not
// depend on the table: SHA-256 of the process secret and a presented key.
func BenchmarkFingerprint(b *testing.B) {
	fp, key := newFingerprinter(), rekey.NewKey()
	b.ReportAllocs()
	var sink byte
	for b.Loop() {
		f := fp.of(key)
		sink ^= f[0]
	}
	_ = sink
}

// BenchmarkVerifyKeyParallel is the hot check from all cores at once.
func BenchmarkVerifyKeyParallel(b *testing.B) {
	t, names, keys := verifyTable(b, 500_000)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			j := r.IntN(1000) * 500
			if !verify(t, names[j], keys[j], now) {
				b.Error("a valid key was refused")
				return
			}
		}
	})
}

// benchTokens is cmd/rekey's adapter of the token service's Verifier.
type benchTokens struct{ v *identity.Verifier }

func (m benchTokens) VerifyToken(ctx context.Context, token string) (time.Time, error) {
	c, err := m.v.Verify(ctx, token)
	if err != nil {
		if _, refused := identity.ErrReason(err); refused {
			return time.Time{}, &rekey.Error{Code: rekey.Unauthorized, Message: err.Error()}
		}
		return time.Time{}, err
	}
	return time.Unix(c.Expires, 0).Add(identity.Skew), nil
}

// BenchmarkVerifyAADToken measures the check of an AADToken endpoint's
// bearer token, as the gateway makes it (verifyAAD): "cached" is a token
// the verifier has seen (a digest and a map lookup, the steady state of a
// client that reuses its token for an hour); "uncached" is a token's first
// use (RS256 signature and claims), with the signing keys already loaded.
//
//	go test ./gateway -run '^$' -bench VerifyAADToken -benchmem
func BenchmarkVerifyAADToken(b *testing.B) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "rekey.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	kr, _ := rekey.NewKeyring(bytes.Repeat([]byte{5}, 32))
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	svc, err := identity.New(ctx, identity.Config{Store: store, Keyring: kr, Tenant: tenant})
	if err != nil {
		b.Fatal(err)
	}
	creds, err := svc.CreateServicePrincipal(ctx, "bench", "", "")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	resp, err := http.PostForm(srv.URL+"/adfs/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {creds.AppID}, "client_secret": {creds.Password}, "resource": {"https://ml.azure.com"}})
	if err != nil {
		b.Fatal(err)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if body.AccessToken == "" {
		b.Fatalf("token request: %d", resp.StatusCode)
	}
	newGateway := func(v *identity.Verifier) *Gateway {
		return &Gateway{cfg: Config{Tokens: benchTokens{v}, Logger: slog.New(slog.DiscardHandler)}}
	}
	tok := body.AccessToken
	b.Run("cached", func(b *testing.B) {
		g := newGateway(svc.Verifier(identity.MLAudiences))
		b.ReportAllocs()
		for b.Loop() {
			if _, status, _ := g.verifyAAD(ctx, tok, ""); status != http.StatusOK {
				b.Fatalf("status %d", status)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		keys := svc.Keys()
		b.ReportAllocs()
		for b.Loop() {
			// A new Verifier has an empty cache; its keys are loaded.
			g := newGateway(&identity.Verifier{Keys: keys, Tenant: tenant, Audiences: identity.MLAudiences})
			if _, status, _ := g.verifyAAD(ctx, tok, ""); status != http.StatusOK {
				b.Fatalf("status %d", status)
			}
		}
	})
}
