package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/settings"
)

var (
	salvageRounds = flag.Int("salvage.rounds", 20, "damaged copies TestSalvageRecoversUndamagedPages makes (try 2000 by hand)")
	salvageSeed   = flag.Uint64("salvage.seed", 19, "seed of the pages and damage TestSalvageRecoversUndamagedPages picks")
)

// salvageSource writes a database of n random records over the test
// properties, with outbox routes, platform cursors, KV state, settings, a
// purge (bridges) and an erasure (redacted records), and ends with a
// commit that holds no record. It returns the file and the live records.
func salvageSource(t *testing.T, n int, seed uint64) (string, []*audit.Event) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "source.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 19))
	var evs []*audit.Event
	for i := 0; i < n; i += 100 {
		b := &recorder.Batch{Cursors: []recorder.Cursor{{Name: "telegram/offset", Value: fmt.Appendf(nil, "%d", i)}},
			State: []recorder.State{{NS: "profiles", Key: fmt.Appendf(nil, "u%d", i%40), Value: []byte("a name")}}}
		for range min(100, n-i) {
			e := genEvent(rng)
			b.Events = append(b.Events, e)
			var routes []recorder.Route
			if rng.IntN(50) == 0 {
				routes = []recorder.Route{{Sink: "discord", Target: "logs"}}
			}
			b.Routes = append(b.Routes, routes)
		}
		if err := s.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, b.Events...)
	}
	p0, p1 := testProps[0], testProps[1]
	purgeBefore := testBase.Add(5 * 24 * time.Hour)
	if _, err := s.Purge(ctx, p0.p, p0.id, purgeBefore); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Erase(ctx, p1.p, p1.id, "u3"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpdateSettings(ctx, p1.p, p1.id, func(c *settings.Community) error { c.RetentionDays = 30; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("tokens", []byte("hash"), []byte("scope")); err != nil { // the last commit: no record
		t.Fatal(err)
	}
	var live []*audit.Event
	for _, e := range evs {
		if e.Platform == p0.p && e.PropertyID == p0.id && e.Time.Before(purgeBefore) {
			continue
		}
		if got, err := s.Get(ctx, e.Platform, e.PropertyID, e.ID); err != nil {
			t.Fatal(err)
		} else {
			live = append(live, got) // erased ones as they are now
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, live
}

func openRO(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSalvageCopiesAnIntactFile salvages an undamaged file: the copy
// answers every query as the original does, record for record, its chains
// verify with the same heads, the state worth keeping is there, the
// original's cursors work on it, and the bot can go on recording into it.
func TestSalvageCopiesAnIntactFile(t *testing.T) {
	ctx := context.Background()
	src, live := salvageSource(t, 3000, 1)
	out := filepath.Join(t.TempDir(), "copy.db")
	rep, err := Salvage(ctx, src, out)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete() || rep.Records != len(live) || len(rep.Damaged) != 0 {
		t.Fatalf("report of an intact file: complete %v, %d records of %d: %+v", rep.Complete(), rep.Records, len(live), rep)
	}
	if rep.Bridges == 0 || rep.Outbox == 0 || rep.Settings != 1 || rep.Cursors != 1 || rep.KV == 0 {
		t.Errorf("state copied: %d bridges, %d outbox, %d settings, %d cursors, %d kv", rep.Bridges, rep.Outbox, rep.Settings, rep.Cursors, rep.KV)
	}
	if _, err := Salvage(ctx, src, out); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("salvage onto an existing file: %v", err)
	}
	orig, cp := openRO(t, src), openRO(t, out)

	for _, e := range live {
		got, err := cp.Get(ctx, e.Platform, e.PropertyID, e.ID)
		if err != nil {
			t.Fatalf("record %s: %v", e.ID, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("record %s differs:\n%+v\n%+v", e.ID, got, e)
		}
	}
	rng := rand.New(rand.NewPCG(3, 3))
	for range 60 {
		q := randQuery(rng)
		if a, b := pageAll(t, orig, q), pageAll(t, cp, q); !slices.Equal(a, b) {
			t.Fatalf("query %+v: the copy answers %d records, the original %d", q, len(b), len(a))
		}
	}
	for _, e := range live[:200] {
		if e.MessageID == "" || (e.Type != audit.ChatMessage && e.Type != audit.ChatMessageEdit) {
			continue
		}
		a, errA := orig.FindMessage(ctx, e.Platform, e.PropertyID, e.MessageID)
		b, errB := cp.FindMessage(ctx, e.Platform, e.PropertyID, e.MessageID)
		if (errA == nil) != (errB == nil) || (errA == nil && a.ID != b.ID) {
			t.Fatalf("message %s: original %v %v, copy %v %v", e.MessageID, a, errA, b, errB)
		}
	}
	vo, err := orig.VerifyAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := cp.VerifyAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vo) != len(vc) {
		t.Fatalf("%d chains in the copy, %d in the original", len(vc), len(vo))
	}
	for i := range vo {
		if !vc[i].OK || vc[i].Head != vo[i].Head || vc[i].Records != vo[i].Records {
			t.Errorf("chain %s: copy %+v, original %+v", vo[i].Property, vc[i], vo[i])
		}
	}
	p1 := testProps[1]
	if a, _ := orig.Settings(ctx, p1.p, p1.id); true {
		if b, err := cp.Settings(ctx, p1.p, p1.id); err != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("settings: %+v (%v), want %+v", b, err, a)
		}
	}
	for _, c := range []struct{ ns, key string }{{"tokens", "hash"}, {"profiles", "u0"}} {
		a, _ := orig.GetKV(c.ns, []byte(c.key))
		if b, err := cp.GetKV(c.ns, []byte(c.key)); err != nil || !bytes.Equal(a, b) {
			t.Errorf("kv %s/%s: %q (%v), want %q", c.ns, c.key, b, err, a)
		}
	}
	if a, _ := orig.Cursor("telegram/offset"); true {
		if b, _ := cp.Cursor("telegram/offset"); !bytes.Equal(a, b) {
			t.Errorf("cursor %q, want %q", b, a)
		}
	}
	if a, _ := orig.OutboxDepth("discord"); true {
		// The deliverer drops an entry whose record was purged: so does
		// Salvage.
		if b, _ := cp.OutboxDepth("discord"); a-rep.OutboxDropped != b || b == 0 {
			t.Errorf("outbox %d, want %d - %d dropped", b, a, rep.OutboxDropped)
		}
	}
	q := Query{Platform: p1.p, Property: p1.id, Limit: 7}
	page, err := orig.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	q.Cursor = page.Older
	if _, err := cp.Query(ctx, q); err != nil {
		t.Errorf("the original's cursor on the copy: %v", err)
	}
	cp.Close()

	// The bot records into the copy: the chains go on.
	w, err := Open(out, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	appendAll(t, w, []*audit.Event{genEvent(rng), genEvent(rng), genEvent(rng)}, 3)
	vs, err := w.VerifyAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if !v.OK {
			t.Errorf("after recording into the copy, %s: %s", v.Property, v.Problem)
		}
	}
}

// queryAll returns every record q matches, page after page.
func queryAll(t *testing.T, s *Store, q Query) []*audit.Event {
	t.Helper()
	var out []*audit.Event
	for {
		page, err := s.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("query %+v: %v", q, err)
		}
		out = append(out, page.Events...)
		if page.Older == "" {
			return out
		}
		q.Cursor = page.Older
	}
}

// pristineMap is where each element of an undamaged file sits: the pages
// from the root to its leaf.
type pristineMap struct {
	records   map[[16]byte][]uint64 // ev key -> pages
	props     map[uint32][]uint64   // property number -> pages of its props entry
	propNums  map[uint32][]uint64   // property number -> pages of its propnum entry
	bridges   map[uint32][]uint64   // property number -> pages of its bridge entries
	freelist  uint64
	root      uint64
	inUse     uint64
	newerMeta int
}

func mapPristine(t *testing.T, path string) pristineMap {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rf, problems, err := openRaw(f, path)
	if err != nil || len(problems) > 0 {
		t.Fatalf("open the pristine file: %v %v", err, problems)
	}
	m := pristineMap{records: map[[16]byte][]uint64{}, props: map[uint32][]uint64{}, propNums: map[uint32][]uint64{}, bridges: map[uint32][]uint64{},
		freelist: rf.meta.freelist, root: rf.meta.root, inUse: rf.meta.hwm, newerMeta: rf.meta.page}
	w := &treeWalker{ctx: context.Background(), rf: rf, seen: map[uint64]bool{}}
	w.visit = func(path []string, k, v []byte, page uint64) error {
		pages := slices.Clone(w.stack)
		switch strings.Join(path, "/") {
		case "ev":
			m.records[[16]byte(k)] = pages
		case "props":
			m.props[binary.BigEndian.Uint32(v)] = pages
		case "propnum":
			m.propNums[binary.BigEndian.Uint32(k)] = pages
		case "bridge":
			num := binary.BigEndian.Uint32(k)
			m.bridges[num] = append(m.bridges[num], pages...)
		}
		return nil
	}
	if err := w.walk(); err != nil || len(w.damaged) > 0 {
		t.Fatalf("walk the pristine file: %v %v", err, w.damaged)
	}
	return m
}

// TestSalvageRecoversUndamagedPages is the fuzz-style test at the
// store's level: it damages one page of a real database at a time (a
// scrambled header, a flipped byte, a zeroed page, random bytes; any page,
// the meta pages, the freelist, the root) and salvages the copy. Salvage
// never fails or panics; every record it copies is one that was written,
// byte for byte (the same hash and contents); every record on a page that
// was not damaged is copied (when a damaged branch page cuts its leaf off
// the tree too), unless the damage took both entries naming its
// community; the copy's chains verify where nothing was lost and name
// gaps where something was; and a loss is reported at the damaged page.
// -salvage.rounds sets the number of damaged copies.
func TestSalvageRecoversUndamagedPages(t *testing.T) {
	ctx := context.Background()
	src, live := salvageSource(t, 2000, 2)
	pm := mapPristine(t, src)
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	s := openRO(t, src)
	nums := map[propKey]uint32{}
	for _, p := range s.Properties() {
		nums[propKey{p.Platform, p.ID}] = s.property(p.Platform, p.ID).num
	}
	s.Close()
	byKey := map[[16]byte]*audit.Event{}
	for _, e := range live {
		var k [16]byte
		binary.BigEndian.PutUint32(k[:], nums[propKey{e.Platform, e.PropertyID}])
		copy(k[4:], e.ID[:])
		byKey[k] = e
	}
	if len(pm.records) != len(live) {
		t.Fatalf("the map holds %d records, %d were written", len(pm.records), len(live))
	}
	const pageSize = 4096
	pages := len(orig) / pageSize
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(*salvageSeed, 3))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("damage picked with -salvage.seed=%d -salvage.rounds=%d", *salvageSeed, *salvageRounds)
		}
	})
	lostRounds, olderNames := 0, 0
	for round := range *salvageRounds {
		b := bytes.Clone(orig)
		var page uint64
		switch round % 10 {
		case 0:
			page = uint64(rng.IntN(2)) // a meta page
		case 1:
			page = pm.freelist
		case 2:
			page = pm.root
		default:
			page = 2 + uint64(rng.IntN(int(pm.inUse)-2))
		}
		off := int(page) * pageSize
		kind := rng.IntN(4)
		switch kind {
		case 0: // the header: id, flags, count, overflow
			for i := range 16 {
				b[off+i] = byte(rng.Uint32())
			}
		case 1:
			b[off+rng.IntN(pageSize)] ^= byte(1 + rng.IntN(255))
		case 2:
			clear(b[off : off+pageSize])
		case 3:
			for i := range pageSize {
				b[off+i] = byte(rng.Uint32())
			}
		}
		what := fmt.Sprintf("round %d (page %d of %d, damage %d)", round, page, pages, kind)
		bad := filepath.Join(dir, fmt.Sprintf("bad-%d.db", round))
		if err := os.WriteFile(bad, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, fmt.Sprintf("good-%d.db", round))
		rep, err := Salvage(ctx, bad, out)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		cp := openRO(t, out)
		got := map[[16]byte]bool{}
		for _, p := range cp.Properties() {
			num := cp.property(p.Platform, p.ID).num
			for _, e := range queryAll(t, cp, Query{Platform: p.Platform, Property: p.ID, Limit: MaxLimit}) {
				var k [16]byte
				binary.BigEndian.PutUint32(k[:], num)
				copy(k[4:], e.ID[:])
				want := byKey[k]
				if want == nil || !reflect.DeepEqual(e, want) {
					t.Fatalf("%s: the copy holds a record that was not written:\n%+v\nwant %+v", what, e, want)
				}
				got[k] = true
			}
		}
		if rep.OlderNames > 0 {
			olderNames++
		}
		if len(got) != rep.Records {
			t.Errorf("%s: the report says %d records, the copy holds %d", what, rep.Records, len(got))
		}
		lostBy := map[string]int{}
		lostSeqs := map[string][]uint64{}
		for k, path := range pm.records {
			if got[k] {
				continue
			}
			e := byKey[k]
			lostBy[e.Platform.String()+":"+e.PropertyID]++
			lostSeqs[e.Platform.String()+":"+e.PropertyID] = append(lostSeqs[e.Platform.String()+":"+e.PropertyID], e.Seq)
			// Even when the damage takes the property table (it sits in
			// the root page), an older copy of it names the community.
			if path[len(path)-1] != page {
				t.Errorf("%s: record %s (leaf page %d, path %v) was not damaged but is not in the copy", what, e.ID, path[len(path)-1], path)
			}
		}
		if len(lostBy) > 0 {
			lostRounds++
			reported := false
			for _, d := range rep.Damaged {
				reported = reported || d.Page == page
			}
			for _, r := range rep.BadRecords {
				reported = reported || r.Page == page
			}
			if !reported || rep.Complete() {
				t.Errorf("%s: %v records lost, the report does not name page %d: %+v", what, lostBy, page, rep)
			}
		}
		vs, err := cp.VerifyAll(ctx)
		if err != nil {
			t.Fatalf("%s: verify the copy: %v", what, err)
		}
		for _, v := range vs {
			key := v.Platform.String() + ":" + v.Property
			// A lost bridge (the hash of a purged record) is a gap too.
			bridgeLost := slices.Contains(pm.bridges[nums[propKey{v.Platform, v.Property}]], page)
			if lostBy[key] == 0 && !v.OK && !bridgeLost {
				t.Errorf("%s: nothing of %s was lost, yet its copy fails: %s", what, key, v.Problem)
			}
			if lostBy[key] > 0 && v.OK && !slices.Contains(pm.props[nums[propKey{v.Platform, v.Property}]], page) {
				t.Errorf("%s: %d records of %s lost (seq %v), yet its copy verifies without a gap: %+v\nreport %+v", what, lostBy[key], key, lostSeqs[key], v, rep)
			}
		}
		cp.Close()
		os.Remove(bad)
		os.Remove(out)
	}
	t.Logf("%d of %d damaged copies lost records; %d named communities from an older property table", lostRounds, *salvageRounds, olderNames)
	if olderNames == 0 {
		t.Error("no damaged root page needed an older copy of the property table")
	}
	if lostRounds == 0 {
		t.Error("no damage reached a record: the test damages nothing that matters")
	}
}

