package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rekey-dev/rekey/server"
)

func TestProbes(t *testing.T) {
	var notReady error = errors.New("migrating")
	h := server.New(server.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Ready:  func(context.Context) error { return notReady },
		API:    http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }),
	})
	for _, tt := range []struct {
		path string
		want int
	}{{"/healthz", 200}, {"/readyz", 503}, {"/anything", 500}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
		if rec.Code != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.path, rec.Code, tt.want)
		}
		if strings.Contains(rec.Body.String(), "migrating") || strings.Contains(rec.Body.String(), "boom") {
			t.Errorf("GET %s leaks internal detail: %s", tt.path, rec.Body)
		}
	}
	notReady = nil
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 {
		t.Errorf("GET /readyz when ready = %d, want 200", rec.Code)
	}
}

// TestBodyStall: a client that stops sending its body is cut off after the
// body timeout; a handler sees a read error instead of waiting forever.
func TestBodyStall(t *testing.T) {
	readErr := make(chan error, 1)
	h := server.New(server.Options{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Ready:       func(context.Context) error { return nil },
		API:         http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, err := io.ReadAll(r.Body); readErr <- err }),
		BodyTimeout: 200 * time.Millisecond,
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial"))
	select {
	case err := <-readErr:
		if err == nil {
			t.Errorf("reading a stalled body succeeded, want a timeout error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stalled body was not cut off within 5s")
	}
}
