package parity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Replayer sends recordings to a running rekey and compares its answers.
type Replayer struct {
	Base   string // the management API, e.g. https://127.0.0.1:7443
	Client *http.Client
	Token  string // the admin token, sent as bearer to the ARM API
	// Subscription is the replay's subscription; each recording gets its
	// own resource group ("parity-" + its name), so recordings can be
	// replayed in parallel.
	Subscription string
	Rules        Rules
	// PollEvery and PollFor bound the wait for an operation to finish.
	PollEvery, PollFor time.Duration
}

// Workspace is the workspace every ML recording is mapped to.
const Workspace = "ws-parity"

// Mapper is the mapping of rec's recorded ids to the replay's.
func (p *Replayer) Mapper(rec *Recording) Mapper {
	return Mapper{Subscription: p.Subscription, ResourceGroup: "parity-" + strings.ReplaceAll(rec.Name, "_", "-"),
		Workspace: Workspace, APIVersion: rec.APIVersion}
}

// Replay sends rec's setup and exchanges in order and returns one Result
// per compared exchange. An error means the replay itself could not go on
// (a setup request failed), not that rekey differs.
func (p *Replayer) Replay(ctx context.Context, rec *Recording) ([]Result, error) {
	m := p.Mapper(rec)
	auth := func(h http.Header) { h.Set("Authorization", "Bearer "+p.Token) }
	for _, s := range rec.Setup {
		if err := p.mustDo(ctx, m, s.Method, s.Path, s.Body, auth); err != nil {
			return nil, fmt.Errorf("%s setup: %w", rec.Name, err)
		}
	}
	if rec.Dialect == "qna" {
		key, err := p.qnaKey(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("%s setup: %w", rec.Name, err)
		}
		auth = func(h http.Header) { h.Set("Ocp-Apim-Subscription-Key", key) }
	}
	var (
		results []Result
		async   http.Header // the polling headers of the last exchange
	)
	for i := range rec.Exchanges {
		e := &rec.Exchanges[i]
		id := rec.ExchangeID(e)
		if e.ReplayOnly {
			if err := p.mustDo(ctx, m, e.Method, e.Path, e.RequestBody, auth); err != nil {
				return results, fmt.Errorf("%s: %w", id, err)
			}
			continue
		}
		var (
			resp *http.Response
			body []byte
			err  error
		)
		if e.Follow != "" {
			target := async.Get(e.Follow)
			if target == "" {
				results = append(results, Result{id, []Diff{{Path: "poll", Kind: KindPoll, Got: "no " + e.Follow + " header to follow"}}})
				continue
			}
			if e.Until == "terminal" {
				resp, body, err = p.waitDone(ctx, e.Follow, target)
			} else {
				resp, body, err = p.get(ctx, target)
			}
		} else {
			var path string
			if path, err = m.Path(e.Path); err == nil {
				resp, body, err = p.do(ctx, e.Method, path, e.RequestBody, auth)
			}
		}
		if err != nil {
			results = append(results, Result{id, []Diff{{Path: "request", Kind: KindPoll, Got: err.Error()}}})
			continue
		}
		results = append(results, Result{id, p.compare(e, resp, body)})
		if e.Follow == "" {
			async = resp.Header
		}
		// Let a running operation finish before an exchange that is not
		// its poll, as the recording's client did.
		next := i + 1
		for next < len(rec.Exchanges) && rec.Exchanges[next].ReplayOnly {
			next++
		}
		if next >= len(rec.Exchanges) || rec.Exchanges[next].Follow == "" {
			if err := p.settle(ctx, async); err != nil {
				return results, fmt.Errorf("%s: %w", id, err)
			}
		}
	}
	return results, nil
}

func (p *Replayer) compare(e *Exchange, resp *http.Response, body []byte) []Diff {
	var diffs []Diff
	if resp.StatusCode != e.Status {
		diffs = append(diffs, Diff{Path: "status", Kind: KindStatus, Want: fmt.Sprint(e.Status), Got: fmt.Sprint(resp.StatusCode)})
		if resp.StatusCode/100 != e.Status/100 {
			// An error where Azure succeeded (or the reverse): the
			// headers and body cannot be alike, and saying so key by key
			// would bury the one difference that matters.
			return diffs
		}
	}
	diffs = append(diffs, CompareHeaders(e.ResponseHeaders, resp.Header)...)
	return append(diffs, CompareBody(e.ResponseBody, body, p.Rules)...)
}

