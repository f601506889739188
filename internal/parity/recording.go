// Package parity replays request/response pairs that the public test suites
// of Azure's SDKs and CLIs recorded against real Azure, and compares what
// rekey answers with what Azure answered.
//
// The comparison is by shape, not by value: the same status, the same
// polling headers and content type, and JSON bodies with the same keys and
// the same JSON types. Values are compared only where a client branches on
// them (enums such as provisioningState and status, and error codes), since
// names, ids, times and keys necessarily differ between two services.
//
// The recordings live in testdata/parity (one JSON file per recording, with
// its source in SOURCES.md); internal/cli's TestParity replays them against a
// real "rekey serve".
package parity

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Source names where a recording was taken from.
type Source struct {
	Repo   string `json:"repo"`
	Path   string `json:"path"`
	Commit string `json:"commit"`
	Client string `json:"client"` // the client and date that recorded it
}

// Request is one request the replay sends without comparing its answer:
// the parents a recording assumes (a workspace, an endpoint).
type Request struct {
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// Exchange is one recorded request and Azure's response to it.
type Exchange struct {
	Name string `json:"name"`
	// ReplayOnly marks a request that the replay needs in order to reach
	// the state of the recording (e.g. creating the deployments a later
	// list returns), sent but not compared nor counted.
	ReplayOnly  bool            `json:"replayOnly,omitempty"`
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	RequestBody json.RawMessage `json:"requestBody,omitempty"`
	// Follow makes the exchange a poll: instead of Path (Azure's URL), the
	// replay GETs the URL that rekey returned in this header
	// ("Azure-AsyncOperation" or "Location") of the last exchange.
	Follow string `json:"follow,omitempty"`
	// Until is "terminal" for a poll compared once the operation has
	// finished; otherwise the poll is sent at once, while the operation
	// still runs.
	Until string `json:"until,omitempty"`

	Status          int               `json:"status"`
	ResponseHeaders map[string]string `json:"responseHeaders"`
	// ResponseBody is nil for an empty body (as opposed to JSON null).
	ResponseBody json.RawMessage `json:"responseBody,omitempty"`
}

// Recording is one recorded test of an Azure SDK or CLI, trimmed to the
// exchanges rekey serves.
type Recording struct {
	Name   string `json:"-"` // the file name without .json
	Source Source `json:"source"`
	Note   string `json:"note"`
	// Dialect is "arm" (the default: admin token as bearer) or "qna" (the
	// QnA Maker authoring API: the replay creates a QnAMaker account and
	// sends its key as Ocp-Apim-Subscription-Key).
	Dialect string `json:"dialect,omitempty"`
	// APIVersion replaces api-version=0000-00-00, which some recorders
	// write instead of the version they used.
	APIVersion string     `json:"apiVersion,omitempty"`
	Setup      []Request  `json:"setup,omitempty"`
	Exchanges  []Exchange `json:"exchanges"`
}

// ExchangeID names an exchange in reports and in pending.json.
func (r *Recording) ExchangeID(e *Exchange) string { return r.Name + "/" + e.Name }

// Compared is the number of exchanges of r that the suite compares.
func (r *Recording) Compared() int {
	n := 0
	for _, e := range r.Exchanges {
		if !e.ReplayOnly {
			n++
		}
	}
	return n
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Load reads every recording in dir (the files other than deviations.json
// and pending.json) and checks that each is complete: a source with a
// commit, unique exchange names, a status for each compared exchange.
func Load(dir string) ([]*Recording, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var recs []*Recording
	for _, f := range files {
		base := filepath.Base(f)
		if base == DeviationsFile || base == PendingFile {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r := &Recording{Name: strings.TrimSuffix(base, ".json")}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(r); err != nil {
			return nil, fmt.Errorf("%s: %w", base, err)
		}
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("%s: %w", base, err)
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no recordings in %s", dir)
	}
	return recs, nil
}

func (r *Recording) check() error {
	switch {
	case r.Source.Repo == "" || r.Source.Path == "":
		return fmt.Errorf("source needs repo and path")
	case !commitRE.MatchString(r.Source.Commit):
		return fmt.Errorf("source commit %q is not a 40-hex commit id", r.Source.Commit)
	case r.Dialect != "" && r.Dialect != "arm" && r.Dialect != "qna":
		return fmt.Errorf("dialect %q: want arm or qna", r.Dialect)
	}
	var names []string
	for _, e := range r.Exchanges {
		switch {
		case e.Name == "" || slices.Contains(names, e.Name):
			return fmt.Errorf("exchange name %q is empty or repeated", e.Name)
		case e.Method == "" || (e.Path == "" && e.Follow == ""):
			return fmt.Errorf("exchange %s: needs a method and a path", e.Name)
		case e.Follow != "" && e.Follow != "Azure-AsyncOperation" && e.Follow != "Location":
			return fmt.Errorf("exchange %s: follow %q: want Azure-AsyncOperation or Location", e.Name, e.Follow)
		case e.Until != "" && e.Until != "terminal":
			return fmt.Errorf("exchange %s: until %q: want terminal or nothing", e.Name, e.Until)
		case !e.ReplayOnly && e.Status == 0:
			return fmt.Errorf("exchange %s: no recorded status", e.Name)
		}
		names = append(names, e.Name)
	}
	return nil
}
