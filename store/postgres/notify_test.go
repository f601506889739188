package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/store/postgres"
	"github.com/rekey-dev/rekey/store/postgres/pgtest"
)

func addEndpoint(t *testing.T, s rekey.Store, name string) {
	t.Helper()
	ws := rekey.WorkspaceID{Subscription: "00000000-0000-0000-0000-000000000001", ResourceGroup: "rg", Name: "ws"}
	err := s.Update(t.Context(), func(tx rekey.Tx) error {
		if _, err := tx.PutWorkspace(&rekey.Workspace{ID: ws, Location: "westeurope", UID: rekey.NewGUID()}); err != nil {
			return err
		}
		_, err := tx.PutEndpoint(&rekey.Endpoint{ID: rekey.EndpointID{Workspace: ws, Name: name}, UID: rekey.NewGUID(), Location: "westeurope", AuthMode: rekey.AuthKey})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func drain(c <-chan struct{}) {
	for {
		select {
		case <-c:
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

func waitWake(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatalf("no notification within 5s of %s", what)
	}
}

// TestNotifyAcrossReplicas: a change committed through one store (one
// replica) wakes another store's receivers on the same database.
func TestNotifyAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	c := b.Notify(t.Context())
	drain(c) // the listener's first connection wakes it
	addEndpoint(t, a, "ep1")
	waitWake(t, c, "another replica's commit")
}

// TestListenerReconnects: a listener whose backend is terminated
// reconnects by itself, wakes its receivers so they read the feed (the
// notifications sent meanwhile are lost), and hears later changes.
func TestListenerReconnects(t *testing.T) {
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	c := b.Notify(t.Context())
	drain(c)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var killed int
	err = conn.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()`, channelOf(t, conn)).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminating the listener's backend: %d terminated, %v; want 1", killed, err)
	}
	waitWake(t, c, "the listener's reconnection")
	drain(c)
	addEndpoint(t, a, "ep1")
	waitWake(t, c, "a commit after the reconnection")
}

// channelOf returns the NOTIFY channel of the connection's schema, as
// the store names it, by listening to what a commit sends.
func channelOf(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var schema string
	if err := conn.QueryRow(t.Context(), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	return postgres.PostgresChannel(schema)
}
