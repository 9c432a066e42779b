package store

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

var replicaRoute = []recorder.Route{{Sink: "cluster", Target: "stream"}}

// shardStore records n random events of props in a store routing each to
// the outbox sink "cluster", erases one user (so that some records are
// redacted) and returns the store's pending replicas, as a publisher
// would read them.
func shardStore(t *testing.T, seed uint64, props []propID, n int) (*Store, []recorder.Replica) {
	t.Helper()
	s := openTest(t)
	rng := rand.New(rand.NewPCG(seed, 22))
	for i := 0; i < n; {
		k := min(1+rng.IntN(20), n-i)
		b := &recorder.Batch{}
		for range k {
			e := genEvent(rng)
			pr := props[rng.IntN(len(props))]
			e.Platform, e.PropertyID = pr.p, pr.id
			b.Events = append(b.Events, e)
			b.Routes = append(b.Routes, replicaRoute)
		}
		if err := s.Append(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		i += k
	}
	if _, err := s.Erase(context.Background(), props[0].p, props[0].id, "u3"); err != nil {
		t.Fatal(err)
	}
	out, err := s.OutboxReplicas(context.Background(), "cluster", "stream", n+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != n {
		t.Fatalf("%d pending replicas, want %d", len(out), n)
	}
	var recs []recorder.Replica
	for _, o := range out {
		recs = append(recs, o.Replica)
	}
	return s, recs
}

// overTheWire is a replica as a consumer decodes it from a message: the
// event through JSON.
func overTheWire(t *testing.T, r recorder.Replica) recorder.Replica {
	t.Helper()
	data, err := json.Marshal(r.Event)
	if err != nil {
		t.Fatal(err)
	}
	var e audit.Event
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	r.Event = &e
	return r
}

// interleave is the stream two shards' publishers make: runs of up to
// maxRun records of either, the first and last of a run sometimes
// swapped (a publish retried after the next one), and one in repeatOneIn
// runs with its first record again at its end (a publish retried after
// its acknowledgement was lost).
func interleave(rng *rand.Rand, maxRun, repeatOneIn int, a, b []recorder.Replica) []recorder.Replica {
	var stream []recorder.Replica
	for len(a)+len(b) > 0 {
		src := &a
		if len(a) == 0 || len(b) > 0 && rng.IntN(2) == 0 {
			src = &b
		}
		n := min(1+rng.IntN(maxRun), len(*src))
		part := slices.Clone((*src)[:n])
		*src = (*src)[n:]
		if len(part) > 1 && rng.IntN(3) == 0 {
			part[0], part[len(part)-1] = part[len(part)-1], part[0]
		}
		if rng.IntN(repeatOneIn) == 0 {
			part = append(part, part[0])
		}
		stream = append(stream, part...)
	}
	return stream
}

// appendStream stores the stream on q as a consumer does, in batches of
// up to maxBatch records decoded from JSON, each saving the cursor "pos"
// with its records; it fails the test on a problem and returns how many
// records were stored and how many skipped as duplicates.
func appendStream(t *testing.T, q *Store, rng *rand.Rand, stream []recorder.Replica, maxBatch int) (stored, dups int) {
	t.Helper()
	for i := 0; i < len(stream); {
		n := min(1+rng.IntN(maxBatch), len(stream)-i)
		batch := &recorder.ReplicaBatch{Cursors: []recorder.Cursor{{Name: "pos", Value: []byte{byte(i)}}}}
		for _, r := range stream[i : i+n] {
			batch.Records = append(batch.Records, overTheWire(t, r))
		}
		res, err := q.AppendReplica(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Problems) > 0 {
			t.Fatalf("problems: %v", res.Problems)
		}
		stored += len(res.Stored)
		dups += res.Duplicates
		i += n
	}
	return stored, dups
}

// TestReplicaKeepsShardChains: records of two shards, delivered through
// JSON, interleaved, partly out of order and partly twice, end on the
// replica with the shards' ids, hashes and chain heads; every chain
// verifies, and queries (by user, across properties) answer as on the
// shards.
func TestReplicaKeepsShardChains(t *testing.T) {
	ctx := context.Background()
	a, recsA := shardStore(t, 1, testProps[:2], 600)
	b, recsB := shardStore(t, 2, testProps[2:], 600)
	var redacted int
	for _, r := range append(slices.Clone(recsA), recsB...) {
		if r.Event.Redacted {
			redacted++
		}
	}
	if redacted == 0 {
		t.Fatal("no redacted record to replicate")
	}

	// The stream: the shards' records interleaved, with pairs swapped
	// (a publish retried after the next one) and repeats.
	rng := rand.New(rand.NewPCG(3, 4))
	stream := interleave(rng, 3, 10, recsA, recsB)

	q := openTest(t)
	stored, dups := appendStream(t, q, rng, stream, 40)
	if stored != 1200 || dups == 0 {
		t.Fatalf("stored %d records (want 1200), %d duplicates skipped (want some)", stored, dups)
	}

	vs, err := q.VerifyAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(testProps) {
		t.Fatalf("%d chains on the replica, want %d", len(vs), len(testProps))
	}
	for _, v := range vs {
		shard := a
		if slices.Contains(testProps[2:], propID{v.Platform, v.Property}) {
			shard = b
		}
		want, err := shard.Verify(ctx, v.Platform, v.Property)
		if err != nil {
			t.Fatal(err)
		}
		if !v.OK || v.Head != want.Head || v.Records != want.Records {
			t.Errorf("%s %s on the replica: ok %v, %d records, head %x; the shard: %d records, head %x (%s)",
				v.Platform, v.Property, v.OK, v.Records, v.Head[:4], want.Records, want.Head[:4], v.Problem)
		}
	}

	// Same records, same ids and hashes, same index answers.
	for _, qu := range []Query{{Limit: MaxLimit}, {User: "u3", Limit: MaxLimit}, {Channel: "c2", Limit: MaxLimit},
		{Platform: testProps[0].p, Property: testProps[0].id, Types: []audit.EventType{audit.ChatMessage}, Limit: MaxLimit}} {
		all := func(s *Store) (out []*audit.Event) {
			if err := s.Scan(ctx, qu, func(e *audit.Event) error { out = append(out, e); return nil }); err != nil {
				t.Fatal(err)
			}
			return out
		}
		got, want := all(q), append(all(a), all(b)...)
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("query %+v: %d records on the replica, %d on the shards", qu, len(got), len(want))
		}
		hashes := map[audit.ID]string{}
		for _, e := range want {
			hashes[e.ID] = string(e.Hash)
		}
		for _, e := range got {
			if h, ok := hashes[e.ID]; !ok || h != string(e.Hash) {
				t.Fatalf("query %+v: record %s on the replica is not the shard's", qu, e.ID)
			}
		}
	}
	if c, err := q.Cursor("pos"); err != nil || len(c) != 1 {
		t.Fatalf("cursor saved with the records: %v %v", c, err)
	}
}

// TestReplicaHoldsUntilPredecessor: a record whose predecessor has not
// arrived waits, durable, and is stored once it does; nothing is chained
// out of order.
func TestReplicaHoldsUntilPredecessor(t *testing.T) {
	ctx := context.Background()
	_, recs := shardStore(t, 5, testProps[:1], 4)
	q := openTest(t)
	res, err := q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: []recorder.Replica{recs[2], recs[1]}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stored) != 0 || res.Held != 2 || res.Waiting != 2 {
		t.Fatalf("without the first record: %d stored, %d held, %d waiting; want 0, 2, 2", len(res.Stored), res.Held, res.Waiting)
	}
	if n := len(q.Properties()); n != 0 {
		t.Fatalf("held records created %d properties", n)
	}
	// Held records survive a restart.
	path := q.Path()
	q.Close()
	q, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	res, err = q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: []recorder.Replica{recs[0], recs[1]}})
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, e := range res.Stored {
		seqs = append(seqs, e.Seq)
	}
	want := []uint64{recs[0].Event.Seq, recs[1].Event.Seq, recs[2].Event.Seq}
	if !slices.Equal(seqs, want) || res.Duplicates != 1 || res.Waiting != 0 {
		t.Fatalf("stored seqs %v (want %v), %d duplicates (want 1), %d waiting (want 0)", seqs, want, res.Duplicates, res.Waiting)
	}
	res, err = q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: recs[3:]})
	if err != nil || len(res.Stored) != 1 {
		t.Fatalf("the last record: %+v %v", res, err)
	}
	v, err := q.Verify(ctx, testProps[0].p, testProps[0].id)
	if err != nil || !v.OK || v.Records != 4 {
		t.Fatalf("chain: %+v %v", v, err)
	}
}

