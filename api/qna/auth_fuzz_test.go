package qna_test

import (
	"net/http"
	"testing"

	"github.com/rekey-dev/rekey"
)

// FuzzSubscriptionKeyHeader: whatever the header holds, the answer is 200
// for the real key and the single 401 otherwise; never a 5xx.
func FuzzSubscriptionKeyHeader(f *testing.F) {
	e := newEnv(f)
	key, _ := e.account("qna1", rekey.KindQnAMaker, nil)
	f.Add(key)
	f.Add(" " + key + " ")
	f.Add("")
	f.Add("0123456789abcdef0123456789abcdef")
	f.Fuzz(func(t *testing.T, header string) {
		e.t = t
		req, _ := http.NewRequest("GET", e.srv.URL+"/qnamaker/v4.0/endpointkeys", nil)
		req.Header["Ocp-Apim-Subscription-Key"] = []string{header}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return // the client refused to send this header value
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("header %q gave %d", header, resp.StatusCode)
		case resp.StatusCode == 200 && header != key && header != " "+key+" ":
			t.Fatalf("header %q was accepted", header)
		}
	})
}
