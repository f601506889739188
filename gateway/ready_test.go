package gateway_test

import (
	"net/http"
	"testing"
)

// TestReadyz: the gateway answers /readyz 200 once its table is loaded,
// and still 200 when the store stops answering (it serves the table it
// last applied), saying so in the body.
func TestReadyz(t *testing.T) {
	e := newEnv(t)
	get := func() int {
		t.Helper()
		resp, err := http.Get(e.srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != http.StatusOK {
		t.Fatalf("GET /readyz = %d, want 200", got)
	}
	e.store.Close() // the store no longer answers
	if got, body := readyz(t, e); got != http.StatusOK || body["database"] != "unreachable" {
		t.Errorf("GET /readyz with a closed store = %d %v, want 200 saying the database is unreachable", got, body)
	}
	if resp, err := http.Get(e.srv.URL + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %v, %v; want 200 (the process is alive)", resp, err)
	}
}