// qnaKey creates the QnAMaker account whose key the QnA recordings use.
func (p *Replayer) qnaKey(ctx context.Context, m Mapper) (string, error) {
	acc := "/subscriptions/" + m.Subscription + "/resourceGroups/" + m.ResourceGroup +
		"/providers/Microsoft.CognitiveServices/accounts/qna-parity"
	const v = "?api-version=2023-05-01"
	auth := func(h http.Header) { h.Set("Authorization", "Bearer "+p.Token) }
	body := json.RawMessage(`{"location":"westus","kind":"QnAMaker","sku":{"name":"S0"},"properties":{"apiProperties":{"qnaRuntimeEndpoint":"http://127.0.0.1:9"}}}`)
	if err := p.mustDo(ctx, Mapper{}, "PUT", acc+v, body, auth); err != nil {
		return "", err
	}
	resp, b, err := p.do(ctx, "POST", acc+"/listKeys"+v, nil, auth)
	if err != nil {
		return "", err
	}
	var keys struct{ Key1 string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &keys) != nil || keys.Key1 == "" {
		return "", fmt.Errorf("listKeys of the QnAMaker account answered %d", resp.StatusCode)
	}
	return keys.Key1, nil
}

// mustDo sends a request that must succeed and waits for its operation.
func (p *Replayer) mustDo(ctx context.Context, m Mapper, method, recorded string, body json.RawMessage, auth func(http.Header)) error {
	path, err := m.Path(recorded)
	if err != nil {
		return err
	}
	resp, b, err := p.do(ctx, method, path, body, auth)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s answered %d: %s", method, path, resp.StatusCode, clip(b))
	}
	return p.settle(ctx, resp.Header)
}

// settle waits until the operation named by h, if any, has finished.
func (p *Replayer) settle(ctx context.Context, h http.Header) error {
	for _, name := range []string{"Azure-AsyncOperation", "Location"} {
		if target := h.Get(name); target != "" && (name == "Azure-AsyncOperation" || h.Get("Azure-AsyncOperation") == "") {
			_, _, err := p.waitDone(ctx, name, target)
			return err
		}
	}
	return nil
}

// waitDone polls target until the operation is terminal: a status of
// Succeeded, Failed or Canceled for an Azure-AsyncOperation URL, anything but
// 202 for a Location URL. It returns the last response.
func (p *Replayer) waitDone(ctx context.Context, header, target string) (*http.Response, []byte, error) {
	deadline := time.Now().Add(p.PollFor)
	for {
		resp, body, err := p.get(ctx, target)
		if err != nil {
			return nil, nil, err
		}
		done := resp.StatusCode != http.StatusAccepted
		if header == "Azure-AsyncOperation" && resp.StatusCode == http.StatusOK {
			var op struct{ Status string }
			_ = json.Unmarshal(body, &op)
			switch strings.ToLower(op.Status) {
			case "succeeded", "failed", "canceled", "cancelled":
			default:
				done = false
			}
		}
		if done {
			return resp, body, nil
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("operation %s still running after %v", clip([]byte(target)), p.PollFor)
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(p.PollEvery):
		}
	}
}

// get fetches a polling URL that rekey handed out (absolute, on p.Base).
func (p *Replayer) get(ctx context.Context, target string) (*http.Response, []byte, error) {
	if !strings.HasPrefix(target, p.Base+"/") {
		return nil, nil, fmt.Errorf("polling URL %s is not on the server %s", clip([]byte(target)), p.Base)
	}
	return p.do(ctx, "GET", strings.TrimPrefix(target, p.Base), nil, func(h http.Header) { h.Set("Authorization", "Bearer "+p.Token) })
}

func (p *Replayer) do(ctx context.Context, method, path string, body json.RawMessage, auth func(http.Header)) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.Base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	auth(req.Header)
	resp, err := p.Client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// clip shortens text for an error message.
func clip(b []byte) string {
	const max = 300
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
