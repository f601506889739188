// Command replicas measures revocation latency across replicas: three
// "rekey serve" processes on one PostgreSQL database; a client
// regenerates an endpoint's key on replica A while probes hammer replicas
// B and C with the old key; for each rotation it takes the time from the
// 202 (as the client receives it) to the answer of the last request B or
// C accepted with the old key, and reports p50, p99 and max. It asserts
// nothing. Loopback only.
//
//	go run ./bench/replicas -database postgres://postgres@127.0.0.1:5432/bench?sslmode=disable
//
// The database should be empty (or use a search_path of its own): the
// replicas share a master key made for this run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/internal/replicas"
)

func main() {
	var (
		database  = flag.String("database", os.Getenv("REKEY_DATABASE_URL"), "PostgreSQL `URL` the replicas share (REKEY_DATABASE_URL)")
		bin       = flag.String("bin", "", "rekey `binary` (default: built from this module)")
		rotations = flag.Int("rotations", 200, "rotations to measure")
		probes    = flag.Int("probes", 2, "concurrent probes per probed replica")
		ports     = flag.String("ports", "", "comma-separated management,gateway port pairs of A, B, C (default: free ports)")
		syncEvery = flag.Duration("sync-interval", time.Second, "the replicas' fallback poll (--sync-interval)")
		timeout   = flag.Duration("timeout", 5*time.Second, "give up on a rotation whose old key is still accepted after this")
	)
	flag.Parse()
	if *database == "" {
		fmt.Fprintln(os.Stderr, "replicas: -database (or REKEY_DATABASE_URL) is required: a PostgreSQL URL")
		os.Exit(2)
	}
	if err := run(*database, *bin, *rotations, *probes, *ports, *syncEvery, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "replicas:", err)
		os.Exit(1)
	}
}

func run(database, bin string, rotations, probes int, ports string, syncEvery, timeout time.Duration) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "rekey-bench-replicas-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "rekey")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/rekey-dev/rekey/cmd/rekey").CombinedOutput(); err != nil {
			return fmt.Errorf("building rekey: %v\n%s", err, out)
		}
	}
	var portList []int
	if ports != "" {
		for _, p := range strings.Split(ports, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return fmt.Errorf("-ports: %q is not a port", p)
			}
			portList = append(portList, n)
		}
	}
	c, err := replicas.Start(ctx, replicas.Options{Bin: bin, Database: database, Dir: dir, N: 3, Ports: portList,
		Args: []string{"--sync-interval", syncEvery.String(), "--log-format", "json"}})
	if err != nil {
		return err
	}
	defer c.Stop()
	a, probed := c.Replicas[0], c.Replicas[1:]
	if err := a.Endpoint(ctx, "wsbench", "bench"); err != nil {
		return err
	}
	old := rekey.NewKey()
	if st, _, err := a.SetKey(ctx, "wsbench", "bench", old); err != nil || st != 202 {
		return fmt.Errorf("first key: %d %v", st, err)
	}
	for _, r := range probed {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if ok, err := r.Accepts(ctx, "bench", old); err == nil && ok {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("replica %s does not accept the first key", r.Name)
			}
		}
	}

	var lat []time.Duration
	perReplica := map[string][]time.Duration{}
	for i := range rotations {
		next := rekey.NewKey()
		l, per, err := rotate(ctx, a, probed, old, next, probes, timeout)
		if err != nil {
			return fmt.Errorf("rotation %d: %w", i+1, err)
		}
		lat = append(lat, l)
		for name, d := range per {
			perReplica[name] = append(perReplica[name], d)
		}
		old = next
	}
	fmt.Printf("revocation across replicas: %d rotations on A, probes %d per replica on B and C, fallback poll %v\n", rotations, probes, syncEvery)
	fmt.Printf("from the 202 to the last accepted old-key request (its answer received), on B and C:\n")
	report("B and C", lat)
	for _, r := range probed {
		report("  "+r.Name, perReplica[r.Name])
	}
	return nil
}

func report(name string, d []time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	fmt.Printf("%-8s p50 %8.2f ms   p99 %8.2f ms   max %8.2f ms   (n=%d)\n", name,
		ms(q(0.50)), ms(q(0.99)), ms(s[len(s)-1]), len(s))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rotate regenerates A's key from old to next while probes send old to
// the probed replicas, and returns how long after the 202 the last
// accepted old-key answer arrived (0 when none did after it), overall
// and per replica.
func rotate(ctx context.Context, a *replicas.Replica, probed []*replicas.Replica, old, next string, probes int, timeout time.Duration) (time.Duration, map[string]time.Duration, error) {
	type state struct {
		lastAccepted atomic.Int64 // Unix nanoseconds of the last accepted answer
		refusedAfter atomic.Bool  // a request sent after the 202 was refused
		errs         atomic.Int64
	}
	var (
		acked atomic.Int64 // Unix nanoseconds of the 202; 0 before
		stop  atomic.Bool
		wg    sync.WaitGroup
		st    = make([]*state, len(probed))
	)
	for i, r := range probed {
		st[i] = &state{}
		for range probes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					sent := time.Now().UnixNano()
					ok, err := r.Accepts(ctx, "bench", old)
					got := time.Now().UnixNano()
					switch {
					case err != nil:
						st[i].errs.Add(1)
					case ok:
						for {
							prev := st[i].lastAccepted.Load()
							if got <= prev || st[i].lastAccepted.CompareAndSwap(prev, got) {
								break
							}
						}
					case !ok:
						if t := acked.Load(); t != 0 && sent >= t {
							st[i].refusedAfter.Store(true)
						}
					}
				}
			}()
		}
	}
	time.Sleep(2 * time.Millisecond) // the probes are running
	status, _, err := a.SetKey(ctx, "wsbench", "bench", next)
	t0 := time.Now().UnixNano()
	acked.Store(t0)
	if err != nil || status != 202 {
		stop.Store(true)
		wg.Wait()
		return 0, nil, fmt.Errorf("regenerate: %d %v", status, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		done := true
		for _, s := range st {
			done = done && s.refusedAfter.Load()
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			stop.Store(true)
			wg.Wait()
			return 0, nil, fmt.Errorf("the old key is still accepted %v after the 202", timeout)
		}
		time.Sleep(500 * time.Microsecond)
	}
	stop.Store(true)
	wg.Wait()
	var worst time.Duration
	per := map[string]time.Duration{}
	for i, s := range st {
		d := max(0, time.Duration(s.lastAccepted.Load()-t0))
		per[probed[i].Name] = d
		worst = max(worst, d)
	}
	return worst, per, nil
}
