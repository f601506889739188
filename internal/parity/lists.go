package parity

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// The two lists beside the recordings.
const (
	// DeviationsFile lists rekey's deliberate differences from Azure.
	DeviationsFile = "deviations.json"
	// PendingFile lists known differences that are not deliberate, each
	// waiting for the change that removes it.
	PendingFile = "pending.json"
)

// Deviation is a deliberate difference: the suite accepts it in every
// exchange it applies to. Each one says why rekey differs.
type Deviation struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	// Exchanges is a path.Match pattern on "recording/exchange"; empty
	// means every exchange.
	Exchanges string `json:"exchanges,omitempty"`
	// Path is a path.Match pattern on Diff.Path, e.g. "header Retry-After*".
	Path string `json:"path"`
	Kind string `json:"kind"` // Diff.Kind
}

// Accepts reports whether d covers diff in the named exchange.
func (d Deviation) Accepts(exchange string, diff Diff) bool {
	if ok, _ := path.Match(d.Path, diff.Path); !ok || d.Kind != diff.Kind {
		return false
	}
	if d.Exchanges == "" {
		return true
	}
	ok, _ := path.Match(d.Exchanges, exchange)
	return ok
}

// Pending is a known mismatch of one exchange that another change is
// expected to remove. The suite tolerates exactly these Diffs, and fails
// once one of them no longer occurs, so the list cannot go stale.
type Pending struct {
	Exchange string   `json:"exchange"` // "recording/exchange"
	Branch   string   `json:"branch"`   // the change expected to fix it
	Cause    string   `json:"cause"`
	Diffs    []string `json:"diffs"` // Diff.String() of each
}

// LoadDeviations reads DeviationsFile in dir.
func LoadDeviations(dir string) ([]Deviation, error) {
	var ds []Deviation
	if err := readJSON(filepath.Join(dir, DeviationsFile), &ds); err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.ID == "" || d.Reason == "" || d.Path == "" || d.Kind == "" {
			return nil, fmt.Errorf("%s: deviation %q needs id, reason, path and kind", DeviationsFile, d.ID)
		}
		for _, pat := range []string{d.Exchanges, d.Path} {
			if _, err := path.Match(pat, ""); err != nil {
				return nil, fmt.Errorf("%s: deviation %s: %q: %w", DeviationsFile, d.ID, pat, err)
			}
		}
	}
	return ds, nil
}

// LoadPending reads PendingFile in dir.
func LoadPending(dir string) ([]Pending, error) {
	var ps []Pending
	if err := readJSON(filepath.Join(dir, PendingFile), &ps); err != nil {
		return nil, err
	}
	return ps, nil
}

func readJSON(file string, v any) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	return nil
}

// Result is the outcome of replaying one exchange.
type Result struct {
	Exchange string // "recording/exchange"
	Diffs    []Diff
}

// Verdict sorts the results of a replay against the two lists.
type Verdict struct {
	Total, Matched int
	// Unexplained are differences neither deliberate nor pending: the
	// suite fails on them.
	Unexplained []Result
	// PendingSeen are the differences tolerated as pending (they count
	// as mismatches in the parity figure).
	PendingSeen []Result
	// StalePending are pending entries whose difference no longer
	// occurs; StaleDeviations are deviations that accepted nothing.
	StalePending    []string
	StaleDeviations []string
}

// Judge applies the deviations and the pending list to results. An
// exchange matches when every difference it has is a deliberate deviation.
func Judge(results []Result, devs []Deviation, pend []Pending) Verdict {
	v := Verdict{Total: len(results)}
	usedDev := make([]bool, len(devs))
	usedPend := map[string]bool{}
	for _, r := range results {
		var unexplained, pending []Diff
		for _, d := range r.Diffs {
			if i := slices.IndexFunc(devs, func(dv Deviation) bool { return dv.Accepts(r.Exchange, d) }); i >= 0 {
				usedDev[i] = true
				continue
			}
			key := r.Exchange + "\x00" + d.String()
			if slices.ContainsFunc(pend, func(p Pending) bool { return p.Exchange == r.Exchange && slices.Contains(p.Diffs, d.String()) }) {
				usedPend[key] = true
				pending = append(pending, d)
				continue
			}
			unexplained = append(unexplained, d)
		}
		switch {
		case len(unexplained) > 0:
			v.Unexplained = append(v.Unexplained, Result{r.Exchange, unexplained})
		case len(pending) > 0:
			v.PendingSeen = append(v.PendingSeen, Result{r.Exchange, pending})
		default:
			v.Matched++
		}
		if len(unexplained) > 0 && len(pending) > 0 {
			v.PendingSeen = append(v.PendingSeen, Result{r.Exchange, pending})
		}
	}
	for _, p := range pend {
		for _, d := range p.Diffs {
			if !usedPend[p.Exchange+"\x00"+d] {
				v.StalePending = append(v.StalePending, p.Exchange+": "+d)
			}
		}
	}
	for i, d := range devs {
		if !usedDev[i] {
			v.StaleDeviations = append(v.StaleDeviations, d.ID)
		}
	}
	return v
}
