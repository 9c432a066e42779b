package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// The erased member's personal data, found in no other record.
const (
	fleetUser = "424242424242"
	fleetName = "Nakashima-Oyelaran"
	fleetText = "saffron-quarry-whisper"
	fleetLate = "cobalt-lighthouse-late"
)

func fleetMessage(at time.Time, user, name, text string, i int) *audit.Event {
	return &audit.Event{Time: at, Platform: audit.Discord, PropertyID: "g1", Type: audit.ChatMessage, PlatformType: "MESSAGE_CREATE",
		Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: user, ActorName: name, ChannelID: "c1",
		MessageID: fmt.Sprint(1000 + i), Content: fmt.Sprintf("%s %d", text, i)}
}

// fileHits counts the copies of the needles in a database file's bytes.
func fileHits(t *testing.T, path string, needles ...string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0 // a running server's temporary file, gone meanwhile
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range needles {
		n += bytes.Count(b, []byte(s))
	}
	return n
}

// runningNode is a query node's store with its consumer running.
type runningNode struct {
	store *store.Store
	c     *cluster.Consumer
	stop  func()
}

func startQueryNode(t *testing.T, url, path string) *runningNode {
	t.Helper()
	qs, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	qrec := recorder.New(qs, recorder.Options{})
	c, err := cluster.NewConsumer(cluster.ConsumerOptions{Conn: cluster.Conn{URL: url}, Stream: "CW",
		Recorder: qrec, Cursors: qs, Logger: zerolog.Nop(), Batch: 32})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	q := &runningNode{store: qs, c: c}
	q.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
		}
		qrec.Close(context.Background())
		qs.Close()
	}
	t.Cleanup(q.stop)
	return q
}

func (q *runningNode) caughtUp(t *testing.T, want uint64) {
	t.Helper()
	eventually(t, fmt.Sprintf("the query node holds %d records", want), func() bool {
		return total(q.store) == want && q.c.Ready(context.Background()) == nil
	})
}

