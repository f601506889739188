package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// TestPprof: /debug/pprof/ is not served by default (404 in the ARM
// dialect, as any unknown path); under --pprof (or REKEY_PPROF) it takes
// the admin token, answers 401 in the admin API's envelope without it,
// and serves the profiles with it.
func TestPprof(t *testing.T) {
	get := func(t *testing.T, s *testServer, path, token string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := s.httpClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	envelope := func(t *testing.T, path string, body []byte) {
		t.Helper()
		var env struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(body, &env) != nil || env.Error.Code == "" || env.Error.Message == "" {
			t.Errorf("GET %s: body = %.200q, want an error envelope with a code and a message", path, body)
		}
	}
	paths := []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1", "/debug/pprof/profile?seconds=1"}

	t.Run("off by default", func(t *testing.T) {
		s := startServer(t, "")
		for _, p := range paths {
			code, body := get(t, s, p, s.Token)
			if code != http.StatusNotFound {
				t.Errorf("GET %s with the admin token, without --pprof = %d, want 404", p, code)
				continue
			}
			envelope(t, p, body)
		}
	})
	for _, on := range []struct {
		name string
		env  func(string) string
		args []string
	}{
		{"flag", envOf(), []string{"--pprof"}},
		{"env", envOf("REKEY_PPROF", "true"), nil},
	} {
		t.Run(on.name, func(t *testing.T) {
			s := startServerEnv(t, on.env, "", on.args...)
			for _, p := range paths {
				for _, tok := range []string{"", "not-the-admin-token-0123"} {
					code, body := get(t, s, p, tok)
					if code != http.StatusUnauthorized {
						t.Errorf("GET %s (token given: %v) = %d, want 401", p, tok != "", code)
						continue
					}
					envelope(t, p, body)
				}
			}
			if code, body := get(t, s, "/debug/pprof/", s.Token); code != 200 || !bytes.Contains(body, []byte("goroutine")) {
				t.Errorf("GET /debug/pprof/ with the admin token = %d %.200q, want 200 and the index of profiles", code, body)
			}
			if code, body := get(t, s, "/debug/pprof/goroutine?debug=1", s.Token); code != 200 || !bytes.HasPrefix(body, []byte("goroutine profile:")) {
				t.Errorf("GET /debug/pprof/goroutine?debug=1 with the admin token = %d %.200q, want 200 and a goroutine dump", code, body)
			}
			// Binary profiles are gzipped protocol buffers.
			for _, p := range []string{"/debug/pprof/heap", "/debug/pprof/profile?seconds=1"} {
				if code, body := get(t, s, p, s.Token); code != 200 || !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
					t.Errorf("GET %s with the admin token = %d (%d bytes), want 200 and a gzipped profile", p, code, len(body))
				}
			}
		})
	}
}
