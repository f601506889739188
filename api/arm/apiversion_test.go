package arm_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rekey-dev/rekey/api/arm"
)

// syncBuffer is a log sink the server's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAPIVersionPolicy: every published version is accepted; by default a
// well-formed version newer than the newest known is served (with the
// newest known shape and a warning naming both versions); the strict mode
// refuses it as ARM does; malformed versions, and unknown versions older
// than the newest, are refused unless in loose mode.
func TestAPIVersionPolicy(t *testing.T) {
	const (
		newestCS = "2026-05-15-preview"
		newestML = "2025-12-01"
	)
	accounts := csBase + "/pol"
	endpoints := base + "/workspaces/ws1/onlineEndpoints"
	for _, tt := range []struct {
		name      string
		mode      arm.VersionMode
		path      string
		version   string
		status    int
		code      string
		servedAs  string // want a warning naming this served version
		wantField string // in the body: the shape served
		noField   string // not in the body
	}{
		{"published stable", arm.VersionsNewer, accounts, "2025-09-01", 200, "", "", `"allowProjectManagement"`, ""},
		{"published preview", arm.VersionsNewer, accounts, "2026-03-15-preview", 200, "", "", "", ""},
		{"oldest published", arm.VersionsNewer, accounts, "2016-02-01-preview", 200, "", "", "", `"systemData"`},
		{"2017-04-18", arm.VersionsNewer, accounts, "2017-04-18", 200, "", "", "", `"systemData"`},
		{"2022-12-01", arm.VersionsNewer, accounts, "2022-12-01", 200, "", "", `"isMigrated"`, `"allowProjectManagement"`},
		{"newer accepted", arm.VersionsNewer, accounts, "2099-01-01", 200, "", newestCS, `"allowProjectManagement"`, ""},
		{"newer preview accepted", arm.VersionsNewer, accounts, "2027-02-01-preview", 200, "", newestCS, "", ""},
		{"older unknown refused", arm.VersionsNewer, accounts, "2024-04-01", 400, "NoRegisteredProviderFound", "", "", ""},
		{"malformed refused", arm.VersionsNewer, accounts, "2025-13-01", 400, "InvalidApiVersionParameter", "", "", ""},
		{"not a version", arm.VersionsNewer, accounts, "latest", 400, "InvalidApiVersionParameter", "", "", ""},
		{"strict published", arm.VersionsStrict, accounts, "2025-09-01", 200, "", "", "", ""},
		{"strict refuses newer", arm.VersionsStrict, accounts, "2099-01-01", 400, "NoRegisteredProviderFound", "", "", ""},
		{"strict refuses older", arm.VersionsStrict, accounts, "2024-04-01", 400, "NoRegisteredProviderFound", "", "", ""},
		{"loose older", arm.VersionsLoose, accounts, "2019-01-01", 200, "", "", `"apiProperties"`, `"systemData"`},
		{"loose newer", arm.VersionsLoose, accounts, "2099-01-01", 200, "", newestCS, "", ""},
		{"loose malformed", arm.VersionsLoose, accounts, "2025-02-30", 400, "InvalidApiVersionParameter", "", "", ""},
		{"ML published", arm.VersionsNewer, endpoints, newestML, 200, "", "", "", ""},
		{"ML newer accepted", arm.VersionsNewer, endpoints, "2026-06-01", 200, "", newestML, "", ""},
		{"ML strict refuses newer", arm.VersionsStrict, endpoints, "2026-06-01", 400, "NoRegisteredProviderFound", "", "", ""},
		{"ML older unknown refused", arm.VersionsNewer, endpoints, "2023-01-01", 400, "NoRegisteredProviderFound", "", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			e := newEnv(t, func(c *arm.Config) {
				c.APIVersions = tt.mode
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			e.workspace("ws1")
			resp, _ := e.must(http.StatusCreated, "PUT", accounts+"?api-version=2025-06-01", `{"location":"westus","kind":"Face","sku":{"name":"F0"}}`)
			e.waitAccountOp(resp.Header.Get("Azure-AsyncOperation"))

			resp, body := e.must(tt.status, "GET", tt.path+"?api-version="+tt.version, "")
			if got := resp.Header.Get("x-ms-error-code"); got != tt.code {
				t.Errorf("error code = %q, want %q", got, tt.code)
			}
			if tt.wantField != "" && !strings.Contains(string(body), tt.wantField) {
				t.Errorf("body lacks %s: %s", tt.wantField, body)
			}
			if tt.noField != "" && strings.Contains(string(body), tt.noField) {
				t.Errorf("body has %s: %s", tt.noField, body)
			}
			warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "api_version="+tt.version)
			if want := tt.servedAs != ""; warned != want {
				t.Errorf("warning logged = %v, want %v; log:\n%s", warned, want, logs.String())
			}
			if tt.servedAs != "" && !strings.Contains(logs.String(), "served_as="+tt.servedAs) {
				t.Errorf("warning does not name the served shape %s; log:\n%s", tt.servedAs, logs.String())
			}
		})
	}
}

// TestAPIVersionWarnOnce: a newer version is reported once, not on every
// request.
func TestAPIVersionWarnOnce(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, func(c *arm.Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	for range 3 {
		e.must(http.StatusOK, "GET", csBase+"?api-version=2099-01-01", "")
	}
	if n := strings.Count(logs.String(), "api_version=2099-01-01"); n != 1 {
		t.Errorf("%d warnings for three requests, want 1; log:\n%s", n, logs.String())
	}
}

// FuzzAPIVersion sends arbitrary api-versions: none may cause a 5xx, every
// refusal carries ARM's envelope with a version error code, and only a
// well-formed version may be accepted.
func FuzzAPIVersion(f *testing.F) {
	for _, s := range []string{"2025-06-01", "2099-01-01", "2099-01-01-preview", "2024-04-01", "2025-02-30", "", "latest", "2025-06-01-preview-preview", "9999-99-99", "0000-01-01"} {
		f.Add(s)
	}
	e := newEnv(f)
	wellFormed := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-(preview|alpha|beta|privatepreview))?$`)
	f.Fuzz(func(t *testing.T, version string) {
		e.t = t
		resp := e.do("GET", csBase+"?api-version="+url.QueryEscape(version), "")
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch code := resp.Header.Get("x-ms-error-code"); {
		case resp.StatusCode == http.StatusOK:
			if !wellFormed.MatchString(version) {
				t.Fatalf("api-version %q accepted", version)
			}
		case resp.StatusCode != http.StatusBadRequest:
			t.Fatalf("api-version %q = %d %s", version, resp.StatusCode, data)
		case code != "MissingApiVersionParameter" && code != "InvalidApiVersionParameter" && code != "NoRegisteredProviderFound":
			t.Fatalf("api-version %q refused with code %q: %s", version, code, data)
		}
	})
}
