package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// TestDamagedPagesGiveErrors damages random pages of a real database
// (a scrambled page header, a flipped byte, a zeroed page; meta pages
// too) and runs the tools on each copy: none panics, and each either
// succeeds or fails with an error naming the file. salvage then copies
// the damaged file: every record in the copy is one that was written,
// with its hash; a copy missing any record is a salvage that exits 1 and
// names a page; and verify on the copy passes exactly when salvage
// lost nothing of the chains, else names the gaps. (store's
// TestSalvageRecoversUndamagedPages checks that every record on an
// undamaged page is copied.)
func TestDamagedPagesGiveErrors(t *testing.T) {
	dir := t.TempDir()
	pristine := filepath.Join(dir, "pristine.db")
	s, err := store.Open(pristine, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var all []*audit.Event
	for i := 0; i < 4000; i += 200 {
		var evs []*audit.Event
		for j := range 200 {
			evs = append(evs, &audit.Event{Time: time.Now().Add(-time.Duration(4000-i-j) * time.Minute), Platform: audit.Discord,
				PropertyID: fmt.Sprint(100 + (i+j)%3), Type: audit.ChatMessage, PlatformType: "MESSAGE_CREATE",
				Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: fmt.Sprint(1000 + j%50), ActorName: "member",
				ChannelID: "7", MessageID: fmt.Sprint(i + j), Content: strings.Repeat("text ", 1+j%40)})
		}
		if err := s.Append(context.Background(), &recorder.Batch{Events: evs}); err != nil {
			t.Fatal(err)
		}
		all = append(all, evs...)
	}
	s.Close()
	written := map[audit.ID]*audit.Event{}
	for _, e := range all {
		written[e.ID] = e
	}
	orig, err := os.ReadFile(pristine)
	if err != nil {
		t.Fatal(err)
	}
	const pageSize = 4096
	pages := len(orig) / pageSize
	rng := rand.New(rand.NewPCG(19, 19))
	failures := 0
	for round := range 60 {
		b := bytes.Clone(orig)
		page := 2 + rng.IntN(pages-2)
		if round%10 == 9 {
			page = rng.IntN(2) // a meta page
		}
		off := page * pageSize
		kind := round % 3
		switch kind {
		case 0: // the page header: id, flags, count, overflow
			for i := range 16 {
				b[off+i] = byte(rng.Uint32())
			}
		case 1:
			b[off+rng.IntN(pageSize)] ^= byte(1 + rng.IntN(255))
		case 2:
			clear(b[off : off+pageSize])
		}
		path := filepath.Join(dir, fmt.Sprintf("damaged-%02d.db", round))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"verify", "--db", path},
			{"logs", "--db", path, "--limit", "1000"},
			{"export", "--db", path, "--property", "101", "--out", filepath.Join(dir, "export.ndjson")},
			{"backup", "--db", path, "--out", filepath.Join(dir, "backup.db")},
		} {
			var stdout, stderr bytes.Buffer
			code := Run(args, &stdout, &stderr) // a panic fails the test
			switch {
			case code == 1:
				failures++
				if !strings.Contains(stderr.String(), path) {
					t.Errorf("round %d (page %d, damage %d): %s failed without naming the file: %s", round, page, kind, args[0], stderr.String())
				}
			case code != 0:
				t.Errorf("round %d: %s exited %d: %s", round, args[0], code, stderr.String())
			}
		}
		if round%6 == 0 || round%10 == 9 || *allSalvage { // every sixth copy, and every damaged meta page
			// A damaged meta page loses nothing: the other one reads
			// the commit before, and the last commit's records are
			// found by their sequence numbers.
			lost := checkSalvage(t, fmt.Sprintf("round %d (page %d, damage %d)", round, page, kind), path, filepath.Join(dir, fmt.Sprintf("salvaged-%02d.db", round)), written)
			if page < 2 && lost > 0 {
				t.Errorf("round %d: damage to meta page %d lost %d records", round, page, lost)
			}
		}
		// What `run` does first: open the file for writing.
		func() {
			s, err := store.Open(path, store.Options{NoSync: true})
			if err != nil {
				if !strings.Contains(err.Error(), path) {
					t.Errorf("round %d: open for writing failed without naming the file: %v", round, err)
				}
				return
			}
			s.Close()
		}()
	}
	if failures == 0 {
		t.Fatal("no damaged copy made any tool fail: the damage reached nothing")
	}
	t.Logf("%d tool runs failed with an error naming the file", failures)
}

// checkSalvage salvages the damaged file at path to out through the CLI
// and checks the copy against the records written.
func checkSalvage(t *testing.T, what, path, out string, written map[audit.ID]*audit.Event) (lost int) {
	t.Helper()
	code, stdout, stderr := cli("salvage", "--db", path, "--out", out)
	switch {
	case code == 1 && !strings.Contains(stderr, path):
		t.Errorf("%s: salvage failed without naming the file: %s", what, stderr)
	case code != 0 && code != 1:
		t.Errorf("%s: salvage exited %d: %s", what, code, stderr)
	}
	if _, err := os.Stat(out); err != nil {
		if code == 0 {
			t.Errorf("%s: salvage succeeded without writing %s", what, out)
		}
		return len(written)
	}
	if code == 1 && !pageNamed.MatchString(stdout) {
		t.Errorf("%s: salvage lost something without naming a page:\n%s", what, stdout)
	}
	s, err := store.Open(out, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("%s: open the copy: %v", what, err)
	}
	defer s.Close()
	missing := map[string]int{}
	for _, e := range written {
		missing[e.PropertyID]++
	}
	for _, p := range s.Properties() {
		q := store.Query{Platform: p.Platform, Property: p.ID, Limit: store.MaxLimit}
		for {
			page, err := s.Query(context.Background(), q)
			if err != nil {
				t.Fatalf("%s: query the copy: %v", what, err)
			}
			for _, e := range page.Events {
				w := written[e.ID]
				if w == nil || w.PropertyID != e.PropertyID || !bytes.Equal(w.Hash, e.Hash) || w.Content != e.Content {
					t.Fatalf("%s: the copy holds a record that was not written: %+v", what, e)
				}
				missing[e.PropertyID]--
			}
			if page.Older == "" {
				break
			}
			q.Cursor = page.Older
		}
	}
	for _, n := range missing {
		lost += n
	}
	if lost > 0 && code == 0 {
		t.Errorf("%s: %d records are not in the copy, yet salvage exited 0:\n%s", what, lost, stdout)
	}
	vcode, vout, _ := cli("verify", "--db", out)
	if code == 0 && vcode != 0 {
		t.Errorf("%s: salvage lost nothing, yet verify fails on the copy:\n%s", what, vout)
	}
	for prop, n := range missing {
		if n > 0 && strings.Contains(vout, "discord:"+prop+" ") && !strings.Contains(vout, "GAP     discord:"+prop) {
			t.Errorf("%s: %d records of %s are not in the copy, verify names no gap:\n%s", what, n, prop, vout)
		}
	}
	os.Remove(out)
	return lost
}

var allSalvage = flag.Bool("damaged.all", false, "TestDamagedPagesGiveErrors salvages every damaged copy, not every sixth")

var pageNamed = regexp.MustCompile(`page \d+`)