// TestReplicaRefusesAlteredRecords: a record whose hash does not match is
// refused (and what follows it waits); one whose personal part changed
// on the way is stored without it, and the chain still verifies.
func TestReplicaRefusesAlteredRecords(t *testing.T) {
	ctx := context.Background()
	_, recs := shardStore(t, 7, testProps[:1], 3)
	q := openTest(t)

	bad := overTheWire(t, recs[0])
	bad.Event.ActorID = "someone else" // in the hash itself
	res, err := q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: []recorder.Replica{bad, recs[1]}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stored) != 0 || len(res.Problems) != 1 || res.Held != 1 {
		t.Fatalf("altered first record: %d stored, problems %v, %d held; want 0, one, 1", len(res.Stored), res.Problems, res.Held)
	}

	changed := overTheWire(t, recs[0])
	changed.Event.Redacted = false
	changed.Event.Content = "not what was hashed"
	changed.Nonce = make([]byte, 8)
	res, err = q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: []recorder.Replica{changed, recs[2]}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stored) != 3 || len(res.Problems) != 1 || !res.Stored[0].Redacted || res.Stored[0].Content != "" {
		t.Fatalf("changed personal part: %d stored (want 3), problems %v, first %+v", len(res.Stored), res.Problems, res.Stored[0])
	}
	v, err := q.Verify(ctx, testProps[0].p, testProps[0].id)
	if err != nil || !v.OK || v.Records != 3 {
		t.Fatalf("chain: %+v %v", v, err)
	}

	// Malformed replicas are problems, not panics or errors.
	noHash := overTheWire(t, recs[0])
	noHash.Event.Hash = nil
	res, err = q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: []recorder.Replica{{}, noHash}})
	if err != nil || len(res.Problems) != 2 {
		t.Fatalf("malformed: %+v %v", res, err)
	}
}

