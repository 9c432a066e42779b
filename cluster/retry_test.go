package cluster

import (
	"context"
	"testing"
	"time"
)

func TestRetryDoublesUpToItsBoundAndResets(t *testing.T) {
	var r retry
	if !r.pause(context.Background()) || r.wait != 0 {
		t.Fatalf("a first attempt waits %s", r.wait)
	}
	var waits []time.Duration
	var firsts []bool
	for range 7 {
		firsts = append(firsts, r.failed())
		waits = append(waits, r.wait)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i := range want {
		if waits[i] != want[i] || firsts[i] != (i == 0) {
			t.Fatalf("failure %d: wait %s first %v; waits %v", i+1, waits[i], firsts[i], waits)
		}
	}
	if !r.succeeded() || r.wait != 0 || r.succeeded() {
		t.Fatal("a success after failures does not reset once")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.failed()
	if r.pause(ctx) {
		t.Fatal("pause outlived its context")
	}
}
