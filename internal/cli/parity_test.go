package cli

import (
	"flag"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rekey-dev/rekey/internal/parity"
)

var parityVerbose = flag.Bool("parity.verbose", false, "TestParity: print every difference, deliberate, pending or not")

// parityDir holds the recorded Azure exchanges, SOURCES.md and the two lists.
const parityDir = "../../testdata/parity"

// paritySub is the subscription the recordings are mapped to.
const paritySub = "22222222-3333-4444-5555-666666666666"

// TestParity replays request/response pairs recorded against real Azure by
// the test suites of Azure's SDKs and CLIs against a real rekey serve, and
// compares status, polling headers, content type and JSON shape (see
// internal/parity). It fails on a difference that is neither a deliberate
// deviation (deviations.json) nor pending (pending.json), and on an entry
// of either list that no longer applies.
//
// The server runs with --operation-delay 1500ms, so that a poll the recording
// made while Azure's operation ran is replayed while rekey's runs too (it
// is sent right after the request that started the operation); a poll the
// recording made at the end is replayed once rekey's operation has finished.
func TestParity(t *testing.T) {
	recs, err := parity.Load(parityDir)
	if err != nil {
		t.Fatal(err)
	}
	devs, err := parity.LoadDeviations(parityDir)
	if err != nil {
		t.Fatal(err)
	}
	pend, err := parity.LoadPending(parityDir)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "--operation-delay", "1500ms")
	rp := &parity.Replayer{Base: s.URL, Client: s.httpClient(), Token: s.Token, Subscription: paritySub,
		Rules: parity.DefaultRules, PollEvery: 50 * time.Millisecond, PollFor: 15 * time.Second}

	// Each recording has its own resource group, so they run at once: most
	// of the time goes to waiting for operations, not to the CPU.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results []parity.Result
	)
	for _, rec := range recs {
		wg.Go(func() {
			res, err := rp.Replay(t.Context(), rec)
			if err != nil {
				t.Error(err)
			} else if len(res) != rec.Compared() {
				t.Errorf("%s: %d results for %d compared exchanges", rec.Name, len(res), rec.Compared())
			}
			mu.Lock()
			results = append(results, res...)
			mu.Unlock()
		})
	}
	wg.Wait()

	v := parity.Judge(results, devs, pend)
	verbose := *parityVerbose || os.Getenv("REKEY_PARITY_VERBOSE") != ""
	if verbose {
		for _, r := range results {
			for _, d := range r.Diffs {
				t.Logf("%s: %s", r.Exchange, d)
			}
		}
	}
	for _, r := range v.Unexplained {
		for _, d := range r.Diffs {
			t.Errorf("%s: %s (neither a deliberate deviation nor pending)", r.Exchange, d)
		}
	}
	for _, p := range v.StalePending {
		t.Errorf("pending %s no longer occurs: remove it from pending.json", p)
	}
	for _, id := range v.StaleDeviations {
		t.Errorf("deviation %s accepted no difference: remove it from deviations.json, or fix the recording it was for", id)
	}
	t.Logf("parity: %d/%d exchanges match (%d with pending differences)", v.Matched, v.Total, len(v.PendingSeen))
}
