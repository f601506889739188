package gateway_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/gateway"
)

// raw sends one request exactly as written over a fresh connection and
// returns the statuses of the responses that come back (a desynchronised
// server may answer twice).
func raw(t *testing.T, addr, request string) []int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	var codes []int
	br := bufio.NewReader(c)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return codes
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.Close {
			return codes
		}
	}
}

// TestNoAuthBypass: no spelling of the path, method, case or header gets
// a request without a valid key to an upstream.
func TestNoAuthBypass(t *testing.T) {
	e := newEnv(t, func(c *gateway.Config) { c.FailLimit = -1 })
	up := newUpstream(t, "blue")
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	type req struct{ line, headers string }
	var cases []req
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "FOO"} {
		cases = append(cases, req{m + " /endpoints/ep1/score HTTP/1.1", ""})
	}
	for _, path := range []string{
		"/ENDPOINTS/ep1/score", "//endpoints/ep1/score", "/./endpoints/ep1/score", "/%65ndpoints/ep1/score",
		"/endpoints/%65p1/score", "/endpoints/EP1/score", "/endpoints/ep1%2fscore", "/healthz/../endpoints/ep1/score",
		"/endpoints/ep1/../ep1/score", "/endpoints//ep1/score", "/endpoints/ep1;x/score", "/endpoints/ep1%00/score",
		"http://other.test/endpoints/ep1/score", "/qnamaker/knowledgebases/../../endpoints/ep1/generateAnswer",
	} {
		cases = append(cases, req{"POST " + path + " HTTP/1.1", ""})
	}
	for _, h := range []string{
		"Authorization: Bearer\r\n", "Authorization: Bearer  \r\n", "Authorization: Bearer " + p[:len(p)-1] + "\r\n",
		"Authorization: Bearer " + p + "x\r\n", "Authorization: Basic " + p + "\r\n", "Authorization: " + p + "\r\n",
		"Authorization: Bearer wrong\r\nAuthorization: Bearer " + p + "\r\n",
		"authorization: Bearer wrong\r\napi-key: " + p + "\r\n", "Api-Key: " + p + "\r\n", "Ocp-Apim-Subscription-Key: " + p + "\r\n",
		"X-Original-URL: /healthz\r\nX-Rewrite-URL: /healthz\r\nX-Forwarded-For: 127.0.0.1\r\n",
		"Authorization: EndpointKey " + p + "\r\n",
	} {
		cases = append(cases, req{"POST /endpoints/ep1/score HTTP/1.1", h})
	}
	cases = append(cases, req{"POST /endpoints/ep1/score?subscription-key=" + p + " HTTP/1.1", ""})
	for _, c := range cases {
		codes := raw(t, addr, c.line+"\r\nHost: gw.test\r\n"+c.headers+"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
		for _, code := range codes {
			if code < 400 {
				t.Errorf("%q with headers %q = %v, want only 4xx", c.line, strings.ReplaceAll(c.headers, p, "<key>"), codes)
			}
		}
	}
	if up.hits.Load() != 0 {
		t.Errorf("requests without a valid key reached the upstream %d times", up.hits.Load())
	}
}

// TestSmugglingShapes: requests whose framing is ambiguous are refused by
// the server before the gateway sees them, or framed one way only: the
// upstream never sees a second, smuggled request.
func TestSmugglingShapes(t *testing.T) {
	e := newEnv(t)
	up := newUpstream(t, "blue")
	_, p, _ := e.endpoint("ep1", rekey.AuthKey, nil, map[string]string{"blue": up.URL}, map[string]int32{"blue": 100}, nil)
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	head := "POST /endpoints/ep1/score HTTP/1.1\r\nHost: gw.test\r\nAuthorization: Bearer " + p + "\r\n"
	smuggled := "GET /endpoints/ep1/smuggled HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"
	for name, tt := range map[string]struct {
		request string
		refused bool // must be answered 4xx (or 501, unknown coding) with nothing forwarded
	}{
		// net/http frames these by Transfer-Encoding alone (RFC 9112
		// 6.3) and re-frames the request it forwards, so they cannot
		// desynchronise it from the upstream.
		"CL and TE":          {head + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, false},
		"TE and CL":          {head + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" + smuggled, false},
		"two CLs":            {head + "Content-Length: 0\r\nContent-Length: 60\r\n\r\n" + smuggled, true},
		"TE chunked, ident":  {head + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled, true},
		"TE xchunked":        {head + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggled, true},
		"TE with space":      {head + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggled, true},
		"CL plus sign":       {head + "Content-Length: +0\r\n\r\n" + smuggled, true},
		"obs-fold":           {head + "Content-Length: 0\r\nX-A: a\r\n b\r\n\r\n" + smuggled, false}, // unfolded
		"chunked, pipelined": {head + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, false},
	} {
		before := up.hits.Load()
		codes := raw(t, addr, tt.request)
		if tt.refused && (len(codes) == 0 || codes[0] < 400 || codes[0] >= 500 && codes[0] != 501 || up.hits.Load() != before) {
			t.Errorf("%s: answered %v, upstream saw %d requests; want refused with 4xx (or 501) and none forwarded", name, codes, up.hits.Load()-before)
		}
		for _, path := range up.paths() {
			if strings.Contains(path, "smuggled") {
				t.Fatalf("%s: the smuggled request reached the upstream", name)
			}
		}
	}
	// A malformed chunk is found while the body streams upstream: the
	// client's mistake is answered 400, not 502.
	codes := raw(t, addr, head+"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\n\n"+smuggled)
	if len(codes) == 0 || codes[0] != 400 {
		t.Errorf("bare LF in a chunked body: answered %v, want 400", codes)
	}
}
