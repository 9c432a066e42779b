package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/coord"
)

func coordinator(t *testing.T, url, holder string, ttl time.Duration) *cluster.Coordinator {
	t.Helper()
	c, err := cluster.NewCoordinator(cluster.CoordinatorOptions{Conn: cluster.Conn{URL: url, Name: holder},
		Bucket: "COORD", TTL: ttl, Holder: holder, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// acquire runs Acquire in the background; the channel gets the term.
func acquire(l coord.Lease, ctx context.Context) <-chan coord.Term {
	ch := make(chan coord.Term, 1)
	go func() {
		t, err := l.Acquire(ctx)
		if err == nil {
			ch <- t
		}
		close(ch)
	}()
	return ch
}

// TestLeaseFailover: one process holds the lease while the other waits;
// the value committed by the holder is what the next holder starts from;
// a holder that dies (stops renewing) loses the lease after the TTL and
// can no longer commit; a released lease is taken over at once.
func TestLeaseFailover(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	const ttl = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ca := coordinator(t, ns.ClientURL(), "a", ttl)
	a := ca.Lease("telegram.1")
	b := coordinator(t, ns.ClientURL(), "b", ttl).Lease("telegram.1")

	ta, err := a.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ta.Value() != nil {
		t.Fatalf("a new lease holds %q", ta.Value())
	}
	if err := ta.Commit(ctx, []byte("offset 10")); err != nil {
		t.Fatal(err)
	}
	waiting := acquire(b, ctx)
	// Renewed every TTL/3, a live holder keeps the lease well past the TTL.
	select {
	case <-waiting:
		t.Fatal("b took a lease a live holder renews")
	case <-time.After(3 * ttl):
	}
	if v, err := b.Peek(ctx); err != nil || string(v) != "offset 10" {
		t.Fatalf("b peeks %q, %v; want offset 10", v, err)
	}
	if err := ta.Commit(ctx, []byte("offset 11")); err != nil {
		t.Fatalf("the holder cannot commit after renewals: %v", err)
	}

	// a dies: its renewals stop (its connection is gone).
	died := time.Now()
	ca.Close()
	tb, ok := <-waiting
	if !ok {
		t.Fatal("b never got the lease")
	}
	took := time.Since(died)
	if took < ttl {
		t.Errorf("b took over %s after a died: sooner than the TTL %s", took, ttl)
	}
	if string(tb.Value()) != "offset 11" {
		t.Fatalf("b starts from %q; want offset 11", tb.Value())
	}
	select {
	case <-ta.Lost():
	case <-time.After(2 * ttl):
		t.Fatal("a's term was not marked lost")
	}
	if err := ta.Commit(ctx, []byte("offset 99")); !errors.Is(err, coord.ErrLost) {
		t.Fatalf("a commits after losing the lease: %v; want ErrLost", err)
	}
	if err := tb.Commit(ctx, []byte("offset 12")); err != nil {
		t.Fatal(err)
	}

	// A release hands over at once, value kept.
	c := coordinator(t, ns.ClientURL(), "c", time.Minute).Lease("telegram.1")
	waiting = acquire(c, ctx)
	if err := tb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	tc, ok := <-waiting
	if !ok {
		t.Fatal("c never got the released lease")
	}
	if d := time.Since(released); d > 5*time.Second {
		t.Errorf("c took %s to take a released lease", d)
	}
	if string(tc.Value()) != "offset 12" {
		t.Fatalf("c starts from %q; want offset 12", tc.Value())
	}
	if err := tb.Commit(ctx, []byte("x")); !errors.Is(err, coord.ErrLost) {
		t.Fatalf("commit after release: %v; want ErrLost", err)
	}
}
