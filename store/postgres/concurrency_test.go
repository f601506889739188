package postgres_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/store/postgres"
	"github.com/rekey-dev/rekey/store/postgres/pgtest"
)

// TestConcurrentOpensMigrateOnce: replicas starting together on an empty
// database all open it, and each migration is applied once.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	url := pgtest.URL(t)
	const replicas = 6
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), url)
			if err == nil {
				err = s.Ready(t.Context())
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
		}
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var rows, versions int
	if err := conn.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != versions || versions == 0 {
		t.Errorf("schema_migrations holds %d rows for %d versions, want one row per version", rows, versions)
	}
}

// TestFeedHasNoGapsUnderConcurrentWriters: writers on two stores (two
// replicas) append to the feed concurrently, each holding its transaction
// open a little after appending, while a reader follows the feed by
// sequence number as a gateway does. The reader must end up with every
// entry: an entry that commits after the reader passed its number would
// be lost to it for good.
func TestFeedHasNoGapsUnderConcurrentWriters(t *testing.T) {
	url := pgtest.URL(t)
	stores := []*postgres.Store{open(t, url), open(t, url)}
	reader := open(t, url)

	done := make(chan struct{})
	seen := map[int64]bool{}
	var last int64
	follow := func() {
		t.Helper()
		for {
			var batch []rekey.Change
			err := reader.View(t.Context(), func(tx rekey.Tx) (err error) {
				batch, _, err = tx.Changes(last, 1000)
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
			for _, c := range batch {
				seen[c.Seq] = true
				last = c.Seq
			}
			if len(batch) < 1000 {
				return
			}
		}
	}
	var readerDone sync.WaitGroup
	readerDone.Go(func() {
		for {
			select {
			case <-done:
				follow()
				return
			default:
				follow()
			}
		}
	})

	var wg sync.WaitGroup
	for w := range 6 {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for i := range 30 {
				err := s.Update(t.Context(), func(tx rekey.Tx) error {
					var d rekey.Digest
					binary.BigEndian.PutUint32(d[:], uint32(w<<16|i))
					// One owner per writer: no row lock orders them.
					owner := fmt.Sprintf("/owner/%d", w)
					if _, err := tx.PutKey(rekey.StoredKey{Resource: owner, Slot: rekey.Primary, Ciphertext: d[:], Digest: d, UpdatedAt: time.Now()}); err != nil {
						return err
					}
					time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readerDone.Wait()

	var all []rekey.Change
	err := reader.View(t.Context(), func(tx rekey.Tx) (err error) {
		all, _, err = tx.Changes(0, 100000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6*30 {
		t.Errorf("feed holds %d entries, want %d", len(all), 6*30)
	}
	var missed int
	for _, c := range all {
		if !seen[c.Seq] {
			missed++
		}
	}
	if missed > 0 {
		t.Errorf("a reader following the feed missed %d of %d entries: they committed after it had passed their sequence numbers", missed, len(all))
	}
}

// TestConcurrentRotationsLastCommittedWins: two replicas rotate the same
// slot concurrently. Every acknowledged rotation was applied (versions
// 1..n, none lost), and the slot holds the one acknowledged last, with
// the one before it as its previous key.
func TestConcurrentRotationsLastCommittedWins(t *testing.T) {
	url := pgtest.URL(t)
	stores := []*postgres.Store{open(t, url), open(t, url)}
	const writers, rotations = 4, 25
	var mu sync.Mutex
	byVersion := map[int64]rekey.Digest{}
	var wg sync.WaitGroup
	for w := range writers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for i := range rotations {
				var d rekey.Digest
				binary.BigEndian.PutUint32(d[:], uint32(w<<16|i+1))
				var v int64
				err := s.Update(t.Context(), func(tx rekey.Tx) (err error) {
					now := time.Now()
					v, err = tx.PutKey(rekey.StoredKey{Resource: "/owner", Slot: rekey.Primary, Ciphertext: d[:], Digest: d,
						UpdatedAt: now, PreviousValidUntil: now.Add(time.Hour)})
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if _, dup := byVersion[v]; dup {
					t.Errorf("two acknowledged rotations got version %d", v)
				}
				byVersion[v] = d
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	const n = writers * rotations
	for v := int64(1); v <= n; v++ {
		if _, ok := byVersion[v]; !ok {
			t.Errorf("no acknowledged rotation got version %d of %d", v, n)
		}
	}
	for _, s := range stores {
		err := s.View(t.Context(), func(tx rekey.Tx) error {
			keys, err := tx.Keys("/owner")
			if err != nil {
				return err
			}
			if len(keys) != 1 {
				t.Fatalf("Keys = %d slots, want 1", len(keys))
			}
			k := keys[0]
			if k.Version != n || k.Digest != byVersion[n] || k.Previous != byVersion[n-1] {
				t.Errorf("slot at version %d (digest matches last acknowledged: %v, previous matches the one before: %v); want version %d",
					k.Version, k.Digest == byVersion[n], k.Previous == byVersion[n-1], n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrentCreatesOfOneName: two replicas create an endpoint of the
// same name in two workspaces at once, many times over. Each time exactly
// one succeeds and the other gets Conflict, as on one process; never a
// raw unique-constraint error.
func TestConcurrentCreatesOfOneName(t *testing.T) {
	url := pgtest.URL(t)
	stores := []*postgres.Store{open(t, url), open(t, url)}
	ws := []rekey.WorkspaceID{
		{Subscription: "00000000-0000-0000-0000-000000000001", ResourceGroup: "rg", Name: "a"},
		{Subscription: "00000000-0000-0000-0000-000000000001", ResourceGroup: "rg", Name: "b"},
	}
	for i, w := range ws {
		err := stores[i].Update(t.Context(), func(tx rekey.Tx) error { _, err := tx.PutWorkspace(&rekey.Workspace{ID: w}); return err })
		if err != nil {
			t.Fatal(err)
		}
	}
	for round := range 20 {
		name := fmt.Sprintf("ep-%d", round)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				errs[i] = stores[i].Update(t.Context(), func(tx rekey.Tx) error {
					_, err := tx.PutEndpoint(&rekey.Endpoint{ID: rekey.EndpointID{Workspace: ws[i], Name: name}})
					return err
				})
			})
		}
		wg.Wait()
		ok, conflict := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case rekey.ErrorCode(err) == rekey.Conflict:
				conflict++
			default:
				t.Errorf("round %d: PutEndpoint = %v, want nil or Conflict", round, err)
			}
		}
		if ok != 1 || conflict != 1 {
			t.Errorf("round %d: %d created, %d conflicts; want one of each", round, ok, conflict)
		}
	}
}

// TestAssignmentCheckHoldsAgainstPrincipalDelete: the role assignment
// handler checks, in its Update, that the principal exists and then puts
// the assignment. A replica deleting that principal meanwhile must wait
// for it (on SQLite writers are serialised), so that the delete then
// removes the new assignment too. Without the lock the delete commits in
// between and leaves an assignment to a principal that no longer exists.
func TestAssignmentCheckHoldsAgainstPrincipalDelete(t *testing.T) {
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	sp := &rekey.ServicePrincipal{AppID: "app-race", ObjectID: "obj-race", DisplayName: "racer"}
	if err := a.Update(t.Context(), func(tx rekey.Tx) error { _, err := tx.PutServicePrincipal(sp); return err }); err != nil {
		t.Fatal(err)
	}
	checked, deleted := make(chan struct{}), make(chan error, 1)
	go func() {
		<-checked
		deleted <- b.Update(t.Context(), func(tx rekey.Tx) error { return tx.DeleteServicePrincipal(sp.AppID) })
	}()
	once := false
	err := a.Update(t.Context(), func(tx rekey.Tx) error {
		sps, err := tx.ServicePrincipals()
		if err != nil {
			return err
		}
		if len(sps) != 1 {
			return fmt.Errorf("ServicePrincipals() = %d principals, want 1", len(sps))
		}
		if !once {
			once = true
			close(checked)
			// Give the delete every chance to commit in between; with the
			// lock it waits for this transaction instead.
			select {
			case err := <-deleted:
				deleted <- err
			case <-time.After(500 * time.Millisecond):
			}
		}
		return tx.PutRoleAssignment(&rekey.RoleAssignment{ID: "33333333-3333-3333-3333-333333333333", Scope: "/",
			RoleDefinitionID: "acdd72a7-3385-48ef-bd42-f606fba81ae7", PrincipalID: sp.ObjectID, PrincipalType: "ServicePrincipal"})
	})
	if err != nil {
		t.Fatalf("the assignment's Update: %v", err)
	}
	if err := <-deleted; err != nil {
		t.Fatalf("DeleteServicePrincipal: %v", err)
	}
	var left []*rekey.RoleAssignment
	a.View(t.Context(), func(tx rekey.Tx) (err error) { left, err = tx.RoleAssignments(); return err })
	if len(left) != 0 {
		t.Errorf("after the principal's delete, %d role assignments are left to it, want 0", len(left))
	}
}

// TestAuditSeqIsCommitOrder: a reader pages the audit log back by Seq
// (Before), so a record must never commit after one with a larger Seq;
// it would be passed over for good. One replica appends a record and
// holds its transaction open while another appends: the second must wait
// for the first to commit, and get the larger Seq.
func TestAuditSeqIsCommitOrder(t *testing.T) {
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	appended, bDone := make(chan struct{}), make(chan struct{})
	var second rekey.AuditRecord
	var bErr error
	go func() {
		defer close(bDone)
		<-appended
		second = rekey.AuditRecord{Time: time.Now(), Action: "second"}
		bErr = b.Update(t.Context(), func(tx rekey.Tx) error { return tx.AppendAudit(&second) })
	}()
	var first rekey.AuditRecord
	once, overtaken := false, false
	err := a.Update(t.Context(), func(tx rekey.Tx) error {
		first = rekey.AuditRecord{Time: time.Now(), Action: "first"}
		if err := tx.AppendAudit(&first); err != nil {
			return err
		}
		if !once {
			once = true
			close(appended)
			// Give the other append every chance to commit while this
			// transaction is open; with the lock it waits instead.
			select {
			case <-bDone:
				overtaken = true
			case <-time.After(500 * time.Millisecond):
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	<-bDone
	if bErr != nil {
		t.Fatal(bErr)
	}
	if overtaken {
		t.Errorf("an audit record (Seq %d) committed while one appended before it (Seq %d) was still open", second.Seq, first.Seq)
	}
	if second.Seq <= first.Seq {
		t.Errorf("the audit record committed second has Seq %d, the first %d: Seq order is not commit order", second.Seq, first.Seq)
	}
}
