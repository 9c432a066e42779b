package cluster_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/cluster/clustertest"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// The scaffolding the package's tests share: NATS servers, shards
// (fixture), query nodes, records, and waiting for what runs in the
// background.

func startNATS(t *testing.T, port int, dir string) *server.Server {
	return clustertest.StartNATS(t, port, dir)
}

// eventually polls cond until it holds, failing after a generous bound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type fixture struct {
	store *store.Store
	rec   *recorder.Recorder
	pub   *cluster.Publisher
	stop  func()
}

// msgID is the message id of a record of the fixture's store.
func (f *fixture) msgID(e *audit.Event) string {
	return cluster.MsgID(recorder.Replica{Event: e, Origin: f.store.Origin()})
}

func newFixture(t *testing.T, url string) *fixture {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "shard.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := recorder.New(s, recorder.Options{Routers: []recorder.Router{cluster.Router()}})
	pub, err := cluster.New(cluster.Options{Conn: cluster.Conn{URL: url}, Stream: "CW", Outbox: s, AckTimeout: time.Second,
		Batch: 64, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	rec.Subscribe(pub.Committed)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pub.Run(ctx) }()
	var once sync.Once
	f := &fixture{store: s, rec: rec, pub: pub}
	f.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("publisher: %v", err)
			}
			rec.Close(context.Background())
			s.Close()
		})
	}
	t.Cleanup(f.stop)
	return f
}

func event(property string, i int) *audit.Event {
	return &audit.Event{Platform: audit.Discord, PropertyID: property, Type: audit.ChatMessage, Function: audit.FuncGateway,
		ActorType: audit.ActorNonAdmin, ActorID: fmt.Sprintf("u%d", i), Content: fmt.Sprintf("message %d", i)}
}

// jetStream connects to the server at url for the test's own reads.
func jetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// run runs fn until the test ends, failing the test if it fails.
func run(t *testing.T, fn func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func total(s *store.Store) (n uint64) {
	for _, p := range s.Properties() {
		n += p.Count
	}
	return n
}

// openStore opens a store of the test's own, without fsync, closed when
// the test ends.
func openStore(t *testing.T, name string) *store.Store {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), name), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// queryNode is a query node's store and recorder; its consumers copy the
// stream CW into them.
type queryNode struct {
	t     *testing.T
	url   string
	store *store.Store
	rec   *recorder.Recorder
}

func newQueryNode(t *testing.T, url string) *queryNode {
	t.Helper()
	s := openStore(t, "query.db")
	rec := recorder.New(s, recorder.Options{})
	t.Cleanup(func() { rec.Close(context.Background()) })
	return &queryNode{t: t, url: url, store: s, rec: rec}
}

// consumer makes a consumer of the stream that commits through rec (the
// node's recorder or a wrapper of it), batch records at a time; the test
// runs it.
func (q *queryNode) consumer(rec cluster.Recorder, batch int) *cluster.Consumer {
	q.t.Helper()
	c, err := cluster.NewConsumer(cluster.ConsumerOptions{Conn: cluster.Conn{URL: q.url}, Stream: "CW",
		Recorder: rec, Cursors: q.store, Logger: zerolog.Nop(), Batch: batch})
	if err != nil {
		q.t.Fatal(err)
	}
	return c
}