// TestSalvageRefusesWhatIsNotADatabase: a file with no readable meta page
// is an error naming the file, and no copy is left behind.
func TestSalvageRefusesWhatIsNotADatabase(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(bad, bytes.Repeat([]byte("not a database "), 2000), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.db")
	_, err := Salvage(context.Background(), bad, out)
	if err == nil || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("salvage of junk: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("salvage left files behind: %v", entries)
	}
}

// TestSalvageDropsARecordMovedToAnotherCommunity: a damaged key can name
// another community's number. Salvage cannot check such a record's hash
// in the wrong chain (its predecessor is not there), but its neighbours
// in the chains say where it belongs: it is reported and not copied, and
// the community it came from shows the gap.
func TestSalvageDropsARecordMovedToAnotherCommunity(t *testing.T) {
	path, _ := onePropertyStore(t, 400)
	var moved []byte
	tamper(t, path, func(ev *bolt.Bucket, keys [][]byte) {
		k := keys[50]
		v := bytes.Clone(ev.Get(k))
		to := bytes.Clone(k)
		to[3] = 3 - to[3] // property 1 <-> 2
		must(t, ev.Delete(k))
		must(t, ev.Put(to, v))
		moved = to
	})
	out := filepath.Join(t.TempDir(), "copy.db")
	rep, err := Salvage(context.Background(), path, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.BadRecords) != 1 || !bytes.Equal(rep.BadRecords[0].Key, moved) || !strings.Contains(rep.BadRecords[0].Problem, "another community") {
		t.Fatalf("bad records %+v, want the moved one %x", rep.BadRecords, moved)
	}
	cp := openRO(t, out)
	for _, p := range cp.Properties() {
		v, err := cp.Verify(context.Background(), p.Platform, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch p.ID {
		case "g":
			// The count stays the source's: it counts the record lost.
			if len(v.Gaps) != 1 || v.Records+1 != p.Count {
				t.Errorf("g: %+v, want one gap and one record fewer than the count %d", v, p.Count)
			}
		default:
			if !v.OK {
				t.Errorf("%s: %s", p.ID, v.Problem)
			}
		}
	}
}

// TestSalvagePageSpanIsBounded: a damaged overflow count in a large file
// is refused, not read: 4 GiB of "overflow pages" would otherwise be
// allocated and read for one page.
func TestSalvagePageSpanIsBounded(t *testing.T) {
	hdr := make([]byte, 4096)
	binary.LittleEndian.PutUint64(hdr, 5)
	binary.LittleEndian.PutUint16(hdr[8:], pageLeaf)
	binary.LittleEndian.PutUint32(hdr[12:], 1<<20)
	rf := &rawFile{f: onePage(hdr), pageSize: 4096, size: 1 << 42, meta: rawMeta{hwm: 1 << 30}}
	if _, err := rf.page(5, pageLeaf); err == nil || !strings.Contains(err.Error(), "overflow pages are more than") {
		t.Fatalf("a page spanning 4 GiB: %v", err)
	}
}

// onePage reads as a file whose every page is the same.
type onePage []byte

func (p onePage) ReadAt(b []byte, off int64) (int, error) {
	for i := range b {
		b[i] = p[(off+int64(i))%int64(len(p))]
	}
	return len(b), nil
}

// TestSalvageShowsALossBeforeAPurgedRecord: a record lost with a damaged
// page whose successor in the chain was purged leaves no broken link in
// the copy (Verify goes from the record before it to the purged record's
// bridge, which does not say what preceded it); only the chain's count
// says a record is missing. The copy keeps the count the source had, so
// that Verify on it fails, and the report names the loss.
// (TestSalvageRecoversUndamagedPages met this case at random.)
func TestSalvageShowsALossBeforeAPurgedRecord(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "purged.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(41, 42))
	// In commit order: 10 records, then the victim, then one older than
	// the purge's cut (its successor), then 10 more.
	var evs []*audit.Event
	for i := range 22 {
		e := genEvent(rng)
		e.Platform, e.PropertyID = audit.Discord, "g"
		e.Time = testBase.Add(10*24*time.Hour + time.Duration(i)*time.Minute)
		switch i {
		case 10:
			e.Content = "the victim"
		case 11:
			e.Time = testBase
		}
		evs = append(evs, e)
	}
	appendAll(t, s, evs, 22)
	if n, err := s.Purge(ctx, audit.Discord, "g", testBase.Add(24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge: %d records, %v", n, err)
	}
	if v, err := s.Verify(ctx, audit.Discord, "g"); err != nil || !v.OK || v.Records != 21 {
		t.Fatalf("the source before the damage: %+v %v", v, err)
	}
	must(t, s.Close())
	victim := evs[10].ID
	tamper(t, path, func(ev *bolt.Bucket, keys [][]byte) {
		k := append(u32(1), victim[:]...)
		v := bytes.Clone(ev.Get(k))
		i := bytes.Index(v, []byte("the victim"))
		if i < 0 {
			t.Fatalf("the victim's content is not in its record %x", v)
		}
		v[i] = 'T' // decodes, but its hash no longer matches
		must(t, ev.Put(k, v))
	})

	out := filepath.Join(t.TempDir(), "copy.db")
	rep, err := Salvage(ctx, path, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.BadRecords) != 1 || rep.BadRecords[0].Seq != evs[10].Seq || rep.Records != 20 {
		t.Fatalf("report: %d records, bad %+v, want 20 and the victim (seq %d)", rep.Records, rep.BadRecords, evs[10].Seq)
	}
	if rep.Complete() || len(rep.Communities) != 1 || rep.Communities[0].Problem == "" || rep.Communities[0].Expected != 21 {
		t.Errorf("the report does not name the loss: complete %v, %+v", rep.Complete(), rep.Communities)
	}
	cp := openRO(t, out)
	v, err := cp.Verify(ctx, audit.Discord, "g")
	if err != nil {
		t.Fatal(err)
	}
	if v.OK || v.Records != 20 || !strings.Contains(v.Problem, "20 records found, the chain's count says 21") {
		t.Errorf("the copy, one record short, verifies: %+v", v)
	}
	if _, err := cp.Get(ctx, audit.Discord, "g", evs[11].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the purged record in the copy: %v", err)
	}
}

// TestSalvageNamesACommunityByItsRecords: a damaged byte in a
// community's propnum entry gives its number another name than its props
// entry does. The records' hashes cover their community's name: the copy
// takes the name they check with, keeps every record, and reports the
// damaged entry. (TestSalvageRecoversUndamagedPages met this at random:
// the copy held records under the damaged name.)
func TestSalvageNamesACommunityByItsRecords(t *testing.T) {
	ctx := context.Background()
	for _, bucket := range [][]byte{bPropNum, bProps} {
		t.Run(string(bucket), func(t *testing.T) {
			path, evs := onePropertyStore(t, 400)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			must(t, db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucket)
				if string(bucket) == string(bPropNum) {
					return b.ForEach(func(k, v []byte) error {
						if string(v[1:]) != "g" {
							return nil
						}
						return b.Put(bytes.Clone(k), append([]byte{v[0]}, "x"...))
					})
				}
				k := propKeyBytes(audit.Discord, "g")
				v := bytes.Clone(b.Get(k))
				must(t, b.Delete(k))
				return b.Put(propKeyBytes(audit.Discord, "x"), v)
			}))
			must(t, db.Close())

			out := filepath.Join(t.TempDir(), "copy.db")
			rep, err := Salvage(ctx, path, out)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Records != len(evs) || len(rep.BadRecords) != 0 {
				t.Errorf("%d records of %d copied, bad %+v", rep.Records, len(evs), rep.BadRecords)
			}
			if len(rep.Damaged) != 1 || rep.Damaged[0].Bucket != string(bucket) || !strings.Contains(rep.Damaged[0].Problem, `"x"`) {
				t.Errorf("damaged %+v, want the %s entry naming x", rep.Damaged, bucket)
			}
			cp := openRO(t, out)
			var names []string
			for _, p := range cp.Properties() {
				names = append(names, p.ID)
				v, err := cp.Verify(ctx, p.Platform, p.ID)
				if err != nil || !v.OK {
					t.Errorf("%s: %+v %v", p.ID, v, err)
				}
			}
			if slices.Sort(names); !slices.Equal(names, []string{"g", "other"}) {
				t.Errorf("communities in the copy: %v", names)
			}
			for _, e := range evs {
				if _, err := cp.Get(ctx, e.Platform, e.PropertyID, e.ID); err != nil {
					t.Fatalf("record %s of %s: %v", e.ID, e.PropertyID, err)
				}
			}
		})
	}
}

