package store

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// checkFile runs bbolt's own consistency check (every page reachable or
// free, none both) on a closed file.
func checkFile(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt check: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func verifyAll(t *testing.T, s *Store, wantRecords int) {
	t.Helper()
	vs, err := s.VerifyAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, v := range vs {
		if !v.OK {
			t.Errorf("%s %s: %s (seq %d)", v.Platform, v.Property, v.Problem, v.BadSeq)
		}
		total += int(v.Records)
	}
	if total != wantRecords {
		t.Errorf("verified %d records, want %d", total, wantRecords)
	}
}

// TestStoreWrittenWithoutSyncedFreelistUpgrades writes a store the way
// releases before the synced freelist did (NoFreelistSync, erased records
// leaving free pages), then opens it with the current options: it must
// verify, answer queries as before, keep accepting events, and come out
// with a synced freelist that bbolt's check accepts. It also opens the
// upgraded file the old way, as the previous release would.
func TestStoreWrittenWithoutSyncedFreelistUpgrades(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	rng := rand.New(rand.NewPCG(31, 32))
	evs := genEvents(rng, 3000)

	old, err := Open(path, Options{NoSync: true, noFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, old, evs, 200)
	pr := testProps[0]
	if _, err := old.Erase(ctx, pr.p, pr.id, "u1"); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if freelistSynced(path) {
		t.Fatal("the old-style store has a synced freelist: the test writes nothing old")
	}

	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	verifyAll(t, s, len(evs))
	for range 50 {
		q := randQuery(rng)
		page, err := s.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want := brute(evs, q)
		if limit, _ := q.Validate(); len(want) > limit {
			want = want[:limit]
		}
		if len(page.Events) != len(want) {
			t.Fatalf("query %+v: %d results, want %d", q, len(page.Events), len(want))
		}
		for i, e := range page.Events {
			if e.ID != want[i] {
				t.Fatalf("query %+v: result %d is %s, want %s", q, i, e.ID, want[i])
			}
		}
	}
	more := genEvents(rng, 500)
	appendAll(t, s, more, 100)
	verifyAll(t, s, len(evs)+len(more))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !freelistSynced(path) {
		t.Fatal("the upgraded store has no synced freelist")
	}
	checkFile(t, path)

	prev, err := Open(path, Options{NoSync: true, noFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	verifyAll(t, prev, len(evs)+len(more))
	if err := prev.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path)
}
