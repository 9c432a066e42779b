package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// Distinctive personal data: nothing else in a database contains these.
const (
	eraseName    = "Quenneville-Marchetti"
	eraseText    = "zebra-lantern-confession"
	purgeText    = "orchid-ledger-whisper"
	otherText    = "ordinary chatter about the weather"
	eraseUser    = "777000111"
	eraseProp    = "100000000000000001"
	testStateNS  = "test/profile"
	testStateNS2 = "test/seen"
)

func init() {
	RegisterUserState(
		UserState{NS: testStateNS, Key: func(p audit.Platform, prop, user string) []byte { return []byte(prop + "/" + user) }},
		UserState{NS: testStateNS2, Prefix: true, Key: func(p audit.Platform, prop, user string) []byte { return []byte(prop + "/" + user + "/") }},
	)
}

// fillForErasure records n messages of the erased user, n messages of
// others that purge will delete (old, purgeText), and n kept messages of
// others, interleaved, plus the user's per-user state.
func fillForErasure(t testing.TB, s *Store, n int) {
	t.Helper()
	old := time.Now().AddDate(0, 0, -200)
	var evs []*audit.Event
	for i := range n {
		evs = append(evs,
			&audit.Event{Time: time.Now().Add(-time.Duration(n-i) * time.Second), Platform: audit.Discord, PropertyID: eraseProp,
				Type: audit.ChatMessage, PlatformType: "MESSAGE_CREATE", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
				ActorID: eraseUser, ActorName: eraseName, ChannelID: "42", MessageID: fmt.Sprint(900000 + i),
				Content: fmt.Sprintf("%s %d", eraseText, i), Params: audit.Params{"display_name": eraseName},
				Attachments: []audit.Attachment{{Name: eraseName + ".png", URL: "https://cdn.example/" + eraseText, Size: 10}}},
			&audit.Event{Time: old.Add(time.Duration(i) * time.Second), Platform: audit.Discord, PropertyID: eraseProp,
				Type: audit.ChatMessage, PlatformType: "MESSAGE_CREATE", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
				ActorID: "555", ActorName: "someone", ChannelID: "42", MessageID: fmt.Sprint(100000 + i),
				Content: fmt.Sprintf("%s %d", purgeText, i)},
			&audit.Event{Time: time.Now().Add(-time.Duration(n-i) * time.Second), Platform: audit.Discord, PropertyID: eraseProp,
				Type: audit.ChatMessage, PlatformType: "MESSAGE_CREATE", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
				ActorID: "556", ActorName: "someone else", ChannelID: "42", MessageID: fmt.Sprint(500000 + i),
				Content: fmt.Sprintf("%s %d", otherText, i)},
		)
	}
	appendAll(t, s, evs, 64)
	for _, kv := range [][2]string{{testStateNS, eraseProp + "/" + eraseUser}, {testStateNS2, eraseProp + "/" + eraseUser + "/join"}, {testStateNS2, eraseProp + "/" + eraseUser + "/leave"}} {
		if err := s.Put(kv[0], []byte(kv[1]), []byte(`{"name":"`+eraseName+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
}

func hits(b []byte, needles ...string) int {
	n := 0
	for _, s := range needles {
		n += bytes.Count(b, []byte(s))
	}
	return n
}

func fileHits(t *testing.T, path string, needles ...string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return hits(b, needles...)
}

func backupHits(t *testing.T, s *Store, needles ...string) int {
	t.Helper()
	var buf bytes.Buffer
	if _, err := s.Backup(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	return hits(buf.Bytes(), needles...)
}

// TestEraseAndPurgeReachTheBytes: after Erase and Purge return, neither the
// database file nor a backup taken afterwards holds a byte of what they
// removed, while the rest is still there and the chain verifies.
func TestEraseAndPurgeReachTheBytes(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	fillForErasure(t, s, 3000)
	if got := fileHits(t, s.Path(), eraseText); got < 3000 {
		t.Fatalf("before erasure the file holds %d copies of the text, want >= 3000 (the test would prove nothing)", got)
	}

	n, err := s.Erase(ctx, audit.Discord, eraseProp, eraseUser)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3000 {
		t.Fatalf("erased %d records, want 3000", n)
	}
	if got := fileHits(t, s.Path(), eraseText, eraseName); got != 0 {
		t.Errorf("after erase the database file holds %d copies of the erased text or name", got)
	}
	if got := backupHits(t, s, eraseText, eraseName); got != 0 {
		t.Errorf("a backup taken after erase holds %d copies of the erased text or name", got)
	}
	for _, ns := range []string{testStateNS, testStateNS2} {
		_ = s.ScanKV(ns, nil, func(k, _ []byte) error { t.Errorf("per-user state %s/%s survived the erasure", ns, k); return nil })
	}

	before := time.Now().AddDate(0, 0, -100)
	if n, err := s.Purge(ctx, audit.Discord, eraseProp, before); err != nil || n != 3000 {
		t.Fatalf("purge: %d, %v; want 3000 records", n, err)
	}
	if got := fileHits(t, s.Path(), purgeText); got != 0 {
		t.Errorf("after purge the database file holds %d copies of purged text", got)
	}
	if got := backupHits(t, s, purgeText); got != 0 {
		t.Errorf("a backup taken after purge holds %d copies of purged text", got)
	}
	// What was neither erased nor purged is still there, and verifies.
	if got := backupHits(t, s, otherText); got != 3000 {
		t.Errorf("the backup holds %d kept messages, want 3000", got)
	}
	v, err := s.Verify(ctx, audit.Discord, eraseProp)
	if err != nil || !v.OK {
		t.Fatalf("verify after erase and purge: %+v, %v", v, err)
	}
}

// TestEraseWithoutScrubLeavesBytes shows what the scrub is for: the
// record changes alone leave the erased bytes in free pages.
func TestEraseWithoutScrubLeavesBytes(t *testing.T) {
	s := openTest(t)
	fillForErasure(t, s, 1000)
	if _, err := s.eraseRecords(context.Background(), audit.Discord, eraseProp, eraseUser); err != nil {
		t.Fatal(err)
	}
	if got := fileHits(t, s.Path(), eraseText); got == 0 {
		t.Fatal("erasing records without a scrub left no copies: the scrub test above proves nothing")
	}
	st, err := s.Scrub(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Zeroed == 0 {
		t.Errorf("scrub zeroed no pages: %+v", st)
	}
	if got := fileHits(t, s.Path(), eraseText); got != 0 {
		t.Errorf("after the scrub the file holds %d copies", got)
	}
}

// TestScrubWaitsForReaders: a read transaction that began before the
// erasure still sees the erased records, so their pages are not zeroed
// under it; the scrub finishes once it ends.
func TestScrubWaitsForReaders(t *testing.T) {
	s := openTest(t)
	fillForErasure(t, s, 500)
	tx, err := s.db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.eraseRecords(context.Background(), audit.Discord, eraseProp, eraseUser); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Scrub(context.Background()); done <- err }()
	// The old reader still reads every erased message intact.
	seen := 0
	c := tx.Bucket(bEvents).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		seen += bytes.Count(v, []byte(eraseText))
	}
	if seen != 1000 { // the text is in the content and the attachment URL
		t.Errorf("the reader that began before the erasure saw %d copies of the erased text, want 1000", seen)
	}
	tx.Rollback()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := fileHits(t, s.Path(), eraseText); got != 0 {
		t.Errorf("after the reader ended and the scrub finished the file holds %d copies", got)
	}
}
