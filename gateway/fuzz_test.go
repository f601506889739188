package gateway_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/gateway"
)

// FuzzGatewayPath sends request targets below a scoring endpoint (or
// below the QnA runtime's prefix) with a valid key, through the gateway's
// handler to real upstreams. It asserts that the gateway never panics,
// never answers 500, never forwards a path outside the upstream's base
// path, and never forwards a dot segment in any encoding.
//
//	go test ./gateway -run '^$' -fuzz FuzzGatewayPath -fuzztime 60s
func FuzzGatewayPath(f *testing.F) {
	for _, s := range []string{
		"/score", "", "/", "/v1/chat/completions?stream=true", "/../../other/secret", "/%2e%2e/%2e%2e/other",
		"/..%2f..%2fother", "/.%2E/x", "/score/..", "/%252e%252e/x", "/..%5cx", "/..;/x", "/a..b/.c/d.",
		"/%2F%2F/x", "/x?subscription-key=k", "%2f..", "/%zz", "/\x00", "//../",
	} {
		f.Add(s, false)
	}
	for _, s := range []string{"kb-1/generateAnswer", "../generateAnswer", "%2e%2e/train", "kb/generateAnswer/..", "kb%2f..%2f../train"} {
		f.Add(s, true)
	}
	e := newEnv(f, func(c *gateway.Config) { c.FailLimit, c.AccessLog = -1, false })
	var (
		mu   sync.Mutex
		seen []string // escaped paths the upstreams received
	)
	record := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.EscapedPath())
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
	}))
	f.Cleanup(record.Close)
	_, key, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": record.URL + "/base/"}, map[string]int32{"blue": 100}, nil)
	acc := rekey.AccountID{Subscription: sub, ResourceGroup: "rg", Name: "qna1"}
	qkey := rekey.NewEndpointKey()
	e.update(func(tx rekey.Tx) error {
		if _, err := tx.PutAccount(&rekey.Account{ID: acc, Kind: rekey.KindQnAMaker, QnARuntimeEndpoint: record.URL + "/base/"}); err != nil {
			return err
		}
		return e.putKeys(tx, acc.EndpointKeys(), qkey, "")
	})

	f.Fuzz(func(t *testing.T, suffix string, qna bool) {
		target, auth := "/endpoints/ep1"+suffix, "Bearer "+key
		if qna {
			target, auth = "/qnamaker/knowledgebases/"+suffix, "EndpointKey "+qkey
		}
		u, err := url.ParseRequestURI(target) // as net/http's server parses it
		if err != nil {
			return
		}
		r := &http.Request{Method: "POST", URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Authorization": {auth}}, Body: io.NopCloser(strings.NewReader("{}")), ContentLength: 2,
			Host: "gateway.test", RemoteAddr: "192.0.2.1:1234"}
		r = r.WithContext(t.Context())
		mu.Lock()
		seen = seen[:0]
		mu.Unlock()
		rec := httptest.NewRecorder()
		if testEngine == "nethttp" {
			e.gw.ServeHTTP(rec, r)
		} else {
			// The fast engine parses the request target itself: send it
			// as written.
			rec.Code, rec.Body = rawPost(t, e.srv.URL, target, auth)
		}
		if rec.Code >= 500 && rec.Code != http.StatusBadGateway {
			t.Errorf("%q: status %d %s", target, rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
		}
		mu.Lock()
		defer mu.Unlock()
		for _, p := range seen {
			if !within(p, "/base/") {
				t.Errorf("%q reached the upstream as %q: outside /base/ or with a dot segment", target, p)
			}
		}
		if dotSegments(u.EscapedPath()) && (len(seen) > 0 || rec.Code != http.StatusBadRequest && rec.Code != http.StatusNotFound) {
			t.Errorf("%q has a dot segment: status %d, forwarded %q; want 400 (or 404 for no route) and nothing forwarded", target, rec.Code, seen)
		}
	})
}

// rawPost sends POST target with a 2-byte body over a new connection to
// the server at base, and returns the answer's status and body.
func rawPost(t *testing.T, base, target, auth string) (int, *bytes.Buffer) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST "+target+" HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: "+auth+"\r\nContent-Length: 2\r\n\r\n{}")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: no answer: %v", target, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	io.Copy(&body, resp.Body)
	return resp.StatusCode, &body
}
