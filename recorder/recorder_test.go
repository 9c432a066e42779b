package recorder

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/chatwarden/chatwarden/audit"
)

// memJournal is an in-memory Journal that can fail or stall on demand.
type memJournal struct {
	mu      sync.Mutex
	batches [][]*audit.Event
	cursors []Cursor
	seq     uint64
	failN   int           // fail this many Appends first
	gate    chan struct{} // when set, Append waits for it
	appends atomic.Int64
}

func (j *memJournal) Append(ctx context.Context, b *Batch) error {
	j.appends.Add(1)
	if j.gate != nil {
		<-j.gate
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failN > 0 {
		j.failN--
		return errors.New("disk full")
	}
	for _, e := range b.Events {
		j.seq++
		e.Seq = j.seq
	}
	j.batches = append(j.batches, b.Events)
	j.cursors = append(j.cursors, b.Cursors...)
	return nil
}

func (j *memJournal) committed() []*audit.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*audit.Event
	for _, b := range j.batches {
		out = append(out, b...)
	}
	return out
}

func testEvent(actor string) *audit.Event {
	return &audit.Event{Platform: audit.Discord, PropertyID: "g", Type: audit.ChatMessage, Function: audit.FuncGateway,
		ActorType: audit.ActorNonAdmin, ActorID: actor}
}

func TestRecorderGroupsConcurrentCallers(t *testing.T) {
	j := &memJournal{gate: make(chan struct{})}
	r := New(j, Options{MaxDelay: 50 * time.Millisecond})
	defer r.Close(context.Background())
	// The first call's commit is held at the gate; 50 more callers queue
	// behind it and must share the next transaction.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Record(context.Background(), testEvent("first")) }()
	for j.appends.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Record(context.Background(), testEvent("x")); err != nil {
				t.Error(err)
			}
		}()
	}
	for r.inflight.Load() < 51 {
		time.Sleep(time.Millisecond)
	}
	close(j.gate)
	wg.Wait()
	if n := len(j.batches); n != 2 {
		t.Fatalf("51 callers took %d transactions, want 2", n)
	}
	if got := len(j.committed()); got != 51 {
		t.Fatalf("%d events committed, want 51", got)
	}
}

