package workqueue

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "q.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

type recorder struct {
	mu   sync.Mutex
	seen map[string][]int
	gate chan struct{} // closed when jobs may run; nil: at once
}

func (r *recorder) run(key string, job int) {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string][]int{}
	}
	r.seen[key] = append(r.seen[key], job)
}

func (r *recorder) jobs(key string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen[key])
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func flush(t *testing.T, q *Queue[int]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSpillKeepsOrderWithoutBlocking(t *testing.T) {
	st := openStore(t)
	r := &recorder{gate: make(chan struct{})}
	q, err := New(Options{Size: 10, Chunk: 7, KV: st, Namespace: "test/backlog"}, r.run)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// The worker is stuck on the first job; 1000 pushes per key still
	// return at once.
	for i := range 1000 {
		for _, key := range []string{"a", "b"} {
			if err := q.Push(ctx, key, i); err != nil {
				t.Fatalf("push %d: %v", i, err)
			}
		}
	}
	var chunks int
	if err := st.ScanKV("test/backlog", nil, func(_, _ []byte) error { chunks++; return nil }); err != nil {
		t.Fatal(err)
	}
	if chunks < 2*((1000-11)/7) {
		t.Fatalf("%d chunks spilled", chunks)
	}
	close(r.gate)
	flush(t, q)
	for _, key := range []string{"a", "b"} {
		if got := r.jobs(key); !slices.Equal(got, seq(1000)) {
			t.Fatalf("key %s ran %d jobs, out of order or lost", key, len(got))
		}
	}
	chunks = 0
	st.ScanKV("test/backlog", nil, func(_, _ []byte) error { chunks++; return nil })
	if chunks != 0 {
		t.Fatalf("%d chunks left behind", chunks)
	}
}

func TestSpilledChunksSurviveARestart(t *testing.T) {
	st := openStore(t)
	r := &recorder{gate: make(chan struct{})}
	q, err := New(Options{Size: 2, Chunk: 3, KV: st, Namespace: "test/backlog"}, r.run)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := q.Push(context.Background(), "\x01guild", i); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	if err := q.Push(context.Background(), "\x01guild", 99); !errors.Is(err, ErrClosed) {
		t.Fatalf("push after close = %v", err)
	}
	// The old process dies with its memory queue; what spilled survives.
	r2 := &recorder{}
	q2, err := New(Options{Size: 2, Chunk: 3, KV: st, Namespace: "test/backlog"}, r2.run)
	if err != nil {
		t.Fatal(err)
	}
	// New work for the key waits behind the restored chunks.
	if err := q2.Push(context.Background(), "\x01guild", 100); err != nil {
		t.Fatal(err)
	}
	flush(t, q2)
	if got := r2.jobs("\x01guild"); len(got) != 0 {
		t.Fatalf("ran %v before Resume", got)
	}
	q2.Resume("\x02") // another platform: nothing
	flush(t, q2)
	if got := r2.jobs("\x01guild"); len(got) != 0 {
		t.Fatalf("ran %v after resuming another prefix", got)
	}
	q2.Resume("\x01")
	flush(t, q2)
	got := r2.jobs("\x01guild")
	// Job 0 was running (or about to), two more in memory (lost with the
	// process); the rest spilled, the last partial chunk written by Close.
	if len(got) == 0 || got[0] < 2 || got[0] > 3 || !slices.Equal(got, append(seq(20)[got[0]:], 100)) {
		t.Fatalf("after restart ran %v, want 2 or 3 ... 19, then 100", got)
	}
	close(r.gate)
	flush(t, q)
}

func TestWithoutKVPushWaits(t *testing.T) {
	r := &recorder{gate: make(chan struct{})}
	q, err := New(Options{Size: 2}, r.run)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 { // one running, two queued
		if err := q.Push(ctx, "k", i); err != nil {
			t.Fatal(err)
		}
	}
	var err2 error
	for i := 3; i < 6 && err2 == nil; i++ {
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err2 = q.Push(short, "k", i)
		cancel()
	}
	if !errors.Is(err2, context.DeadlineExceeded) {
		t.Fatalf("push on a full queue = %v", err2)
	}
	done := make(chan error)
	go func() { done <- q.Push(ctx, "k", 10) }()
	close(r.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	flush(t, q)
	if got := r.jobs("k"); len(got) < 4 || got[len(got)-1] != 10 || !slices.IsSorted(got) {
		t.Fatalf("ran %v", got)
	}
}

func TestPanickingJobDoesNotStopTheKey(t *testing.T) {
	var mu sync.Mutex
	var ran []int
	q, err := New(Options{}, func(_ string, j int) {
		if j == 1 {
			panic(fmt.Sprint("job ", j))
		}
		mu.Lock()
		ran = append(ran, j)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		q.Push(context.Background(), "k", i)
	}
	flush(t, q)
	if !slices.Equal(ran, []int{0, 2}) {
		t.Fatalf("ran %v", ran)
	}
}
