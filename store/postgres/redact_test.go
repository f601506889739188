package postgres_test

import (
	"strings"
	"testing"

	"github.com/rekey-dev/rekey/store/postgres"
)

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://rekey:sekret@db:5432/rekey?sslmode=disable", "postgres://rekey:xxxxx@db:5432/rekey?sslmode=disable"},
		{"postgres://rekey@db/rekey", "postgres://rekey@db/rekey"},
		{"postgresql://db/rekey?password=sekret&sslmode=require", "postgresql://db/rekey?password=xxxxx&sslmode=require"},
		{"postgres://rekey:sek%ZZret@db/rekey", "postgres://(unparsable connection string)"},
	} {
		if got := postgres.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestOpenErrorHidesPassword: an Open that fails names the database
// without its password.
func TestOpenErrorHidesPassword(t *testing.T) {
	for _, url := range []string{
		"postgres://rekey:sekret@127.0.0.1:1/rekey?sslmode=disable&connect_timeout=5",
		"postgres://rekey:sekret@127.0.0.1:1/rekey?sslmode=nonsense",
	} {
		_, err := postgres.Open(t.Context(), url)
		if err == nil {
			t.Fatalf("Open(port 1) = nil, want an error")
		}
		if strings.Contains(err.Error(), "sekret") || !strings.Contains(err.Error(), "rekey:xxxxx@127.0.0.1:1") {
			t.Errorf("Open error = %q, want the URL with its password redacted", err)
		}
	}
}