// TestErasureReachesQueryNodes: a member erased online on a shard
// (command.Erase, as the HTTP endpoint and the chat commands do) is
// erased on the query node too, down to the bytes of its file; a record
// of the member from before the erasure that another process publishes
// after it is stored there without its personal part; a restarted query
// node and a new one reading the stream from its start, which still
// holds the original messages, end the same; every chain verifies.
func TestErasureReachesQueryNodes(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	url := ns.ClientURL()
	shard := newFixture(t, url)
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	for i := range 150 {
		if err := shard.rec.Record(ctx, fleetMessage(base.Add(time.Duration(i)*time.Second), fleetUser, fleetName, fleetText, i),
			fleetMessage(base.Add(time.Duration(i)*time.Second), "515151", "kept", "ordinary chatter", 500+i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "published", func() bool { n, _ := shard.pub.Depth(); return n == 0 })

	// Another process recorded the member too (a Telegram poller that
	// failed over), before the erasure; it publishes after it.
	otherStore, err := store.Open(filepath.Join(t.TempDir(), "other.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer otherStore.Close()
	late := fleetMessage(base.Add(200*time.Second), fleetUser, fleetName, fleetLate, 1)
	if err := otherStore.Append(ctx, &recorder.Batch{Events: []*audit.Event{late}, Routes: [][]recorder.Route{{{Sink: cluster.Sink, Target: "stream"}}}}); err != nil {
		t.Fatal(err)
	}
	pending, err := otherStore.OutboxReplicas(ctx, cluster.Sink, "stream", 10)
	if err != nil || len(pending) != 1 {
		t.Fatalf("the other process's record: %v, %v", pending, err)
	}

	qpath := filepath.Join(t.TempDir(), "query.db")
	q := startQueryNode(t, url, qpath)
	q.caughtUp(t, 300)
	if hits := fileHits(t, qpath, fleetText); hits < 150 {
		t.Fatalf("before the erasure the query node's file holds %d copies of the member's messages, want >= 150", hits)
	}

	n, err := command.Erase(ctx, shard.store, shard.rec, audit.Discord, "g1", fleetUser, command.Admin{ID: "900", Name: "Moderator"}, command.EraseByCommand)
	if err != nil || n != 150 {
		t.Fatalf("erase on the shard: %d, %v; want 150 records", n, err)
	}
	eventually(t, "the erasure published", func() bool { n, _ := shard.pub.Depth(); return n == 0 })
	q.caughtUp(t, 301)
	// The records change in the commit that stores the erasure; the freed
	// pages are overwritten right after it (store.AppendReplica returns
	// then), while the new count is already visible.
	eventually(t, "the query node's file without the member's messages or name", func() bool {
		return fileHits(t, qpath, fleetText, fleetName) == 0
	})
	if hits := fileHits(t, qpath, "ordinary chatter"); hits < 150 {
		t.Errorf("the query node's file holds %d of the 150 messages of others", hits)
	}

	// The late record, published after the erasure with an earlier id.
	m, err := cluster.Message(pending[0].Replica)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jetStream(t, url).PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	q.caughtUp(t, 302)
	if hits := fileHits(t, qpath, fleetLate, fleetName); hits != 0 {
		t.Errorf("the late record of the erased member was stored with its personal part (%d copies)", hits)
	}

	// A restart reads on from its position; a new query node reads the
	// whole stream, whose messages still carry the erased data.
	q.stop()
	q = startQueryNode(t, url, qpath)
	q.caughtUp(t, 302)
	fpath := filepath.Join(t.TempDir(), "fresh.db")
	fresh := startQueryNode(t, url, fpath)
	fresh.caughtUp(t, 302)
	for _, node := range []*runningNode{q, fresh} {
		path := node.store.Path()
		eventually(t, filepath.Base(path)+" without the erased member's messages or name", func() bool {
			return fileHits(t, path, fleetText, fleetLate, fleetName) == 0
		})
		vs, err := node.store.VerifyAll(ctx)
		if err != nil || len(vs) != 2 {
			t.Fatalf("%s: chains %+v, %v; want the shard's and the other process's", filepath.Base(path), vs, err)
		}
		for _, v := range vs {
			if !v.OK {
				t.Errorf("%s: chain of origin %q does not verify: %+v", filepath.Base(path), v.Origin, v)
			}
		}
		page, err := node.store.Query(ctx, store.Query{Platform: audit.Discord, Property: "g1", Types: []audit.EventType{audit.DataRetention}, Limit: 10})
		if err != nil || len(page.Events) != 1 || page.Events[0].ActorID != "900" || page.Events[0].TargetIDs[0] != fleetUser {
			t.Errorf("%s: the erasure's record: %+v, %v", filepath.Base(path), page.Events, err)
		}
	}
}

// allMessages reads every message of the stream whole.
func allMessages(t *testing.T, url string) []jetstream.Msg {
	t.Helper()
	js := jetStream(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, "CW", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			out = append(out, m)
		}
		if n == 0 {
			return out
		}
	}
}

// filesHits counts the copies of the needles in every file under dir.
func filesHits(t *testing.T, dir string, needles ...string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		n += fileHits(t, path, needles...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestErasureLeavesTheStream: after a member's erasure on a shard, its
// publisher replaces each of the member's messages in the stream by an
// erased copy and deletes the original securely: no message of the
// stream, and no file of the NATS server, holds the member's text or
// name; a query node that had copied them counts the copies as
// duplicates, and a new one reading the stream from its start links
// every chain (the copies fill the deleted messages' places), holds
// nothing of the member, and verifies.
func TestErasureLeavesTheStream(t *testing.T) {
	natsDir := t.TempDir()
	ns := startNATS(t, 0, natsDir)
	url := ns.ClientURL()
	shard := newFixture(t, url)
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	for i := range 60 {
		if err := shard.rec.Record(ctx, fleetMessage(base.Add(time.Duration(i)*time.Second), fleetUser, fleetName, fleetText, i),
			fleetMessage(base.Add(time.Duration(i)*time.Second), "515151", "kept", "ordinary chatter", 500+i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "published", func() bool { n, _ := shard.pub.Depth(); return n == 0 })
	q := startQueryNode(t, url, filepath.Join(t.TempDir(), "query.db"))
	q.caughtUp(t, 120)
	if hits := filesHits(t, natsDir, fleetText); hits < 60 {
		t.Fatalf("the NATS server's files hold %d copies of the member's messages before the erasure, want >= 60", hits)
	}

	if _, err := command.Erase(ctx, shard.store, shard.rec, audit.Discord, "g1", fleetUser, command.Admin{}, command.EraseByAPI); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the erasure carried out in the stream", func() bool {
		n, _ := shard.pub.Depth()
		left, err := cluster.StreamErasures(shard.store)
		return err == nil && n == 0 && left == 0
	})
	msgs := allMessages(t, url)
	copies := 0
	for _, m := range msgs {
		if bytes.Contains(m.Data(), []byte(fleetText)) || bytes.Contains(m.Data(), []byte(fleetName)) {
			t.Fatalf("message %s of the stream still holds the member's personal data", m.Headers().Get(jetstream.MsgIDHeader))
		}
		if strings.HasSuffix(m.Headers().Get(jetstream.MsgIDHeader), "/erased") {
			copies++
		}
	}
	if copies != 60 || len(msgs) != 121 {
		t.Errorf("the stream holds %d messages with %d erased copies, want 121 (60 kept, 60 copies, the erasure) and 60", len(msgs), copies)
	}
	if hits := filesHits(t, natsDir, fleetText, fleetName); hits != 0 {
		t.Errorf("the NATS server's files hold %d copies of the erased member's text or name", hits)
	}

	q.caughtUp(t, 121)
	fresh := startQueryNode(t, url, filepath.Join(t.TempDir(), "fresh.db"))
	fresh.caughtUp(t, 121)
	for _, node := range []*runningNode{q, fresh} {
		eventually(t, filepath.Base(node.store.Path())+" without the member's text or name", func() bool {
			return fileHits(t, node.store.Path(), fleetText, fleetName) == 0
		})
		v, err := node.store.Verify(ctx, audit.Discord, "g1")
		if err != nil || !v.OK || v.Records != 121 {
			t.Errorf("%s: %+v, %v; want 121 records verifying", filepath.Base(node.store.Path()), v, err)
		}
	}
}
