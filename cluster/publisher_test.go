package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// streamRecords reads the whole stream: the message ids and, per id, how
// many times it is stored.
func streamRecords(t *testing.T, url string, want int) map[string]int {
	t.Helper()
	js := jetStream(t, url)
	ctx := context.Background()
	cons, err := js.OrderedConsumer(ctx, "CW", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "CW")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int(info.State.Msgs) != want {
		t.Errorf("the stream holds %d messages, want %d", info.State.Msgs, want)
	}
	got := map[string]int{}
	for range info.State.Msgs {
		m, err := cons.Next()
		if err != nil {
			t.Fatal(err)
		}
		var e audit.Event
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			t.Fatalf("message %s: %v", m.Subject(), err)
		}
		id := cluster.MsgID(recorder.Replica{Event: &e, Origin: m.Headers().Get(cluster.HeaderOrigin)})
		if m.Subject() != cluster.Subject(e.Platform, e.PropertyID) || m.Headers().Get(jetstream.MsgIDHeader) != id {
			t.Errorf("message %s id %s holds %s", m.Subject(), m.Headers().Get(jetstream.MsgIDHeader), id)
		}
		got[id]++
	}
	return got
}

// TestOutageLosesNothing stops the NATS server mid-stream and starts it
// again: every record recorded before, during and after the outage is in
// the stream exactly once, and the outbox is empty.
func TestOutageLosesNothing(t *testing.T) {
	dir := t.TempDir()
	ns := startNATS(t, 0, dir)
	port := ns.Addr().String()
	url := ns.ClientURL()
	f := newFixture(t, url)
	ctx := context.Background()

	var ids []string
	record := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			e := event([]string{"g1", "g2", "g.3"}[i%3], i)
			if err := f.rec.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, f.msgID(e))
		}
	}
	depth := func() int {
		n, err := f.pub.Depth()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	record(0, 100)
	eventually(t, "the first records published", func() bool { return depth() == 0 })
	if err := f.pub.Ready(ctx); err != nil {
		t.Fatalf("ready while caught up: %v", err)
	}

	// Mid-stream: records keep coming while the server goes away.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); ns.Shutdown(); ns.WaitForShutdown() }()
	record(100, 200)
	wg.Wait()
	record(200, 300)
	if depth() == 0 {
		t.Fatal("the outbox is empty while NATS is down")
	}
	err := f.pub.Ready(ctx)
	if err == nil || !strings.Contains(err.Error(), "waiting in the outbox") {
		t.Fatalf("ready while NATS is down: %v", err)
	}

	_, portStr, _ := strings.Cut(port, ":")
	var p int
	fmt.Sscan(portStr, &p)
	startNATS(t, p, dir)
	record(300, 400)
	eventually(t, "the outbox drained after the restart", func() bool { return depth() == 0 })
	eventually(t, "ready again", func() bool { return f.pub.Ready(ctx) == nil })

	got := streamRecords(t, url, len(ids))
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("record %s is in the stream %d times", id, got[id])
		}
	}
	if len(got) != len(ids) {
		t.Errorf("the stream holds %d records, %d were recorded", len(got), len(ids))
	}
}

// TestRetriedPublishLandsOnce publishes a record twice, as a publisher
// does when an acknowledgement was lost: the stream keeps one.
func TestRetriedPublishLandsOnce(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	url := ns.ClientURL()
	f := newFixture(t, url)
	e := event("g1", 1)
	if err := f.rec.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	eventually(t, "published", func() bool { n, _ := f.pub.Depth(); return n == 0 })

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	msg, err := cluster.Message(recorder.Replica{Event: e, Origin: f.store.Origin()})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.PublishMsg(context.Background(), msg, jetstream.WithMsgID(f.msgID(e)))
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Duplicate {
		t.Fatal("a second publish of the record was not recognised as a duplicate")
	}
	if got := streamRecords(t, url, 1); got[f.msgID(e)] != 1 {
		t.Fatalf("stream %v", got)
	}
}

