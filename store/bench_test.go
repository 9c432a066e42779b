package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// benchEvent is a CHAT_MESSAGE with 100 characters of content, the shape
// of most of a busy community's records.
func benchEvent(rng *rand.Rand, props, users int) *audit.Event {
	return &audit.Event{
		Time:         time.Now(),
		Platform:     audit.Discord,
		PropertyID:   fmt.Sprintf("1%017d", rng.IntN(props)),
		Type:         audit.ChatMessage,
		PlatformType: "MESSAGE_CREATE",
		Function:     audit.FuncGateway,
		ActorType:    audit.ActorNonAdmin,
		ActorID:      fmt.Sprintf("3%017d", rng.IntN(users)),
		ActorName:    "some_member",
		ChannelID:    fmt.Sprintf("2%017d", rng.IntN(20)),
		MessageID:    nextSnowflake(),
		Content:      "Has anyone tried the new release? The migration guide says to back up first, which I did, twice..",
	}
}

var snowflakeSeq atomic.Uint64

// nextSnowflake returns increasing Discord-style ids: milliseconds since
// the Discord epoch shifted by 22 bits, plus a counter.
func nextSnowflake() string {
	ms := uint64(time.Now().UnixMilli() - 1420070400000)
	return fmt.Sprint(ms<<22 | snowflakeSeq.Add(1)&(1<<22-1))
}

// BenchmarkRecorderIngest measures durable ingest (fsync'd group commits,
// all indexes, hash chain) through the Recorder with 16 concurrent
// producers (cpu-ns/event: the process's CPU time per event, producers and
// GC included). "wait" producers call Record with one event and wait for it;
// "pipelined" producers Submit one event per call and keep up to 2,048 in
// flight each, as a gateway reader does. Every event counts only once it
// is acknowledged durable. The workload is 16 communities of 2,000 members
// whose activity follows Zipf's law, 20 channels each. With
// CHATWARDEN_BENCH_NOFREELISTSYNC set the store is written as releases
// before the synced freelist did, to measure what syncing it costs.
func BenchmarkRecorderIngest(b *testing.B) {
	for _, mode := range []string{"wait", "pipelined"} {
		b.Run(mode, func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{noFreelistSync: os.Getenv("CHATWARDEN_BENCH_NOFREELISTSYNC") != ""})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			rec := recorder.New(s, recorder.Options{})
			const producers, window = 16, 2048
			per := (b.N + producers - 1) / producers
			evs := make([][]*audit.Event, producers)
			for p := range evs {
				rng := rand.New(rand.NewPCG(uint64(p), 3))
				zipf := rand.NewZipf(rand.New(rand.NewPCG(uint64(p), 4)), 1.1, 1, 1999)
				evs[p] = make([]*audit.Event, per)
				for i := range evs[p] {
					e := benchEvent(rng, 1, 1)
					e.PropertyID = fmt.Sprintf("1%017d", p)
					e.ActorID = fmt.Sprintf("3%017d", zipf.Uint64())
					evs[p][i] = e
				}
			}
			var wg sync.WaitGroup
			var acked atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			for p := 0; p < producers; p++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if mode == "wait" {
						for _, e := range evs[p] {
							if err := rec.Record(context.Background(), e); err != nil {
								b.Error(err)
								return
							}
							acked.Add(1)
						}
						return
					}
					slots := make(chan struct{}, window)
					for _, e := range evs[p] {
						slots <- struct{}{}
						err := rec.Submit(context.Background(), func(err error) {
							if err == nil {
								acked.Add(1)
							}
							<-slots
						}, e)
						if err != nil {
							b.Error(err)
							return
						}
					}
					for range window {
						slots <- struct{}{}
					}
				}()
			}
			wg.Wait()
			el, cpu := time.Since(start), cpuTime()-cpu0
			b.StopTimer()
			if int(acked.Load()) != per*producers {
				b.Fatalf("%d acknowledged of %d", acked.Load(), per*producers)
			}
			rec.Close(context.Background())
			st := rec.Stats()
			b.ReportMetric(float64(acked.Load())/el.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(acked.Load()), "cpu-ns/event")
			b.ReportMetric(float64(st.Events.Load())/float64(max(st.Commits.Load(), 1)), "events/commit")
		})
	}
}

