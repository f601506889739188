package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rekey-dev/rekey"
)

// TestUnavailable: an unreachable database, or a backend an administrator
// terminated, is Unavailable (503 with Retry-After on the wire); a
// statement's own failure is not.
func TestUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, dialErr := pgx.Connect(ctx, "postgres://rekey@127.0.0.1:1/rekey?sslmode=disable&connect_timeout=2")
	if dialErr == nil {
		t.Fatal("connecting to port 1 succeeded")
	}
	tests := []struct {
		name string
		err  error
		want rekey.Code
	}{
		{"refused", dialErr, rekey.Unavailable},
		{"terminated", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, rekey.Unavailable},
		{"connection exception", &pgconn.PgError{Code: "08006"}, rekey.Unavailable},
		{"unique violation", &pgconn.PgError{Code: "23505"}, rekey.Internal},
		{"application error", rekey.Errorf(rekey.NotFound, "gone"), rekey.NotFound},
		{"canceled", context.Canceled, rekey.Internal},
	}
	for _, tt := range tests {
		if got := rekey.ErrorCode(unavailable(tt.err)); got != tt.want {
			t.Errorf("%s: code %q, want %q", tt.name, got, tt.want)
		}
	}
}