// TestSubject keeps subjects valid whatever the property id holds.
func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		p    audit.Platform
		id   string
		want string
	}{
		{audit.Discord, "123456789", "chatwarden.records.discord.123456789"},
		{audit.Telegram, "-100123", "chatwarden.records.telegram.-100123"},
		{audit.Discord, "a.b*c>d e", "chatwarden.records.discord.a_b_c_d_e"},
		{audit.Discord, "", "chatwarden.records.discord._"},
	} {
		if got := cluster.Subject(tc.p, tc.id); got != tc.want {
			t.Errorf("Subject(%v, %q) = %q, want %q", tc.p, tc.id, got, tc.want)
		}
	}
}

// TestNewRejectsMissingFiles: a credentials file that is not there is an
// error at start, naming the file but nothing in it.
func TestNewRejectsMissingFiles(t *testing.T) {
	_, err := cluster.New(cluster.Options{Conn: cluster.Conn{URL: "nats://127.0.0.1:1",
		Credentials: filepath.Join(t.TempDir(), "missing.creds")}, Stream: "CW", Outbox: (*store.Store)(nil)})
	if err == nil || !strings.Contains(err.Error(), "missing.creds") {
		t.Fatalf("error %v", err)
	}
}

// TestPublishOnlyCredentials: with permissions to publish records and
// nothing else of JetStream's API, the publisher still publishes to a
// stream an operator created.
func TestPublishOnlyCredentials(t *testing.T) {
	admin := &server.User{Username: "admin", Password: "admin-pw"}
	shardUser := &server.User{Username: "shard", Password: "shard-pw", Permissions: &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{cluster.SubjectPrefix + ".>"}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true, Users: []*server.User{admin, shardUser}})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(30 * time.Second) {
		t.Fatal("not ready")
	}
	addr := ns.Addr().String()
	adminURL := "nats://admin:admin-pw@" + addr
	nc, err := nats.Connect(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "CW", Subjects: []string{cluster.SubjectPrefix + ".>"}}); err != nil {
		t.Fatal(err)
	}

	f := newFixture(t, "nats://shard:shard-pw@"+addr)
	e := event("g1", 1)
	if err := f.rec.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	eventually(t, "published with publish-only permissions", func() bool { n, _ := f.pub.Depth(); return n == 0 })
	if got := streamRecords(t, adminURL, 1); got[f.msgID(e)] != 1 {
		t.Fatalf("stream %v", got)
	}
}

// TestMessageCarriesTheChain: a record's message gives a query node back
// every field of the replica, and a message that is not a record is an
// error, not a panic.
func TestMessageCarriesTheChain(t *testing.T) {
	e := event("g1", 7)
	e.ID, e.Seq, e.Hash = audit.MakeID(time.Now(), 42), 42, make([]byte, 32)
	e.Hash[0] = 9
	in := recorder.Replica{Event: e, PrevSeq: 40, Nonce: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Digest: make([]byte, 32), PrevHash: make([]byte, 32)}
	in.Digest[1], in.PrevHash[2] = 3, 4
	m, err := cluster.Message(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cluster.ParseMessage(m.Header, m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if out.Event.ID != e.ID || out.Event.Seq != 42 || string(out.Event.Hash) != string(e.Hash) || out.PrevSeq != 40 ||
		string(out.Nonce) != string(in.Nonce) || string(out.Digest) != string(in.Digest) || string(out.PrevHash) != string(in.PrevHash) {
		t.Fatalf("replica %+v came back as %+v", in, out)
	}
	for _, bad := range []struct {
		h    nats.Header
		data string
	}{
		{nats.Header{}, "not json"},
		{nats.Header{}, "{}"},
		{nats.Header{cluster.HeaderPrevSeq: {"x"}}, string(m.Data)},
		{nats.Header{cluster.HeaderNonce: {"zz"}}, string(m.Data)},
	} {
		if _, err := cluster.ParseMessage(bad.h, []byte(bad.data)); err == nil {
			t.Errorf("%v %q parsed as a record", bad.h, bad.data)
		}
	}
}