// TestReplicaStartsChainsBegunBeforeTheFleet: a shard that recorded
// before it joined a fleet publishes only later records; the first of
// each chain carries its unpublished predecessor's hash, and a replica
// starts the chain there, even when that record arrives after the next,
// and verifies it with the shard's head.
func TestReplicaStartsChainsBegunBeforeTheFleet(t *testing.T) {
	ctx := context.Background()
	shard := openTest(t)
	rng := rand.New(rand.NewPCG(9, 9))
	record := func(props []propID, n int, routed bool) {
		for range n {
			e := genEvent(rng)
			pr := props[rng.IntN(len(props))]
			e.Platform, e.PropertyID = pr.p, pr.id
			b := &recorder.Batch{Events: []*audit.Event{e}}
			if routed {
				b.Routes = [][]recorder.Route{replicaRoute}
			}
			if err := shard.Append(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	record(testProps[:2], 40, false) // before the fleet
	if err := shard.MarkChainStarts(); err != nil {
		t.Fatal(err)
	}
	record(testProps[:3], 60, true)
	if err := shard.MarkChainStarts(); err != nil { // a restart: marks stay
		t.Fatal(err)
	}
	record(testProps[:3], 20, true)
	out, err := shard.OutboxReplicas(ctx, "cluster", "stream", 1000)
	if err != nil || len(out) != 80 {
		t.Fatalf("%d replicas pending (%v), want 80", len(out), err)
	}
	var recs []recorder.Replica
	starts := 0
	for _, o := range out {
		if o.Replica.PrevHash != nil {
			starts++
		}
		recs = append(recs, overTheWire(t, o.Replica))
	}
	if starts != 2 {
		t.Fatalf("%d published records start a chain, want 2 (the properties that had records before)", starts)
	}
	// The first record of property 0 arrives after the second.
	var first, second int = -1, -1
	for i, r := range recs {
		if r.Event.PropertyID == testProps[0].id {
			if first < 0 {
				first = i
			} else {
				second = i
				break
			}
		}
	}
	recs[first], recs[second] = recs[second], recs[first]

	q := openTest(t)
	res, err := q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: recs})
	if err != nil || len(res.Problems) > 0 || len(res.Stored) != 80 || res.Waiting != 0 {
		t.Fatalf("%d stored (want 80), %d waiting, problems %v, %v", len(res.Stored), res.Waiting, res.Problems, err)
	}
	for _, pr := range testProps[:3] {
		v, err := q.Verify(ctx, pr.p, pr.id)
		if err != nil {
			t.Fatal(err)
		}
		want, err := shard.Verify(ctx, pr.p, pr.id)
		if err != nil {
			t.Fatal(err)
		}
		if !v.OK || v.Head != want.Head {
			t.Errorf("%s on the replica: ok %v (%s), head %x; the shard's head %x", pr.id, v.OK, v.Problem, v.Head[:4], want.Head[:4])
		}
	}
	// Without the mark, such a record waits: a chain is never started
	// mid-way on a record's word alone.
	q2 := openTest(t)
	noStart := recs[second]
	noStart.PrevHash = nil
	res, err = q2.AppendReplica(ctx, &recorder.ReplicaBatch{Records: []recorder.Replica{noStart}})
	if err != nil || len(res.Stored) != 0 || res.Held != 1 {
		t.Fatalf("a mid-chain record without a start: %d stored, %d held (%v)", len(res.Stored), res.Held, err)
	}
}

// withoutOrigin is a replica as a store from before origins published
// it: no origin.
func withoutOrigin(recs []recorder.Replica) []recorder.Replica {
	out := slices.Clone(recs)
	for i := range out {
		out[i].Origin = ""
	}
	return out
}

// TestReplicaReportsASecondChain: records of one property from two
// stores that published without an origin (before origins existed) are
// two chains of the default origin; the replica keeps the first and
// reports, never skips silently, the other's records.
func TestReplicaReportsASecondChain(t *testing.T) {
	ctx := context.Background()
	_, recsA := shardStore(t, 11, testProps[:1], 30)
	_, recsB := shardStore(t, 12, testProps[:1], 30)
	recsA, recsB = withoutOrigin(recsA), withoutOrigin(recsB)
	q := openTest(t)
	res, err := q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: recsA})
	if err != nil || len(res.Stored) != 30 {
		t.Fatalf("first chain: %d stored, %v", len(res.Stored), err)
	}
	res, err = q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: recsB})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stored) != 0 || res.Duplicates != 0 || len(res.Problems)+res.Held != 30 || len(res.Problems) == 0 {
		t.Fatalf("second chain: %d stored, %d skipped as duplicates, %d problems, %d held; want every record reported or held",
			len(res.Stored), res.Duplicates, len(res.Problems), res.Held)
	}
	v, err := q.Verify(ctx, testProps[0].p, testProps[0].id)
	if err != nil || !v.OK || v.Records != 30 || v.Origin != "" {
		t.Fatalf("chain: %+v %v", v, err)
	}
}