// TestSalvageKeepsOneNumberPerCommunity: a damaged number in a props
// entry gives a community a second number, one without records. The copy
// names the community by the number its records are under, with the
// source's chain head and count, and reports the entry; salvaged again,
// it does the same (a map's order once decided which number the copy's
// props entry named, and mostly the community vanished from it).
func TestSalvageKeepsOneNumberPerCommunity(t *testing.T) {
	ctx := context.Background()
	path, evs := onePropertyStore(t, 400)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := propKeyBytes(audit.Discord, "g")
	var num uint32
	must(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bProps)
		v := bytes.Clone(b.Get(k))
		num = binary.BigEndian.Uint32(v)
		binary.BigEndian.PutUint32(v, 7)
		return b.Put(k, v)
	}))
	must(t, db.Close())
	for i := range 4 {
		out := filepath.Join(t.TempDir(), fmt.Sprintf("copy-%d.db", i))
		rep, err := Salvage(ctx, path, out)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Records != len(evs) || len(rep.Damaged) != 1 || rep.Damaged[0].Bucket != "props" || len(rep.Unattributed) != 0 ||
			!strings.Contains(rep.Damaged[0].Problem, fmt.Sprintf("number 7; the community is number %d", num)) {
			t.Fatalf("salvage %d: %d records of %d, damaged %+v, unattributed %v", i, rep.Records, len(evs), rep.Damaged, rep.Unattributed)
		}
		cp := openRO(t, out)
		n := 0
		for _, p := range cp.Properties() {
			v, err := cp.Verify(ctx, p.Platform, p.ID)
			if err != nil || !v.OK {
				t.Errorf("salvage %d: %s: %+v %v", i, p.ID, v, err)
			}
			n += int(v.Records)
		}
		if n != len(evs) || cp.property(audit.Discord, "g") == nil || cp.property(audit.Discord, "g").num != num {
			t.Fatalf("salvage %d: %d records in the copy's chains, communities %+v", i, n, cp.Properties())
		}
		for _, e := range evs {
			if _, err := cp.Get(ctx, e.Platform, e.PropertyID, e.ID); err != nil {
				t.Fatalf("salvage %d: record %s of %s: %v", i, e.ID, e.PropertyID, err)
			}
		}
		cp.Close()
	}
}
