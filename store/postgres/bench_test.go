package postgres_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/store/postgres/pgtest"
	"github.com/rekey-dev/rekey/store/sqlite"
)

// BenchmarkDurableRotations measures committed key rotations per second at
// the store, as a regeneration writes them (the key and its operation in
// one transaction, then the operation's completion in another), from 16
// concurrent writers on 16 owners: on SQLite and on PostgreSQL. The HTTP
// figure is internal/cli's BenchmarkRegenerateThroughput.
//
//	go test ./store/postgres -run '^$' -bench DurableRotations -benchtime 5000x
func BenchmarkDurableRotations(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "rekey.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchRotations(b, s)
	})
	b.Run("postgres", func(b *testing.B) { benchRotations(b, open(b, pgtest.URL(b))) })
}

func benchRotations(b *testing.B, s rekey.Store) {
	var next atomic.Int64
	b.SetParallelism(8) // 8 × GOMAXPROCS(2) = 16 writers
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		owner := fmt.Sprintf("/owner/%d", next.Add(1))
		for i := 0; pb.Next(); i++ {
			now := time.Now()
			op := &rekey.Operation{ID: fmt.Sprintf("%s/%d", owner, i), Status: rekey.OpInProgress, CreatedAt: now, NotBefore: now}
			err := s.Update(b.Context(), func(tx rekey.Tx) error {
				d := rekey.Digest{byte(i), byte(i >> 8)}
				if _, err := tx.PutKey(rekey.StoredKey{Resource: owner, Slot: rekey.Primary, Ciphertext: d[:], Digest: d, UpdatedAt: now}); err != nil {
					return err
				}
				return tx.PutOperation(op)
			})
			if err == nil {
				op.Status, op.EndedAt = rekey.OpSucceeded, time.Now()
				err = s.Update(b.Context(), func(tx rekey.Tx) error { return tx.PutOperation(op) })
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rotations/s")
}
