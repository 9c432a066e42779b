package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// onePropertyStore returns a closed store file with n events of one
// property, and the events.
func onePropertyStore(t *testing.T, n int) (string, []*audit.Event) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chain.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(21, 22))
	evs := make([]*audit.Event, n)
	for i := range evs {
		evs[i] = genEvent(rng)
		evs[i].Platform, evs[i].PropertyID = audit.Discord, "g"
		if i%7 == 0 { // another property interleaved in the commit order
			evs[i].PropertyID = "other"
		}
	}
	appendAll(t, s, evs, 37)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, evs
}

func verifyFile(t *testing.T, path string) Verification {
	t.Helper()
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.Verify(context.Background(), audit.Discord, "g")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// tamper edits the raw database file.
func tamper(t *testing.T, path string, fn func(ev *bolt.Bucket, keys [][]byte)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		ev := tx.Bucket(bEvents)
		var keys [][]byte
		// Property "g" is number 1 or 2: the one with more records.
		prefix := u32(1)
		counts := map[uint32]int{}
		_ = ev.ForEach(func(k, v []byte) error { counts[be32(k)]++; return nil })
		if counts[2] > counts[1] {
			prefix = u32(2)
		}
		c := ev.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		fn(ev, keys)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(t *testing.T, ev *bolt.Bucket, keys [][]byte) []byte // returns the key expected to be reported (nil: head)
		problem string
	}{
		{"content altered", func(t *testing.T, ev *bolt.Bucket, keys [][]byte) []byte {
			k := keys[len(keys)/2]
			v := bytes.Clone(ev.Get(k))
			v[len(v)-3] ^= 0x20 // inside the personal part
			must(t, ev.Put(k, v))
			return k
		}, "altered"},
		{"actor altered", func(t *testing.T, ev *bolt.Bucket, keys [][]byte) []byte {
			k := keys[10]
			v := bytes.Clone(ev.Get(k))
			i := bytes.Index(v, []byte("u"))
			v[i+1] = 'X'
			must(t, ev.Put(k, v))
			return k
		}, "altered"},
		{"record removed", func(t *testing.T, ev *bolt.Bucket, keys [][]byte) []byte {
			must(t, ev.Delete(keys[20]))
			return nil // reported at its successor in commit order
		}, "removed"},
		{"newest removed", func(t *testing.T, ev *bolt.Bucket, keys [][]byte) []byte {
			// the newest in commit order is the one with the largest seq
			var best []byte
			var bestSeq uint64
			for _, k := range keys {
				var r record
				must(t, decodeRecord(ev.Get(k), &r))
				if r.ev.Seq > bestSeq {
					best, bestSeq = k, r.ev.Seq
				}
			}
			must(t, ev.Delete(best))
			return nil
		}, "newest"},
		{"record undecodable", func(t *testing.T, ev *bolt.Bucket, keys [][]byte) []byte {
			k := keys[30]
			v := bytes.Clone(ev.Get(k))
			v[0] = 9 // an unknown version
			must(t, ev.Put(k, v))
			return k
		}, "cannot be decoded"},
		{"two records swapped", func(t *testing.T, ev *bolt.Bucket, keys [][]byte) []byte {
			a, b := bytes.Clone(ev.Get(keys[5])), bytes.Clone(ev.Get(keys[30]))
			must(t, ev.Put(keys[5], b))
			must(t, ev.Put(keys[30], a))
			return nil
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := onePropertyStore(t, 400)
			if v := verifyFile(t, path); !v.OK {
				t.Fatalf("untouched chain fails: %+v", v)
			}
			var want []byte
			tamper(t, path, func(ev *bolt.Bucket, keys [][]byte) { want = tc.edit(t, ev, keys) })
			v := verifyFile(t, path)
			if v.OK {
				t.Fatal("tampering not detected")
			}
			if want != nil && !bytes.Equal(v.BadID[:], want[4:]) {
				t.Errorf("reported %s (%s), want the altered record %x", v.BadID, v.Problem, want[4:])
			}
			if !strings.Contains(v.Problem, tc.problem) {
				t.Errorf("problem %q does not say %q", v.Problem, tc.problem)
			}
			if tc.problem == "cannot be decoded" && len(v.Gaps) > 0 {
				t.Errorf("a record that is there but does not decode is reported as missing: %v", v.Gaps)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestPurgeKeepsChainVerifiable(t *testing.T) {
	s := openTest(t)
	rng := rand.New(rand.NewPCG(31, 32))
	var evs []*audit.Event
	for i := 0; i < 12000; i++ {
		e := genEvent(rng)
		e.Platform, e.PropertyID = audit.Telegram, "-100"
		evs = append(evs, e)
	}
	appendAll(t, s, evs, 500) // random times: purged records are scattered in commit order
	cut := testBase.Add(12 * 24 * time.Hour)
	want := 0
	for _, e := range evs {
		if e.Time.Before(cut) {
			want++
		}
	}
	n, err := s.Purge(context.Background(), audit.Telegram, "-100", cut)
	if err != nil || n != want {
		t.Fatalf("purged %d (%v), want %d", n, err, want)
	}
	v, err := s.Verify(context.Background(), audit.Telegram, "-100")
	if err != nil || !v.OK || v.Records != uint64(len(evs)-want) {
		t.Fatalf("after purge: %+v %v", v, err)
	}
	q := Query{Platform: audit.Telegram, Property: "-100", Until: cut, Limit: 10}
	if page, _ := s.Query(context.Background(), q); len(page.Events) != 0 {
		t.Fatalf("purged records still found: %d", len(page.Events))
	}
	for _, typ := range audit.EventTypes() {
		q := Query{Platform: audit.Telegram, Property: "-100", Types: []audit.EventType{typ}, User: "u3", Limit: 1000}
		for _, e := range pageAll(t, s, q) {
			if e.Time().Before(cut) {
				t.Fatalf("index still points at purged %s", e)
			}
		}
	}
	// New records after a purge chain on, and a second purge of everything.
	more := []*audit.Event{genEvent(rng), genEvent(rng)}
	for _, e := range more {
		e.Platform, e.PropertyID = audit.Telegram, "-100"
	}
	appendAll(t, s, more, 2)
	if v, _ := s.Verify(context.Background(), audit.Telegram, "-100"); !v.OK {
		t.Fatalf("after purge and append: %+v", v)
	}
	if _, err := s.Purge(context.Background(), audit.Telegram, "-100", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Verify(context.Background(), audit.Telegram, "-100"); !v.OK || v.Records != 0 {
		t.Fatalf("after purging everything: %+v", v)
	}
}

func TestEraseRemovesPersonalDataAndKeepsChain(t *testing.T) {
	s := openTest(t)
	rng := rand.New(rand.NewPCG(41, 42))
	var evs []*audit.Event
	for i := 0; i < 3000; i++ {
		e := genEvent(rng)
		e.Platform, e.PropertyID = audit.Discord, "g"
		if e.ActorID == "u7" {
			e.Content = "secret of u7"
		}
		evs = append(evs, e)
	}
	appendAll(t, s, evs, 300)
	want := 0
	for _, e := range evs {
		if e.ActorID == "u7" || containsStr(e.TargetIDs, "u7") {
			want++
		}
	}
	n, err := s.Erase(context.Background(), audit.Discord, "g", "u7")
	if err != nil || n != want {
		t.Fatalf("erased %d (%v), want %d", n, err, want)
	}
	if v, _ := s.Verify(context.Background(), audit.Discord, "g"); !v.OK {
		t.Fatalf("after erase: %+v", v)
	}
	page, err := s.Query(context.Background(), Query{Platform: audit.Discord, Property: "g", User: "u7", Limit: 1000})
	if err != nil || len(page.Events) == 0 {
		t.Fatalf("erased records must stay queryable by id: %v", err)
	}
	for _, e := range page.Events {
		if !e.Redacted || e.Content != "" || e.ActorName != "" || len(e.Params) != 0 || len(e.Attachments) != 0 {
			t.Fatalf("record not erased: %+v", e)
		}
	}
	if n, _ := s.Erase(context.Background(), audit.Discord, "g", "u7"); n != 0 {
		t.Fatalf("second erase changed %d records", n)
	}
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestOpenLockedFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second open: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("second open took %s", d)
	}
}

func TestOutbox(t *testing.T) {
	s := openTest(t)
	var evs []*audit.Event
	var routes [][]recorder.Route
	for i := 0; i < 30; i++ {
		e := &audit.Event{Platform: audit.Discord, PropertyID: "g", Type: audit.UserJoin, Function: audit.FuncGateway,
			ActorType: audit.ActorNonAdmin, ActorID: "u", Time: testBase.Add(time.Duration(i) * time.Second)}
		evs = append(evs, e)
		rt := []recorder.Route{{Sink: "discord", Target: "log1"}}
		if i%3 == 0 {
			rt = append(rt, recorder.Route{Sink: "discord", Target: "log2"})
		}
		routes = append(routes, rt)
	}
	must(t, s.Append(context.Background(), &recorder.Batch{Events: evs, Routes: routes,
		Cursors: []recorder.Cursor{{Name: "telegram/offset", Value: []byte("42")}}}))
	targets, err := s.OutboxTargets("discord")
	if err != nil || strings.Join(targets, ",") != "log1,log2" {
		t.Fatalf("targets %v %v", targets, err)
	}
	if d, _ := s.OutboxDepth("discord"); d != 40 {
		t.Fatalf("depth %d, want 40", d)
	}
	p, err := s.OutboxPending(context.Background(), "discord", "log1", 25)
	if err != nil || len(p) != 25 || p[0].Event.ID != evs[0].ID || p[24].Event.ID != evs[24].ID {
		t.Fatalf("pending: %d %v", len(p), err)
	}
	keys := make([][]byte, len(p))
	for i, d := range p {
		keys[i] = d.Key
	}
	must(t, s.OutboxDone(context.Background(), keys...))
	if d, _ := s.OutboxDepth("discord"); d != 15 {
		t.Fatalf("depth after done %d, want 15", d)
	}
	if c, _ := s.Cursor("telegram/offset"); string(c) != "42" {
		t.Fatalf("cursor %q", c)
	}
	if d, _ := s.OutboxDepth("telegram"); d != 0 {
		t.Fatalf("telegram depth %d", d)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 5; i++ {
		e := genEvent(rng)
		e.Seq = uint64(i + 1)
		e.Hash = make([]byte, hashLen)
		r := record{ev: *e}
		f.Add(encodeRecord(nil, &r, appendPersonal(nil, e)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r record
		if err := decodeRecord(b, &r); err == nil {
			// What decodes re-encodes to the same bytes.
			out := encodeRecord(nil, &r, appendPersonal(nil, &r.ev))
			if r.ev.Redacted {
				return
			}
			var again record
			if err := decodeRecord(out, &again); err != nil {
				t.Fatalf("re-encoded record does not decode: %v", err)
			}
		}
	})
}

// TestVerifyNamesEveryGap removes the first record of a chain, two runs
// in its middle and its newest records, and alters one record after the
// gaps: Verify names each run by the sequence numbers around it, goes on
// past every gap and still finds the altered record.
func TestVerifyNamesEveryGap(t *testing.T) {
	path, _ := onePropertyStore(t, 400)
	type rec struct {
		key     []byte
		seq     uint64
		prevSeq uint64
	}
	var chain []rec // property g in commit order
	var altered []byte
	tamper(t, path, func(ev *bolt.Bucket, keys [][]byte) {
		for _, k := range keys {
			var r record
			must(t, decodeRecord(ev.Get(k), &r))
			chain = append(chain, rec{k, r.ev.Seq, r.prevSeq})
		}
		slices.SortFunc(chain, func(a, b rec) int { return cmpU64(a.seq, b.seq) })
		// Removed: the first, 40–44, 100, and the newest three.
		for _, i := range []int{0, 40, 41, 42, 43, 44, 100, len(chain) - 3, len(chain) - 2, len(chain) - 1} {
			must(t, ev.Delete(chain[i].key))
		}
		for _, r := range chain[200:] {
			v := bytes.Clone(ev.Get(r.key))
			if i := bytes.Index(v, []byte("hello")); i >= 0 {
				v[i] ^= 0x20 // content: the record still decodes
				must(t, ev.Put(r.key, v))
				altered = r.key
				break
			}
		}
	})
	v := verifyFile(t, path)
	want := []Gap{
		{After: 0, Last: chain[0].seq, Resume: chain[1].seq},
		{After: chain[39].seq, Last: chain[44].seq, Resume: chain[45].seq},
		{After: chain[99].seq, Last: chain[100].seq, Resume: chain[101].seq},
		{After: chain[len(chain)-4].seq, Last: chain[len(chain)-1].seq},
	}
	if len(v.Gaps) != len(want) {
		t.Fatalf("gaps %+v, want %+v", v.Gaps, want)
	}
	for i, g := range v.Gaps {
		g.ResumeID = audit.ID{}
		if g != want[i] {
			t.Errorf("gap %d: %+v, want %+v", i, g, want[i])
		}
	}
	if v.OK || !strings.Contains(v.Problem, "altered") || !bytes.Equal(v.BadID[:], altered[4:]) {
		t.Errorf("the record altered after the gaps: OK %v, %s at %s", v.OK, v.Problem, v.BadID)
	}
	s := v.Gaps[1].String()
	wantText := fmt.Sprintf("records seq %s–%s missing", thousands(chain[39].seq+1), thousands(chain[44].seq))
	if !strings.Contains(s, wantText) || !strings.Contains(s, "resumes at seq "+thousands(chain[45].seq)) {
		t.Errorf("gap text %q does not say %q and where the chain resumes", s, wantText)
	}
	if got := thousands(1204); got != "1,204" {
		t.Errorf("thousands(1204) = %q", got)
	}
}