// TestReplicaKeepsChainsPerOrigin: two stores record the same
// properties (a Telegram group whose poller moved between processes);
// their records, interleaved, partly out of order and partly twice,
// are all stored once on the replica, each origin's chain verifies as
// its store wrote it and says whose it is, queries answer with both
// origins' records in time order, and a purge keeps every chain
// verifiable.
func TestReplicaKeepsChainsPerOrigin(t *testing.T) {
	ctx := context.Background()
	a, recsA := shardStore(t, 13, testProps[:2], 400)
	b, recsB := shardStore(t, 14, testProps[:2], 400)
	if a.Origin() == b.Origin() || len(a.Origin()) != 16 || recsA[0].Origin != a.Origin() {
		t.Fatalf("origins %q and %q, published as %q", a.Origin(), b.Origin(), recsA[0].Origin)
	}
	rng := rand.New(rand.NewPCG(15, 16))
	stream := interleave(rng, 4, 8, recsA, recsB)
	q := openTest(t)
	stored, dups := appendStream(t, q, rng, stream, 30)
	if stored != 800 || dups == 0 {
		t.Fatalf("stored %d records (want 800), %d duplicates skipped (want some)", stored, dups)
	}

	checkChains := func(when string) {
		t.Helper()
		vs, err := q.VerifyAll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 4 {
			t.Fatalf("%s: %d chains on the replica, want 2 properties × 2 origins: %+v", when, len(vs), vs)
		}
		for _, v := range vs {
			shard := map[string]*Store{a.Origin(): a, b.Origin(): b}[v.Origin]
			if shard == nil {
				t.Fatalf("%s: chain of %s %s from origin %q, not one of the shards'", when, v.Platform, v.Property, v.Origin)
			}
			want, err := shard.Verify(ctx, v.Platform, v.Property)
			if err != nil {
				t.Fatal(err)
			}
			if !v.OK || v.Head != want.Head || v.Records != want.Records {
				t.Errorf("%s: %s %s from %s on the replica: ok %v, %d records, head %x; the shard: %d records, head %x (%s)",
					when, v.Platform, v.Property, v.Origin, v.OK, v.Records, v.Head[:4], want.Records, want.Head[:4], v.Problem)
			}
		}
	}
	checkChains("after replicating")

	all := func(s *Store, qu Query) (out []*audit.Event) {
		if err := s.Scan(ctx, qu, func(e *audit.Event) error { out = append(out, e); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, qu := range []Query{{Limit: MaxLimit}, {User: "u3", Limit: MaxLimit},
		{Platform: testProps[0].p, Property: testProps[0].id, Limit: MaxLimit}} {
		got, want := all(q, qu), append(all(a, qu), all(b, qu)...)
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("query %+v: %d records on the replica, %d on the shards", qu, len(got), len(want))
		}
		hashes := map[audit.ID]string{}
		for _, e := range want {
			hashes[e.ID] = string(e.Hash)
		}
		seen := map[audit.ID]bool{}
		for _, e := range got {
			if h, ok := hashes[e.ID]; !ok || h != string(e.Hash) || seen[e.ID] {
				t.Fatalf("query %+v: record %s on the replica is not the shards', or twice", qu, e.ID)
			}
			seen[e.ID] = true
		}
		ordered := slices.IsSortedFunc(got, func(x, y *audit.Event) int { return -cmpBytes(x.ID[:], y.ID[:]) }) ||
			slices.IsSortedFunc(got, func(x, y *audit.Event) int { return cmpBytes(x.ID[:], y.ID[:]) })
		if !ordered {
			t.Fatalf("query %+v: records not in time order", qu)
		}
	}

	// A purge removes records of both origins; their chains keep bridges.
	mid := testBase.Add(15 * 24 * time.Hour)
	n, err := q.Purge(ctx, testProps[0].p, testProps[0].id, mid)
	if err != nil || n == 0 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	for _, s := range []*Store{a, b} {
		if _, err := s.Purge(ctx, testProps[0].p, testProps[0].id, mid); err != nil {
			t.Fatal(err)
		}
	}
	checkChains("after a purge")
}

// TestReplicaOriginAfterDefault: a shard that published without an
// origin (an older release) and then with one keeps one record list on
// the replica: its records from before are the default origin's chain,
// those after start the origin's chain from the last of them, and both
// verify. The last record published before, published again with its
// origin after (a publish retried across the upgrade), is a duplicate.
func TestReplicaOriginAfterDefault(t *testing.T) {
	ctx := context.Background()
	a, recs := shardStore(t, 17, testProps[:1], 60)
	q := openTest(t)
	old := withoutOrigin(recs[:25])
	stream := append(append(old, recs[24]), recs[25:]...)
	res, err := q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: stream})
	if err != nil || len(res.Stored) != 60 || len(res.Problems) > 0 || res.Held > 0 || res.Duplicates != 1 {
		t.Fatalf("%d stored, %d held, %d duplicates, problems %v, %v", len(res.Stored), res.Held, res.Duplicates, res.Problems, err)
	}
	vs, err := q.VerifyChains(ctx, testProps[0].p, testProps[0].id)
	if err != nil {
		t.Fatal(err)
	}
	want, err := a.Verify(ctx, testProps[0].p, testProps[0].id)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Origin != "" || vs[1].Origin != a.Origin() || !vs[0].OK || !vs[1].OK ||
		vs[0].Records != 25 || vs[1].Records != 35 || vs[1].Head != want.Head {
		t.Fatalf("chains %+v", vs)
	}
	if v, err := q.Verify(ctx, testProps[0].p, testProps[0].id); err != nil || !v.OK || v.Records != 60 {
		t.Fatalf("the property: %+v %v", v, err)
	}
}

