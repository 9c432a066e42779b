package cluster_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/cluster/clustertest"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// crashAfter commits through the recorder and then, once armed, ends the
// consumer's context as a process killed between its commit and its
// acknowledgement would.
type crashAfter struct {
	*recorder.Recorder
	armed  atomic.Bool
	cancel context.CancelFunc
}

func (c *crashAfter) RecordReplicas(ctx context.Context, cur recorder.Cursor, recs ...recorder.Replica) (recorder.ReplicaResult, error) {
	res, err := c.Recorder.RecordReplicas(ctx, cur, recs...)
	if err == nil && c.armed.CompareAndSwap(true, false) {
		c.cancel()
	}
	return res, err
}

// TestConsumerCopiesEachRecordOnce: a query node's store ends with every
// published record once, across a crash between its commit and its
// acknowledgement and a restart of its consumer.
func TestConsumerCopiesEachRecordOnce(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	url := ns.ClientURL()
	shard := newFixture(t, url)
	ctx := context.Background()
	recordN := func(from, to int) {
		for i := from; i < to; i++ {
			if err := shard.rec.Record(ctx, event([]string{"g1", "g2"}[i%2], i)); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "published", func() bool { n, _ := shard.pub.Depth(); return n == 0 })
	}
	recordN(0, 100)

	q := newQueryNode(t, url)
	qs, qrec := q.store, q.rec
	run := func(rec cluster.Recorder) (context.CancelFunc, *cluster.Consumer, chan error) {
		cctx, cancel := context.WithCancel(ctx)
		c := q.consumer(rec, 32)
		if cr, ok := rec.(*crashAfter); ok {
			cr.cancel = cancel
		}
		done := make(chan error, 1)
		go func() { done <- c.Run(cctx) }()
		return cancel, c, done
	}

	// First run: it crashes after its first commit, before acknowledging.
	crash := &crashAfter{Recorder: qrec}
	crash.armed.Store(true)
	_, _, done := run(crash)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := total(qs); n == 0 || n >= 100 {
		t.Fatalf("after the crash the query store holds %d records, want some of 100", n)
	}
	recordN(100, 150)

	// Restart: the unacknowledged batch comes back and is not copied twice.
	cancel, c, done := run(qrec)
	eventually(t, "the query node caught up", func() bool { return total(qs) >= 150 && c.Ready(ctx) == nil })
	recordN(150, 200)
	eventually(t, "the new records copied", func() bool { return total(qs) >= 200 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := total(qs); n != 200 {
		t.Fatalf("the query store holds %d records, want 200", n)
	}
	for _, p := range []string{"g1", "g2"} {
		v, err := qs.Verify(ctx, audit.Discord, p)
		if err != nil || !v.OK {
			t.Fatalf("chain of %s on the query node: %+v %v", p, v, err)
		}
	}
}

// TestConsumerWaitsOutAnOutage: the NATS server goes away while a query
// node copies and shards record; once it is back, the query node ends with
// every record once.
func TestConsumerWaitsOutAnOutage(t *testing.T) {
	dir := t.TempDir()
	ns := startNATS(t, 0, dir)
	url := ns.ClientURL()
	shard := newFixture(t, url)
	ctx := context.Background()
	record := func(from, to int) {
		for i := from; i < to; i++ {
			if err := shard.rec.Record(ctx, event("g1", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	q := newQueryNode(t, url)
	qs := q.store
	c := q.consumer(q.rec, 16)
	defer run(t, c.Run)()

	record(0, 100)
	eventually(t, "some records copied", func() bool { return total(qs) > 0 })
	port := ns.Addr().(*net.TCPAddr).Port
	ns.Shutdown()
	ns.WaitForShutdown()
	record(100, 150)
	eventually(t, "not ready while NATS is down", func() bool { return c.Ready(ctx) != nil })
	startNATS(t, port, dir)
	eventually(t, "every record copied", func() bool {
		n, _ := shard.pub.Depth()
		return n == 0 && total(qs) >= 150 && c.Ready(ctx) == nil
	})
	if n := total(qs); n != 150 {
		t.Fatalf("the query store holds %d records, want 150", n)
	}
}

// TestQueryNodeKeepsShardChains: two shards record concurrently into
// properties of their own and into one both record (a Telegram group
// whose poller moved); a query node copying the stream ends with each
// shard's records under the shard's ids and hashes, and every chain, one
// per property and shard (origin), verifies on the query node with the
// shard's head.
func TestQueryNodeKeepsShardChains(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	url := ns.ClientURL()
	ctx := context.Background()
	shards := []*fixture{newFixture(t, url), newFixture(t, url)}
	want := map[audit.ID]string{} // id -> hash, as the shards wrote them
	var mu sync.Mutex
	var wg sync.WaitGroup
	for si, sh := range shards {
		for c := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 60 {
					e := event(fmt.Sprintf("s%dg%d", si, i%3), 1000*c+i)
					if i%3 == 2 {
						e.PropertyID = "shared"
					}
					if i%10 == 0 {
						e.Content = "ünïcödé \u2028 <b>\"quoted\"</b>"
					}
					if err := sh.rec.Record(ctx, e); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					want[e.ID] = string(e.Hash)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()

	q := newQueryNode(t, url)
	qs := q.store
	var seen atomic.Int64
	q.rec.Subscribe(func(evs []*audit.Event) { seen.Add(int64(len(evs))) })
	c := q.consumer(q.rec, 50)
	stop := run(t, c.Run)
	eventually(t, "every record copied", func() bool { return total(qs) >= uint64(len(want)) && c.Ready(ctx) == nil })
	stop()
	if n := total(qs); n != 480 || len(want) != 480 || seen.Load() != 480 {
		t.Fatalf("the query node holds %d records and its subscribers saw %d; the shards recorded %d (want 480)", n, seen.Load(), len(want))
	}
	sameAsShards(t, qs, shards[0].store, shards[1].store)
}

// sameAsShards checks that the query node's store holds exactly the
// union of the shards' records, with their ids and hashes, and that every
// chain verifies there with its shard's head.
func sameAsShards(t *testing.T, qs *store.Store, shards ...*store.Store) {
	t.Helper()
	ctx := context.Background()
	want := map[audit.ID]string{}
	heads := map[string]store.Verification{}
	for _, s := range shards {
		if err := s.Scan(ctx, store.Query{}, func(e *audit.Event) error { want[e.ID] = string(e.Hash); return nil }); err != nil {
			t.Fatal(err)
		}
		vs, err := s.VerifyAll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			heads[v.Platform.String()+":"+v.Property+"@"+s.Origin()] = v
		}
	}
	got := 0
	err := qs.Scan(ctx, store.Query{}, func(e *audit.Event) error {
		got++
		if h, ok := want[e.ID]; !ok || h != string(e.Hash) {
			t.Errorf("record %s of %s on the query node is not as its shard wrote it", e.ID, e.PropertyID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Errorf("the query node holds %d records, the shards %d", got, len(want))
	}
	vs, err := qs.VerifyAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(heads) {
		t.Errorf("%d chains on the query node, %d on the shards", len(vs), len(heads))
	}
	for _, v := range vs {
		sv := heads[v.Platform.String()+":"+v.Property+"@"+v.Origin]
		if !v.OK || !sv.OK || v.Head != sv.Head || v.Records != sv.Records {
			t.Errorf("chain %s: query node ok %v, %d records, head %x (%s); shard ok %v, %d records, head %x",
				v.Property, v.OK, v.Records, v.Head[:4], v.Problem, sv.OK, sv.Records, sv.Head[:4])
		}
	}
}

// TestThreeNodeClusterFailover: two shards publish to a three-node
// cluster holding the stream with three replicas; one node stops mid-
// stream and starts again; the query node ends with exactly the shards'
// records and chains.
func TestThreeNodeClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("three-node cluster in -short mode")
	}
	c := clustertest.StartCluster(t, 3, t.TempDir())
	clustertest.Provision(t, c.URL(), "CW", cluster.SubjectPrefix+".>", cluster.TokenBucket("CW"), 3)
	ctx := context.Background()
	shards := []*fixture{newFixture(t, c.URL()), newFixture(t, c.URL())}
	q := newQueryNode(t, c.URL())
	qs := q.store
	cons := q.consumer(q.rec, 64)
	run(t, cons.Run)

	var wg sync.WaitGroup
	var recorded atomic.Int64
	for si, sh := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 400 {
				if err := sh.rec.Record(ctx, event(fmt.Sprintf("s%dg%d", si, i%4), i)); err != nil {
					t.Error(err)
					return
				}
				recorded.Add(1)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	eventually(t, "records flowing", func() bool { return recorded.Load() > 200 })
	c.Stop(1)
	eventually(t, "more records recorded", func() bool { return recorded.Load() > 500 })
	c.Start(1)
	wg.Wait()
	eventually(t, "every record copied", func() bool {
		a, _ := shards[0].pub.Depth()
		b, _ := shards[1].pub.Depth()
		return a == 0 && b == 0 && total(qs) >= 800 && cons.Ready(ctx) == nil
	})
	sameAsShards(t, qs, shards[0].store, shards[1].store)
}

// TestConsumerTakesMessagesWithoutOrigin: a stream holding records from
// before origins (no Chatwarden-Origin header), then the same shard's
// records with its origin, and another shard's records of the same
// group, ends on the query node with every record once in three chains:
// the default origin's, continued by the shard's origin, and the other
// shard's, each verifying with its shard's head.
func TestConsumerTakesMessagesWithoutOrigin(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	url := ns.ClientURL()
	ctx := context.Background()
	js := jetStream(t, url)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CW", Subjects: []string{cluster.SubjectPrefix + ".>"}}); err != nil {
		t.Fatal(err)
	}
	// Two shards' stores; their records are published by hand.
	shard := func(n int) (*store.Store, []recorder.Replica) {
		s := openStore(t, "shard.db")
		rec := recorder.New(s, recorder.Options{Routers: []recorder.Router{cluster.Router()}})
		for i := range n {
			if err := rec.Record(ctx, event("g1", i)); err != nil {
				t.Fatal(err)
			}
		}
		rec.Close(ctx)
		out, err := s.OutboxReplicas(ctx, cluster.Sink, "stream", n+1)
		if err != nil || len(out) != n {
			t.Fatalf("%d records to publish, want %d (%v)", len(out), n, err)
		}
		var recs []recorder.Replica
		for _, o := range out {
			recs = append(recs, o.Replica)
		}
		return s, recs
	}
	a, recsA := shard(20)
	b, recsB := shard(10)
	publish := func(r recorder.Replica) {
		m, err := cluster.Message(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(cluster.MsgID(r))); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range recsA {
		if i < 12 {
			r.Origin = "" // as a release before origins published it
		}
		publish(r)
		if i%3 == 0 && i < len(recsB) {
			publish(recsB[i])
		}
	}
	for i, r := range recsB {
		if i%3 != 0 || i >= len(recsA) {
			publish(r)
		}
	}

	q := newQueryNode(t, url)
	qs := q.store
	c := q.consumer(q.rec, 7)
	stop := run(t, c.Run)
	eventually(t, "every record copied", func() bool { return total(qs) >= 30 && c.Ready(ctx) == nil })
	stop()
	if n := total(qs); n != 30 {
		t.Fatalf("the query node holds %d records, want 30", n)
	}
	vs, err := qs.VerifyChains(ctx, audit.Discord, "g1")
	if err != nil {
		t.Fatal(err)
	}
	head := func(s *store.Store) [32]byte {
		v, err := s.Verify(ctx, audit.Discord, "g1")
		if err != nil {
			t.Fatal(err)
		}
		return v.Head
	}
	var lastOld [32]byte // the default origin's chain ends at the last record published without an origin
	copy(lastOld[:], recsA[11].Event.Hash)
	want := map[string]struct {
		records uint64
		head    [32]byte
	}{"": {12, lastOld}, a.Origin(): {8, head(a)}, b.Origin(): {10, head(b)}}
	if len(vs) != 3 {
		t.Fatalf("%d chains of g1 on the query node, want 3: %+v", len(vs), vs)
	}
	for _, v := range vs {
		w, ok := want[v.Origin]
		if !ok || !v.OK || v.Records != w.records || v.Head != w.head {
			t.Errorf("chain of origin %q: ok %v (%s), %d records, head %x; want %d records, head %x",
				v.Origin, v.OK, v.Problem, v.Records, v.Head[:4], w.records, w.head[:4])
		}
	}
}