// BenchmarkQueryTypeUser measures the 50 newest records matching
// property+type+user in a store of 1,000,000 records (built once, cached
// in the temp dir of the first run; set CHATWARDEN_BENCH_DB to keep it).
// cpu-µs/op is the process's CPU time per query (GC included), which other
// work on a shared machine disturbs less than the wall-clock percentiles.
func BenchmarkQueryTypeUser(b *testing.B) {
	s := millionStore(b)
	qs := queryTypeUserSet(b.N)
	lat := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	found := 0
	for i, q := range qs {
		start := time.Now()
		page, err := s.Query(context.Background(), q)
		lat[i] = time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		found += len(page.Events)
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	slices.Sort(lat)
	b.ReportMetric(float64(found)/float64(b.N), "records/op")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

var (
	millionOnce sync.Once
	millionPath string
)

// millionStore returns a store of 1,000,000 records, one every 2 seconds:
// 10 communities of 2,000 members whose activity follows Zipf's law (a few
// members post most messages), a mix of types. CHATWARDEN_BENCH_RECORDS
// sets another record count (BenchmarkOpen on 10,000,000); it only matters
// when the file at CHATWARDEN_BENCH_DB does not exist yet.
func millionStore(b *testing.B) *Store {
	millionOnce.Do(func() {
		millionPath = os.Getenv("CHATWARDEN_BENCH_DB")
		if millionPath == "" {
			dir, err := os.MkdirTemp("", "chatwarden-bench")
			if err != nil {
				b.Fatal(err)
			}
			millionPath = filepath.Join(dir, "million.db")
		}
		if _, err := os.Stat(millionPath); err == nil {
			return
		}
		s, err := Open(millionPath, Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(2, 2))
		zipf := rand.NewZipf(rand.New(rand.NewPCG(2, 3)), 1.1, 1, 1999)
		types := []audit.EventType{audit.ChatMessage, audit.ChatMessage, audit.ChatMessage, audit.ChatMessageEdit,
			audit.ChatMessageDelete, audit.UserJoin, audit.UserUpdate, audit.UserRemove}
		total, batch := 1_000_000, 10_000
		if v, err := strconv.Atoi(os.Getenv("CHATWARDEN_BENCH_RECORDS")); err == nil && v > 0 {
			total = (v + batch - 1) / batch * batch
		}
		t0 := time.Now().Add(-time.Duration(total) * 2 * time.Second)
		for i := 0; i < total; i += batch {
			evs := make([]*audit.Event, batch)
			for j := range evs {
				e := benchEvent(rng, 10, 2000)
				e.ActorID = fmt.Sprintf("3%017d", zipf.Uint64())
				e.Type = types[rng.IntN(len(types))]
				e.Time = t0.Add(time.Duration(i+j) * 2 * time.Second)
				evs[j] = e
			}
			if err := s.Append(context.Background(), &recorder.Batch{Events: evs}); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	})
	s, err := Open(millionPath, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkDiskBytesPerMessage reports the database file's size per
// CHAT_MESSAGE record with 100 characters of content, for 200,000 messages
// in 20 communities of 3,000 members whose activity follows Zipf's law.
// "bytes/event" is the file's size (bbolt grows it in steps of up to
// 16 MiB); "used-bytes/event" is bbolt's high-water mark of pages in use,
// free pages included.
func BenchmarkDiskBytesPerMessage(b *testing.B) {
	const n = 1_000_000
	for i := 0; i < b.N; i++ {
		path := filepath.Join(b.TempDir(), "size.db")
		s, err := Open(path, Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(5, 5))
		zipf := rand.NewZipf(rand.New(rand.NewPCG(5, 6)), 1.1, 1, 2999)
		t0 := time.Now().Add(-time.Hour)
		for j := 0; j < n; j += 5000 {
			evs := make([]*audit.Event, 5000)
			for k := range evs {
				evs[k] = benchEvent(rng, 20, 3000)
				evs[k].ActorID = fmt.Sprintf("3%017d", zipf.Uint64())
				evs[k].Time = t0.Add(time.Duration(j+k) * time.Millisecond)
			}
			if err := s.Append(context.Background(), &recorder.Batch{Events: evs}); err != nil {
				b.Fatal(err)
			}
		}
		var used int64
		s.db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
		s.Close()
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fi.Size())/n, "bytes/event")
		b.ReportMetric(float64(used)/n, "used-bytes/event")
	}
}

// BenchmarkAppend measures Append's own cost (no fsync) per event.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{100, 1000, 8000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			rng := rand.New(rand.NewPCG(1, 3))
			all := make([]*audit.Event, b.N+batch)
			for i := range all {
				all[i] = benchEvent(rng, benchProps, benchUsers)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				evs := all[i : i+batch]
				if err := s.Append(context.Background(), &recorder.Batch{Events: evs}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var benchProps, benchUsers = 16, 200

// BenchmarkBareIngest is BenchmarkRecorderIngest's baseline: bare bbolt
// appending b.N 300-byte values under increasing 8-byte keys, 5,000 per
// fsync'd commit, from one goroutine, with no index, chain or encoding.
// Run it in the same invocation with the same -benchtime (event count) to
// compare: "fill=0.5" is bbolt's default page fill, "fill=0.9" the fill
// the store uses for its append-only buckets.
func BenchmarkBareIngest(b *testing.B) {
	for _, fill := range []float64{0.5, 0.9} {
		b.Run(fmt.Sprintf("fill=%.1f", fill), func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "bare.db"), 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			val := make([]byte, 300)
			for i := range val {
				val[i] = byte('a' + i%26)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			for i := 0; i < b.N; {
				n := min(5000, b.N-i)
				err := db.Update(func(tx *bolt.Tx) error {
					bk, err := tx.CreateBucketIfNotExists([]byte("ev"))
					if err != nil {
						return err
					}
					bk.FillPercent = fill
					for j := range n {
						k := binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(i+j))
						if err := bk.Put(k, val); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				i += n
			}
			el, cpu := time.Since(start), cpuTime()-cpu0
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
		})
	}
}

// BenchmarkBareLayout is BenchmarkRecorderIngest's allocation floor: bare
// bbolt storing b.N events with the store's key shapes in fsync'd commits
// at the store's fill ratio, from one goroutine. The keys and values are
// built and sorted before the timer starts, so that what is measured is
// bbolt's own cost of the Puts and commits:
//
//   - "puts=2": the 300-byte record under prop(4) id(12) and its message
//     lookup key, prop(4) 0 snowflake(8) -> id(12) (ixmsg): the least a
//     layout keeps if edits and deletes are to find the message's record.
//   - "puts=5": the store's layout, the record and its four index keys
//     (ixtype, ixuser, ixchan, ixmsg, see doc.go) with their values.
//   - "lists": a layout the store does not have, to measure what it would
//     save: the record, its ixmsg key, and the type, user and channel
//     index entries grouped per commit, one Put per property and type,
//     user or channel of the commit, whose value lists the ids (a posting
//     list).
//
// The events are BenchmarkRecorderIngest's: 16 communities in turn, 2,000
// members each drawn by Zipf's law, 20 channels. "commit=5000" is
// BenchmarkBareIngest's commit; "commit=13333" is what the Recorder's
// group commit reaches with 200,000 pipelined events. Run it in the same
// invocation with the same -benchtime to compare allocs/op and B/op (per
// event) with RecorderIngest's; puts/event counts the Puts made.
func BenchmarkBareLayout(b *testing.B) {
	for _, layout := range []string{"puts=2", "puts=5", "lists"} {
		for _, commit := range []int{5000, 13333} {
			b.Run(fmt.Sprintf("%s/commit=%d", layout, commit), func(b *testing.B) {
				db, err := bolt.Open(filepath.Join(b.TempDir(), "bare.db"), 0o600, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				names := [][]byte{[]byte("ev"), []byte("ixmsg"), []byte("ixtype"), []byte("ixuser"), []byte("ixchan")}
				commits := bareLayoutCommits(b.N, commit, layout)
				b.ReportAllocs()
				b.ResetTimer()
				start, cpu0 := time.Now(), cpuTime()
				puts := 0
				for _, c := range commits {
					err := db.Update(func(tx *bolt.Tx) error {
						for q, kvs := range c {
							if len(kvs) == 0 {
								continue
							}
							bk, err := tx.CreateBucketIfNotExists(names[q])
							if err != nil {
								return err
							}
							bk.FillPercent = fillRatio
							for _, kv := range kvs {
								if err := bk.Put(kv[0], kv[1]); err != nil {
									return err
								}
							}
							puts += len(kvs)
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				el, cpu := time.Since(start), cpuTime()-cpu0
				b.StopTimer()
				b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
				b.ReportMetric(float64(puts)/float64(b.N), "puts/event")
			})
		}
	}
}

// bareLayoutCommits returns BenchmarkBareLayout's n events as commits of
// up to size events: for each commit, the key-value pairs of each bucket
// (ev, ixmsg, ixtype, ixuser, ixchan) sorted as the store sorts them
// before its Puts.
func bareLayoutCommits(n, size int, layout string) [][5][][2][]byte {
	zipf := rand.NewZipf(rand.New(rand.NewPCG(7, 8)), 1.1, 1, 1999)
	rng := rand.New(rand.NewPCG(7, 9))
	record := make([]byte, 300)
	for i := range record {
		record[i] = byte('a' + i%26)
	}
	t0 := uint64(time.Now().UnixNano())
	snow := uint64(time.Now().UnixMilli()-1420070400000) << 22
	var commits [][5][][2][]byte
	for i := 0; i < n; i += size {
		var c [5][][2][]byte
		lists := map[string][]byte{} // bucket number, then group key -> ids
		for j := i; j < min(i+size, n); j++ {
			prop := binary.BigEndian.AppendUint32(nil, uint32(j%16+1))
			id := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, t0+uint64(j)), 0)
			user := binary.BigEndian.AppendUint32(nil, uint32(zipf.Uint64()+1))
			ch := binary.BigEndian.AppendUint32(nil, uint32(rng.IntN(20)+1))
			typ := byte(audit.ChatMessage)
			c[0] = append(c[0], [2][]byte{slices.Concat(prop, id), record})
			c[1] = append(c[1], [2][]byte{slices.Concat(prop, []byte{0}, binary.BigEndian.AppendUint64(nil, snow+uint64(j))), id})
			switch layout {
			case "puts=5":
				c[2] = append(c[2], [2][]byte{slices.Concat(prop, []byte{typ}, id), nil})
				c[3] = append(c[3], [2][]byte{slices.Concat(prop, user, id), []byte{0, typ}})
				c[4] = append(c[4], [2][]byte{slices.Concat(prop, ch, id), []byte{typ}})
			case "lists":
				for q, group := range map[int][]byte{2: {typ}, 3: user, 4: ch} {
					k := string(slices.Concat([]byte{byte(q)}, prop, group))
					lists[k] = append(lists[k], id...)
					if q != 2 {
						lists[k] = append(lists[k], typ)
					}
				}
			}
		}
		first := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, t0+uint64(i)), 0)
		for k, ids := range lists {
			c[k[0]] = append(c[k[0]], [2][]byte{slices.Concat([]byte(k[1:]), first), ids})
		}
		for q := range c {
			slices.SortFunc(c[q], func(x, y [2][]byte) int { return bytes.Compare(x[0], y[0]) })
		}
		commits = append(commits, c)
	}
	return commits
}

// queryTypeUserSet is the queries of BenchmarkQueryTypeUser and its bare
// baseline: 10 communities, members drawn by Zipf's law, CHAT_MESSAGE.
func queryTypeUserSet(n int) []Query {
	rng := rand.New(rand.NewPCG(1, 1))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, 1999)
	qs := make([]Query, n)
	for i := range qs {
		qs[i] = Query{Platform: audit.Discord, Property: fmt.Sprintf("1%017d", rng.IntN(10)),
			Types: []audit.EventType{audit.ChatMessage}, User: fmt.Sprintf("3%017d", zipf.Uint64()), Limit: 50}
	}
	return qs
}

// BenchmarkQueryTypeUserBare is BenchmarkQueryTypeUser's baseline: the
// same answer with bare bbolt, in one read transaction per query: walk the
// user's index entries newest first, keep those whose index value says
// CHAT_MESSAGE, fetch each record and copy its bytes out, up to 50. No
// decoding, no cursor, no allocation per record beyond the copy.
func BenchmarkQueryTypeUserBare(b *testing.B) {
	s := millionStore(b)
	qs := queryTypeUserSet(b.N)
	lat := make([]time.Duration, b.N)
	var buf []byte
	recs := make([][]byte, 0, 50)
	found := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i, q := range qs {
		start := time.Now()
		ps := s.property(q.Platform, q.Property)
		err := s.db.View(func(tx *bolt.Tx) error {
			buf, recs = buf[:0], recs[:0]
			user := dictLookup(tx, dictUser, q.User)
			if ps == nil || user == 0 {
				return nil
			}
			var prefix [8]byte
			binary.BigEndian.PutUint32(prefix[:], ps.num)
			binary.BigEndian.PutUint32(prefix[4:], user)
			var key [16]byte
			copy(key[:], prefix[:4])
			ev := tx.Bucket(bEvents)
			c := tx.Bucket(bIxUser).Cursor()
			k, v := c.Seek(append(prefix[:], maxID[:]...))
			if k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
			for ; k != nil && bytes.HasPrefix(k, prefix[:]) && len(recs) < 50; k, v = c.Prev() {
				if len(v) < 2 || audit.EventType(v[1]) != audit.ChatMessage {
					continue
				}
				copy(key[4:], k[8:])
				if rec := ev.Get(key[:]); rec != nil {
					buf = append(buf, rec...)
					recs = append(recs, buf[len(buf)-len(rec):])
				}
			}
			return nil
		})
		lat[i] = time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		found += len(recs)
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	slices.Sort(lat)
	b.ReportMetric(float64(found)/float64(b.N), "records/op")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkOpen measures opening the 1,000,000-record store (or
// CHATWARDEN_BENCH_RECORDS records) read-write and closing it, as every
// `chatwarden run` and read-write CLI command does; "bare" is bbolt with
// its default options on the same file (after one untimed open, so that it
// reads a synced freelist). The store run reports the file's free pages
// (what its open reads and indexes) and the file's size.
func BenchmarkOpen(b *testing.B) {
	s := millionStore(b)
	path := s.Path()
	s.Close()
	b.Run("store", func(b *testing.B) {
		var free int
		for i := 0; i < b.N; i++ {
			s, err := Open(path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			free = s.db.Stats().FreePageN
			s.Close()
		}
		b.ReportMetric(float64(free), "free-pages")
		if fi, err := os.Stat(path); err == nil {
			b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
		}
	})
	b.Run("bare", func(b *testing.B) {
		for i := -1; i < b.N; i++ {
			if i == 0 {
				b.ResetTimer()
			}
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			db.Close()
		}
	})
}