// TestReplicaRenamesCollidingIDs: two origins' records with one id (two
// stores numbering alike and recording in the same instant, as two
// copies of one seed do here, and as Telegram's whole-second dates make
// likely) never overwrite each other: the second is stored under the
// next free nanosecond, reported, and both chains verify with their
// shards' heads; delivered again, it is a duplicate; a purge and a
// salvage keep both chains verifying.
func TestReplicaRenamesCollidingIDs(t *testing.T) {
	ctx := context.Background()
	a, recsA := shardStore(t, 18, testProps[:1], 10)
	b, recsB := shardStore(t, 18, testProps[:1], 10)
	if recsA[0].Event.ID != recsB[0].Event.ID {
		t.Fatal("the two stores' ids differ; the test needs them equal")
	}
	qpath := filepath.Join(t.TempDir(), "query.db")
	q, err := Open(qpath, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: recsA}); err != nil || len(res.Stored) != 10 {
		t.Fatalf("first origin: %+v %v", res, err)
	}
	res, err := q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: slices.Clone(recsB)})
	if err != nil || len(res.Stored) != 10 || len(res.Problems) != 10 || !strings.Contains(res.Problems[0].Error(), "stored as") {
		t.Fatalf("colliding records: %d stored, problems %v, %v", len(res.Stored), res.Problems, err)
	}
	res, err = q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: recsB})
	if err != nil || len(res.Stored) != 0 || res.Duplicates != 10 || len(res.Problems) != 0 {
		t.Fatalf("delivered again: %d stored, %d duplicates, problems %v, %v", len(res.Stored), res.Duplicates, res.Problems, err)
	}
	check := func(s *Store, when string) {
		t.Helper()
		vs, err := s.VerifyChains(ctx, testProps[0].p, testProps[0].id)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 {
			t.Fatalf("%s: %d chains, want 2", when, len(vs))
		}
		for _, v := range vs {
			shard := map[string]*Store{a.Origin(): a, b.Origin(): b}[v.Origin]
			if shard == nil {
				t.Fatalf("%s: chain of origin %q", when, v.Origin)
			}
			want, err := shard.Verify(ctx, v.Platform, v.Property)
			if err != nil {
				t.Fatal(err)
			}
			if !v.OK || v.Head != want.Head || v.Records != want.Records {
				t.Errorf("%s: origin %s: %+v; its shard: %d records", when, v.Origin, v, want.Records)
			}
		}
	}
	check(q, "stored")
	var ids []audit.ID
	if err := q.Scan(ctx, Query{Limit: MaxLimit}, func(e *audit.Event) error { ids = append(ids, e.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ids, func(x, y audit.ID) int { return bytes.Compare(x[:], y[:]) })
	if len(ids) != 20 || len(slices.Compact(ids)) != 20 {
		t.Fatalf("%d records with distinct ids, want 20", len(slices.Compact(ids)))
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "salvaged.db")
	if _, err := Salvage(ctx, qpath, out); err != nil {
		t.Fatal(err)
	}
	sq, err := Open(out, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	check(sq, "salvaged")
	if n, err := sq.Purge(ctx, testProps[0].p, testProps[0].id, testBase.Add(15*24*time.Hour)); err != nil || n == 0 {
		t.Fatalf("purge: %d %v", n, err)
	}
	for _, s := range []*Store{a, b} {
		if _, err := s.Purge(ctx, testProps[0].p, testProps[0].id, testBase.Add(15*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	check(sq, "purged")
}

func cmpBytes(a, b []byte) int { return bytes.Compare(a, b) }

// TestSalvageKeepsOrigins: a salvaged copy of a shard's store keeps its
// origin (the copy goes on publishing the same chains), and a salvaged
// copy of a replica keeps each origin's chain, verifying with the same
// heads.
func TestSalvageKeepsOrigins(t *testing.T) {
	ctx := context.Background()
	a, recsA := shardStore(t, 19, testProps[:1], 50)
	b, recsB := shardStore(t, 20, testProps[:1], 50)
	qpath := filepath.Join(t.TempDir(), "query.db")
	q, err := Open(qpath, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := q.AppendReplica(ctx, &recorder.ReplicaBatch{Records: append(slices.Clone(recsA), recsB...)})
	if err != nil || len(res.Stored) != 100 {
		t.Fatalf("%d stored, %v %v", len(res.Stored), res.Problems, err)
	}
	before, err := q.VerifyAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	salvaged := func(path string) *Store {
		out := filepath.Join(t.TempDir(), "salvaged.db")
		if _, err := Salvage(ctx, path, out); err != nil {
			t.Fatal(err)
		}
		s, err := Open(out, Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	origin := a.Origin()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := salvaged(a.Path()).Origin(); got != origin {
		t.Errorf("the salvaged shard store's origin is %s, the original's %s", got, origin)
	}
	after, err := salvaged(qpath).VerifyAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 2 || len(after) != 2 {
		t.Fatalf("chains: %d before, %d after salvage; want 2", len(before), len(after))
	}
	for i := range after {
		v, w := after[i], before[i]
		if !v.OK || v.Origin != w.Origin || v.Head != w.Head || v.Records != w.Records || (v.Origin != a.Origin() && v.Origin != b.Origin()) {
			t.Errorf("chain %d after salvage: %+v; before: %+v", i, v, w)
		}
	}
}

// TestOutboxReplicasOfANewPropertyBeforeItsCacheEntry: a publisher (or a
// log-channel deliverer) may read the outbox between a commit that
// created a property and Append's publishing of that property in its
// cache; the entry is read from the file then, not refused as corrupt
// (which stopped a shard on CI).
func TestOutboxReplicasOfANewPropertyBeforeItsCacheEntry(t *testing.T) {
	s := openTest(t)
	e := genEvent(rand.New(rand.NewPCG(1, 2)))
	e.Platform, e.PropertyID = audit.Telegram, "-1001"
	if err := s.Append(context.Background(), &recorder.Batch{Events: []*audit.Event{e}, Routes: [][]recorder.Route{replicaRoute}}); err != nil {
		t.Fatal(err)
	}
	// The window: the commit is visible, the cache entry not yet.
	s.cacheMu.Lock()
	clear(s.propByNo)
	s.cacheMu.Unlock()
	out, err := s.OutboxReplicas(context.Background(), "cluster", "stream", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Replica.Event.Platform != audit.Telegram || out[0].Replica.Event.PropertyID != "-1001" {
		t.Fatalf("replicas %+v", out)
	}
	// The log channels' outbox is read the same way.
	e = genEvent(rand.New(rand.NewPCG(3, 4)))
	e.Platform, e.PropertyID = audit.Discord, "42"
	route := []recorder.Route{{Sink: "discord", Target: "log"}}
	if err := s.Append(context.Background(), &recorder.Batch{Events: []*audit.Event{e}, Routes: [][]recorder.Route{route}}); err != nil {
		t.Fatal(err)
	}
	s.cacheMu.Lock()
	clear(s.propByNo)
	s.cacheMu.Unlock()
	pending, err := s.OutboxPending(context.Background(), "discord", "log", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].Event == nil || pending[0].Event.PropertyID != "42" {
		t.Fatalf("deliveries %+v", pending)
	}
}