func TestRecorderReturnsOnlyAfterCommit(t *testing.T) {
	j := &memJournal{gate: make(chan struct{})}
	r := New(j, Options{})
	defer r.Close(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Record(context.Background(), testEvent("a")) }()
	select {
	case <-done:
		t.Fatal("Record returned before the journal committed")
	case <-time.After(50 * time.Millisecond):
	}
	close(j.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(j.committed()) != 1 {
		t.Fatal("event not committed")
	}
}

func TestRecorderSubscribersSeeCommitOrder(t *testing.T) {
	j := &memJournal{}
	r := New(j, Options{})
	var mu sync.Mutex
	var seen []uint64
	r.Subscribe(func(evs []*audit.Event) {
		mu.Lock()
		for _, e := range evs {
			seen = append(seen, e.Seq)
		}
		mu.Unlock()
	})
	var wg sync.WaitGroup
	for p := 0; p < 8; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if err := r.Record(context.Background(), testEvent("p"), testEvent("q")); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1600 {
		t.Fatalf("subscribers saw %d events, want 1600", len(seen))
	}
	for i, s := range seen {
		if s != uint64(i+1) {
			t.Fatalf("subscriber saw seq %d at position %d: not commit order", s, i)
		}
	}
}

func TestRecorderRetriesFailedCommits(t *testing.T) {
	j := &memJournal{failN: 3}
	r := New(j, Options{})
	defer r.Close(context.Background())
	if err := r.Record(context.Background(), testEvent("a")); err != nil {
		t.Fatalf("Record after transient failures: %v", err)
	}
	if r.Stats().Failures.Load() != 3 || len(j.committed()) != 1 {
		t.Fatalf("failures %d, committed %d", r.Stats().Failures.Load(), len(j.committed()))
	}
}

func TestRecorderCallerTimeoutKeepsEvents(t *testing.T) {
	j := &memJournal{gate: make(chan struct{})}
	r := New(j, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := r.Record(ctx, testEvent("a")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline exceeded", err)
	}
	close(j.gate)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(j.committed()) != 1 {
		t.Fatal("an accepted event was dropped when its caller gave up waiting")
	}
}

func TestRecorderBackpressure(t *testing.T) {
	j := &memJournal{gate: make(chan struct{})}
	r := New(j, Options{QueueSize: 2})
	var accepted atomic.Int64
	if err := r.Submit(context.Background(), nil, testEvent("first")); err != nil {
		t.Fatal(err)
	}
	accepted.Add(1)
	for j.appends.Load() == 0 { // the first batch is now held in the journal
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 9; i++ {
		go func() {
			if r.Submit(context.Background(), nil, testEvent("a")) == nil {
				accepted.Add(1)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	// One batch is held in the journal and two requests fill the queue: the
	// rest wait instead of being dropped.
	if n := accepted.Load(); n != 3 {
		t.Fatalf("%d submissions accepted with one held and a queue of 2, want 3", n)
	}
	close(j.gate)
	for deadline := time.Now().Add(5 * time.Second); accepted.Load() < 10; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 10 waiting submissions got in once the journal moved", accepted.Load())
		}
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(j.committed()); got != 10 {
		t.Fatalf("%d committed, want 10", got)
	}
}

func TestRecorderRejectsInvalidAndClosed(t *testing.T) {
	j := &memJournal{}
	r := New(j, Options{})
	bad := testEvent("a")
	bad.Type = 0
	if err := r.Record(context.Background(), testEvent("ok"), bad); !errors.Is(err, audit.ErrInvalidEvent) {
		t.Fatalf("invalid event: %v", err)
	}
	if err := r.Record(context.Background(), nil); !errors.Is(err, audit.ErrInvalidEvent) {
		t.Fatalf("nil event: %v", err)
	}
	if len(j.committed()) != 0 {
		t.Fatal("a call with an invalid event committed part of it")
	}
	if err := r.RecordCursor(context.Background(), Cursor{Name: "c", Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if len(j.cursors) != 1 {
		t.Fatal("cursor-only record not committed")
	}
	r.Close(context.Background())
	if err := r.Record(context.Background(), testEvent("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestRecorderRoutesAndPrepares(t *testing.T) {
	var got *Batch
	j := journalFunc(func(ctx context.Context, b *Batch) error { got = b; return nil })
	r := New(j, Options{
		Prepare: func(e *audit.Event) { e.Content = "" },
		Routers: []Router{RouterFunc(func(e *audit.Event) []Route { return []Route{{Sink: "discord", Target: e.ActorID}} })},
	})
	e := testEvent("u1")
	e.Content = "private"
	if err := r.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	r.Close(context.Background())
	if got.Events[0].Content != "" || len(got.Routes) != 1 || got.Routes[0][0].Target != "u1" {
		t.Fatalf("batch %+v", got)
	}
}

// TestAddRouter: a router added after New decides the routes of the
// events committed after it, after the routers already there.
func TestAddRouter(t *testing.T) {
	var got *Batch
	j := journalFunc(func(ctx context.Context, b *Batch) error { got = b; return nil })
	to := func(target string) Router {
		return RouterFunc(func(*audit.Event) []Route { return []Route{{Sink: "discord", Target: target}} })
	}
	r := New(j, Options{Routers: []Router{to("first")}})
	defer r.Close(context.Background())
	if err := r.Record(context.Background(), testEvent("u1")); err != nil {
		t.Fatal(err)
	}
	if len(got.Routes[0]) != 1 {
		t.Fatalf("routes before AddRouter: %+v", got.Routes)
	}
	r.AddRouter(to("second"))
	if err := r.Record(context.Background(), testEvent("u2")); err != nil {
		t.Fatal(err)
	}
	if rs := got.Routes[0]; len(rs) != 2 || rs[0].Target != "first" || rs[1].Target != "second" {
		t.Fatalf("routes after AddRouter: %+v", rs)
	}
}

// A router's routes are used as returned, and a second router's are
// added without writing into the first one's memory.
func TestRoutersDoNotShareMemory(t *testing.T) {
	var got *Batch
	j := journalFunc(func(ctx context.Context, b *Batch) error { got = b; return nil })
	shared := make([]Route, 1, 8) // spare capacity a careless append would write into
	shared[0] = Route{Sink: "discord", Target: "log"}
	r := New(j, Options{Routers: []Router{
		RouterFunc(func(*audit.Event) []Route { return shared }),
		RouterFunc(func(e *audit.Event) []Route { return []Route{{Sink: "cluster", Target: e.ActorID}} }),
	}})
	defer r.Close(context.Background())
	for _, u := range []string{"u1", "u2"} {
		if err := r.Record(context.Background(), testEvent(u)); err != nil {
			t.Fatal(err)
		}
		if rs := got.Routes[0]; len(rs) != 2 || rs[0].Target != "log" || rs[1].Target != u {
			t.Fatalf("routes of %s: %+v", u, rs)
		}
	}
	if spare := shared[1:2]; spare[0] != (Route{}) {
		t.Fatalf("the first router's spare capacity was written: %+v", spare)
	}
}

type journalFunc func(ctx context.Context, b *Batch) error

func (f journalFunc) Append(ctx context.Context, b *Batch) error { return f(ctx, b) }

// countJournal commits without keeping anything.
type countJournal struct {
	gate    chan struct{}
	appends atomic.Int64
}

func (j *countJournal) Append(ctx context.Context, b *Batch) error {
	if j.appends.Add(1) == 1 && j.gate != nil {
		<-j.gate
	}
	return nil
}

// Once committed and handed to the subscribers, events are not kept by
// the recorder: not even those of its largest batch, whose requests the
// reused array of pending requests would otherwise still point to.
func TestRecorderKeepsNoCommittedEvents(t *testing.T) {
	j := &countJournal{gate: make(chan struct{})}
	r := New(j, Options{})
	defer r.Close(context.Background())
	ctx := context.Background()
	if err := r.Submit(ctx, nil, testEvent("first")); err != nil { // holds the journal at the gate
		t.Fatal(err)
	}
	for j.appends.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	const n = 500
	refs := make([]weak.Pointer[audit.Event], n)
	var wg sync.WaitGroup
	for i := range n {
		e := testEvent(fmt.Sprint("u", i))
		refs[i] = weak.Make(e)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Record(ctx, e); err != nil { // queued behind the gate: one large batch
				t.Error(err)
			}
		}()
	}
	for len(r.queue) < n {
		time.Sleep(time.Millisecond)
	}
	close(j.gate)
	wg.Wait()
	if err := r.Record(ctx, testEvent("later")); err != nil { // a small batch reuses the array
		t.Fatal(err)
	}
	if b := r.Stats().LastBatch.Load(); b != 1 {
		t.Fatalf("last batch of %d events, want 1", b)
	}
	runtime.GC()
	runtime.GC()
	kept := 0
	for _, p := range refs {
		if p.Value() != nil {
			kept++
		}
	}
	if kept > 0 {
		t.Fatalf("%d of %d committed events still reachable", kept, n)
	}
}
