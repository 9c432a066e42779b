package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/store"
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

// TestSalvageReportsWhatItLost zeroes one page of records: salvage writes
// the copy, names the page and its bucket, counts the records each
// community lost, names the gaps, and exits 1; verify on the copy names
// the same gaps. An intact file salvages with exit 0 and loses nothing.
func TestSalvageReportsWhatItLost(t *testing.T) {
	db, evs := testDB(t, 3000)
	dir := t.TempDir()
	good := filepath.Join(dir, "intact-copy.db")
	code, out, errs := cli("salvage", "--db", db, "--out", good)
	if code != 0 || !strings.Contains(out, "wrote "+good+": 3000 records of 3 communities") || !strings.Contains(out, "all 1500 records") {
		t.Fatalf("salvage of an intact file: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := cli("verify", "--db", good); code != 0 {
		t.Fatalf("verify of the intact copy: exit %d\n%s", code, out)
	}

	// Find a leaf page of the ev bucket in the middle of the file: its
	// records are what the damage takes.
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	const pageSize = 4096
	var leaves []int
	for p := 2; p < len(raw)/pageSize; p++ {
		b := raw[p*pageSize:]
		if b[8] == 0x02 && int(b[10])|int(b[11])<<8 > 10 && bytes.Contains(b[:pageSize], []byte("message ")) {
			leaves = append(leaves, p)
		}
	}
	if len(leaves) < 3 {
		t.Fatalf("%d leaf pages of records found", len(leaves))
	}
	page := leaves[len(leaves)/2]
	clear(raw[page*pageSize : (page+1)*pageSize])
	bad := filepath.Join(dir, "bad.db")
	if err := os.WriteFile(bad, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "copy.db")
	code, out, errs = cli("salvage", "--db", bad, "--out", copyPath)
	for _, want := range []string{
		"could not read 1 page:",
		fmt.Sprintf("page %d (bucket ev): its header names page 0", page),
		"records (", // "1234 of 1500 records (N lost)"
		"missing: removed or lost (chain resumes at seq",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("salvage output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 || !strings.Contains(errs, bad) || !strings.Contains(errs, copyPath) {
		t.Errorf("salvage with losses: exit %d, %s", code, errs)
	}
	vcode, vout, _ := cli("verify", "--db", copyPath)
	if vcode != 1 || !strings.Contains(vout, "GAP     ") {
		t.Errorf("verify of the salvaged copy: exit %d\n%s", vcode, vout)
	}
	s, err := store.Open(copyPath, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The copy's counts stay the source's (they count the records lost):
	// count what its chains hold.
	vs, err := s.VerifyAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, v := range vs {
		kept += int(v.Records)
	}
	if lost := len(evs) - kept; lost <= 0 || lost > pageSize/16 {
		t.Errorf("%d records lost with one page", lost)
	}

	for _, args := range [][]string{
		{"salvage"},
		{"salvage", "--db", bad},
		{"salvage", "--out", copyPath},
	} {
		if code, _, _ := cli(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errs := cli("salvage", "--db", bad, "--out", copyPath); code != 1 || !strings.Contains(errs, "exists") {
		t.Errorf("salvage onto an existing file: exit %d %s", code, errs)
	}
}

// TestSalvageRefusesAFileTheBotHolds: salvage reads a file nothing writes
// to; a running bot's file is refused with what to do, and no copy made.
func TestSalvageRefusesAFileTheBotHolds(t *testing.T) {
	db, _ := testDB(t, 3)
	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := filepath.Join(t.TempDir(), "copy.db")
	code, _, errs := cli("salvage", "--db", db, "--out", out)
	if code != 1 || !strings.Contains(errs, "stop the bot") || !strings.Contains(errs, db) {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a copy was made of a file the bot holds")
	}
}
