package cli

import (
	"flag"
	"io"
	"testing"
)

// TestDatabasePasswordInArgs: serve warns when the command line holds
// the database's password, which ps shows every local user, and only
// then: not for REKEY_DATABASE_URL, nor for a URL without a password.
func TestDatabasePasswordInArgs(t *testing.T) {
	for _, tt := range []struct {
		env  []string
		args []string
		want bool
	}{
		{nil, []string{"--database", "postgres://rekey:secret@db:5432/rekey"}, true},
		{nil, []string{"--database", "postgres://rekey@db:5432/rekey?password=secret"}, true},
		{nil, []string{"--database=postgresql://rekey:s%40t@db/rekey?sslmode=disable"}, true},
		{nil, []string{"--database", "postgres://rekey@db:5432/rekey"}, false},
		{[]string{"REKEY_DATABASE_URL", "postgres://rekey:secret@db:5432/rekey"}, nil, false},
		{nil, nil, false},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cfg, validate := bindServe(fs, envOf(tt.env...))
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		if err := validate(); err != nil {
			t.Fatalf("%v %v: %v", tt.env, tt.args, err)
		}
		if got := cfg.databasePasswordInArgs(); got != tt.want {
			t.Errorf("env %v, args %v: password in the command line = %v, want %v", tt.env, tt.args, got, tt.want)
		}
	}
}

// TestReplacesSharedAdminToken: a management replica on PostgreSQL whose
// admin token is not REKEY_ADMIN_TOKEN replaces the database's one for
// every replica, so serve warns; SQLite, gateways and the shared variable
// do not.
func TestReplacesSharedAdminToken(t *testing.T) {
	const db = "postgres://rekey@db:5432/rekey"
	for _, tt := range []struct {
		database, role string
		fromEnv        bool
		want           bool
	}{
		{db, roleAll, false, true},
		{db, roleManagement, false, true},
		{db, roleManagement, true, false},
		{db, roleGateway, false, false},
		{"", roleAll, false, false},
	} {
		cfg := &serveConfig{Database: tt.database, Role: tt.role}
		if got := replacesSharedAdminToken(cfg, tt.fromEnv); got != tt.want {
			t.Errorf("database %q, role %s, token from the environment %v: warn = %v, want %v", tt.database, tt.role, tt.fromEnv, got, tt.want)
		}
	}
}
