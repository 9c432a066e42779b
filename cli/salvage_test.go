package cli

import (
	"bytes"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestVerifyNamesGaps removes records from the middle of one chain: verify
// exits 1 with one GAP line per run of missing records, naming where the
// chain resumes, and still checks the other chains.
func TestVerifyNamesGaps(t *testing.T) {
	db, _ := testDB(t, 60)
	bdb, err := bolt.Open(db, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		// g1 is property number 1: its 30 records in key (time) order,
		// which is also commit order here.
		b := tx.Bucket([]byte("ev"))
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.Seek([]byte{0, 0, 0, 1}); k != nil && bytes.HasPrefix(k, []byte{0, 0, 0, 1}); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, i := range []int{3, 4, 9} {
			if err := b.Delete(keys[i]); err != nil {
				return err
			}
		}
		return nil
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli("verify", "--db", db)
	// g1 holds seq 1, 4, 5, 8, 9, 12, …, 17, 20, 21: the 4th and 5th are
	// seq 8 and 9, the 10th seq 20.
	for _, want := range []string{
		"FAILED  discord:g1  27 records  2 gaps",
		"GAP     discord:g1  records seq 6–9 missing: removed or lost (chain resumes at seq 12)",
		"GAP     discord:g1  records seq 18–20 missing: removed or lost (chain resumes at seq 21)",
		"OK      discord:g2",
		"OK      telegram:-100",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 || !strings.Contains(errs, db) {
		t.Errorf("verify with gaps: exit %d, %s", code, errs)
	}
}
