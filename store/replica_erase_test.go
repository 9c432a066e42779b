package store

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// Personal data of the user erased on a shard, found in no other record.
const (
	fleetName   = "Ostrowska-Delacroix"
	fleetText   = "periwinkle-anvil-secret"
	fleetLate   = "tangerine-sextant-late"
	fleetUser   = "4242424242"
	fleetOther  = "other chatter kept everywhere"
	fleetOtherU = "5151515151"
)

// fleetMsg is a message of user in the erasure tests' property.
func fleetMsg(at time.Time, user, name, text string, i int) *audit.Event {
	return &audit.Event{Time: at, Platform: audit.Discord, PropertyID: eraseProp, Type: audit.ChatMessage,
		PlatformType: "MESSAGE_CREATE", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
		ActorID: user, ActorName: name, ChannelID: "42", MessageID: strconv.Itoa(300000 + i),
		Content: fmt.Sprintf("%s %d", text, i), Params: audit.Params{"display_name": name},
		Attachments: []audit.Attachment{{Name: name + ".png", URL: "https://cdn.example/" + text, Size: 10}}}
}

// publish appends evs routed to the stream and returns them as a
// publisher reads them from the outbox, emptying it.
func publish(t *testing.T, s *Store, evs ...*audit.Event) []recorder.Replica {
	t.Helper()
	b := &recorder.Batch{Events: evs}
	for range evs {
		b.Routes = append(b.Routes, replicaRoute)
	}
	if len(evs) > 0 {
		if err := s.Append(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	return drain(t, s)
}

// drain returns what the outbox holds for the stream, as sent over the
// wire, and empties it.
func drain(t *testing.T, s *Store) []recorder.Replica {
	t.Helper()
	out, err := s.OutboxReplicas(context.Background(), "cluster", "stream", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var recs []recorder.Replica
	var keys [][]byte
	for _, o := range out {
		recs = append(recs, overTheWire(t, o.Replica))
		keys = append(keys, o.Key)
	}
	if err := s.OutboxDone(context.Background(), keys...); err != nil {
		t.Fatal(err)
	}
	return recs
}

// eraseOnShard erases user on a shard as the online paths do and returns
// the erasure record as published.
func eraseOnShard(t *testing.T, s *Store, user string) []recorder.Replica {
	t.Helper()
	n, err := s.Erase(context.Background(), audit.Discord, eraseProp, user)
	if err != nil {
		t.Fatal(err)
	}
	e := &audit.Event{Time: time.Now(), Platform: audit.Discord, PropertyID: eraseProp, Type: audit.DataRetention,
		PlatformType: "api", Function: audit.FuncRetention, ActorType: audit.ActorSystem, ActorID: "operator",
		ActorName: "operator", TargetIDs: []string{user}}
	e.Params.Set(audit.ParamAction, audit.RetentionErase)
	e.Params.Set(audit.ParamCount, strconv.Itoa(n))
	recs := publish(t, s, e)
	if len(recs) != 1 {
		t.Fatalf("the erasure published %d records, want 1", len(recs))
	}
	return recs
}

func appendReplicas(t *testing.T, q *Store, recs []recorder.Replica) recorder.ReplicaResult {
	t.Helper()
	res, err := q.AppendReplica(context.Background(), &recorder.ReplicaBatch{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func verifyAllOK(t *testing.T, s *Store, want int) {
	t.Helper()
	vs, err := s.VerifyAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != want {
		t.Errorf("%d chains, want %d: %+v", len(vs), want, vs)
	}
	for _, v := range vs {
		if !v.OK {
			t.Errorf("chain %s %s (origin %q) does not verify after the erasure: %+v", v.Platform, v.Property, v.Origin, v)
		}
	}
}

// TestReplicaAppliesErasure: a query node that copied a user's records
// erases them when the shard's erasure record arrives, down to the bytes
// of its file, keeps everyone else's, and its chains still verify; the
// erasure holds for the records of another origin that were waiting for
// their predecessor and for that predecessor arriving afterwards, and a
// replica reading the whole stream from its start ends the same.
func TestReplicaAppliesErasure(t *testing.T) {
	ctx := context.Background()
	shard := openTest(t)
	other := openTest(t) // another process that recorded the property (a Telegram failover)
	base := time.Now().Add(-time.Hour)
	var evs []*audit.Event
	for i := range 400 {
		evs = append(evs, fleetMsg(base.Add(time.Duration(i)*time.Second), fleetUser, fleetName, fleetText, i),
			fleetMsg(base.Add(time.Duration(i)*time.Second), fleetOtherU, "kept", fleetOther, 1000+i))
	}
	stream := publish(t, shard, evs...)
	// The other origin's records of the user, from before the erasure,
	// published late: the first one after the rest.
	late := publish(t, other,
		fleetMsg(base.Add(500*time.Second), fleetUser, fleetName, fleetLate, 1),
		fleetMsg(base.Add(501*time.Second), fleetUser, fleetName, fleetLate, 2),
		fleetMsg(base.Add(502*time.Second), fleetOtherU, "kept", fleetOther, 3))

	q := openTest(t)
	appendReplicas(t, q, stream)
	if res := appendReplicas(t, q, late[1:]); res.Held != 2 {
		t.Fatalf("the other origin's records after its first: %d held, want 2", res.Held)
	}
	if hits := fileHits(t, q.Path(), fleetText, fleetLate); hits < 400 {
		t.Fatalf("before the erasure the replica's file holds %d copies of the user's texts, want >= 400 (the test would prove nothing)", hits)
	}

	erasure := eraseOnShard(t, shard, fleetUser)
	res := appendReplicas(t, q, erasure)
	if res.Erasures != 1 || res.Erased != 400+1 {
		t.Errorf("the erasure record: %d erasures applied, %d records erased; want 1 and 401 (400 stored, 1 held)", res.Erasures, res.Erased)
	}
	if hits := fileHits(t, q.Path(), fleetText, fleetLate, fleetName); hits != 0 {
		t.Errorf("after the erasure the replica's file holds %d copies of the erased user's texts or names", hits)
	}
	// The late predecessor arrives: stored without its personal part, and
	// it releases the held records.
	res = appendReplicas(t, q, late[:1])
	if res.Erased != 1 || len(res.Stored) != 3 {
		t.Errorf("the late record: %d erased, %d stored; want 1 and 3", res.Erased, len(res.Stored))
	}
	for _, e := range res.Stored {
		if e.ActorID == fleetUser && !e.Redacted {
			t.Errorf("record %s of the erased user was handed on with its personal part", e.ID)
		}
	}
	// The stream read again (a duplicate of everything) changes nothing.
	appendReplicas(t, q, stream)
	if hits := fileHits(t, q.Path(), fleetText, fleetLate, fleetName); hits != 0 {
		t.Errorf("after the late record and a replay the replica's file holds %d copies of the erased user's texts or names", hits)
	}
	if hits := fileHits(t, q.Path(), fleetOther); hits < 401 {
		t.Errorf("the replica's file holds %d of the 401 messages of others", hits)
	}
	verifyAllOK(t, q, 2)
	got, err := q.Query(ctx, Query{Platform: audit.Discord, Property: eraseProp, User: fleetUser, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 403 {
		t.Errorf("the user's records on the replica: %d, want 403 (400, 2 late, the erasure)", len(got.Events))
	}
	for _, e := range got.Events {
		if e.Type == audit.ChatMessage && (!e.Redacted || e.Content != "" || e.ActorName != "") {
			t.Errorf("record %s of the erased user kept its personal part: %+v", e.ID, e)
		}
	}
	if es, err := q.Erasures(); err != nil || len(es) != 1 {
		t.Errorf("erasures remembered: %v, %v; want one", es, err)
	}

	// A new query node reads the stream from its start, the late records
	// after the erasure, all in one batch.
	fresh := openTest(t)
	all := append(append(append([]recorder.Replica{}, stream...), late[1:]...), erasure...)
	all = append(all, late[:1]...)
	appendReplicas(t, fresh, all)
	if hits := fileHits(t, fresh.Path(), fleetText, fleetLate, fleetName); hits != 0 {
		t.Errorf("a replica that read the whole stream holds %d copies of the erased user's texts or names", hits)
	}
	verifyAllOK(t, fresh, 2)
}

// TestReplicaErasureKeepsLaterRecords: an erasure reaches the records
// before it only; what the user does afterwards is recorded as usual,
// on the shard and on the replica.
func TestReplicaErasureKeepsLaterRecords(t *testing.T) {
	shard := openTest(t)
	q := openTest(t)
	base := time.Now().Add(-time.Hour)
	appendReplicas(t, q, publish(t, shard, fleetMsg(base, fleetUser, fleetName, fleetText, 1)))
	appendReplicas(t, q, eraseOnShard(t, shard, fleetUser))
	const after = "after-the-erasure-kept"
	appendReplicas(t, q, publish(t, shard, fleetMsg(time.Now().Add(time.Second), fleetUser, "back again", after, 2)))
	if hits := fileHits(t, q.Path(), fleetText); hits != 0 {
		t.Errorf("the replica holds %d copies of the erased text", hits)
	}
	if hits := fileHits(t, q.Path(), after); hits == 0 {
		t.Error("the replica dropped the personal part of a record made after the erasure")
	}
	verifyAllOK(t, q, 1)
}
