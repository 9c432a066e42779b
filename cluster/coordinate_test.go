package cluster_test

import (
	"context"
	"errors"
	"net"
	"strings"
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

// TestLeaseSettle: processes racing to settle one item of a slot agree
// on one winner, whether they hold the lease or not, and another item
// replaces the slot's last; slots and leases are apart.
func TestLeaseSettle(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var leases []coord.Lease
	for _, h := range []string{"a", "b", "c", "d"} {
		leases = append(leases, coordinator(t, ns.ClientURL(), h, 2*time.Second).Lease("telegram.1"))
	}
	if _, err := leases[0].Acquire(ctx); err != nil { // a holds; the others settle anyway
		t.Fatal(err)
	}
	settleAll := func(item string) map[string]int {
		t.Helper()
		winners := make(chan string, len(leases))
		for _, l := range leases {
			go func() {
				w, err := l.Settle(ctx, "dead host-1", item)
				if err != nil {
					t.Error(err)
				}
				winners <- w
			}()
		}
		got := map[string]int{}
		for range leases {
			got[<-winners]++
		}
		return got
	}
	for _, item := range []string{"100-200", "7-8"} {
		got := settleAll(item)
		if len(got) != 1 || got[""] != 0 {
			t.Fatalf("item %s: winners %v; want one name, given to all %d", item, got, len(leases))
		}
		for w := range got {
			if again, err := leases[3].Settle(ctx, "dead host-1", item); err != nil || again != w {
				t.Fatalf("item %s settled again: %q, %v; want %q", item, again, err, w)
			}
		}
	}
	if w, err := leases[1].Settle(ctx, "dead host-1", "100-200"); err != nil || w != "b" {
		t.Fatalf("the slot's earlier item again: %q, %v; want b, the slot having moved on", w, err)
	}
	if w, err := leases[2].Settle(ctx, "another", "100-200"); err != nil || w != "c" {
		t.Fatalf("another slot: %q, %v; want c, its first", w, err)
	}
	if w, err := coordinator(t, ns.ClientURL(), "e", 2*time.Second).Lease("telegram.2").Settle(ctx, "dead host-1", "100-200"); err != nil || w != "e" {
		t.Fatalf("another lease's slot: %q, %v; want e", w, err)
	}
}

// TestIdentifyGateSpacesEachBucket: identifies of one rate-limit bucket
// (shard % max_concurrency) from several processes are spaced by Discord's
// 5 seconds; another bucket is not held up by them.
func TestIdentifyGateSpacesEachBucket(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// This test is about the spacing: a gate that fails open (NATS slow
	// to answer on a loaded machine, IdentifyFailOpen) must not pass
	// identifies here.
	gate := func(holder string) coord.Identify {
		c, err := cluster.NewCoordinator(cluster.CoordinatorOptions{Conn: cluster.Conn{URL: ns.ClientURL(), Name: holder},
			Bucket: "COORD", TTL: 5 * time.Second, Holder: holder, IdentifyFailOpen: 2 * time.Minute, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c.Identify()
	}
	gates := []coord.Identify{gate("p1"), gate("p2"), gate("p3")}
	type pass struct {
		shard int
		at    time.Time
	}
	passes := make(chan pass, 4)
	start := time.Now()
	// max_concurrency 2: shards 0, 2 and 4 share bucket 0; shard 1 is alone in bucket 1.
	for i, shard := range []int{0, 2, 4} {
		go func() {
			if err := gates[i].Wait(ctx, "app1", shard, 2); err != nil {
				t.Error(err)
			}
			passes <- pass{shard, time.Now()}
		}()
	}
	go func() {
		if err := gates[0].Wait(ctx, "app1", 1, 2); err != nil {
			t.Error(err)
		}
		passes <- pass{1, time.Now()}
	}()
	var bucket0 []time.Time
	for range 4 {
		p := <-passes
		if p.shard == 1 {
			if d := p.at.Sub(start); d > 3*time.Second {
				t.Errorf("shard 1, alone in its bucket, waited %s", d)
			}
			continue
		}
		bucket0 = append(bucket0, p.at)
	}
	for i := 1; i < len(bucket0); i++ {
		if gap := bucket0[i].Sub(bucket0[i-1]); gap < 5*time.Second {
			t.Errorf("identifies %d and %d of one bucket %s apart; Discord allows one per 5s", i-1, i, gap)
		}
	}
	// Another bot's buckets are its own.
	t0 := time.Now()
	if err := gates[1].Wait(ctx, "app2", 0, 1); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("another bot waited %s", d)
	}
}

// TestShardClaims: a second live process claiming a shard, or a shard of
// another count that shares guilds with it, is refused with a sentence
// naming both; a shard of another count that shares none is not; a dead
// process's claim is taken over after the TTL, and a released one at once.
func TestShardClaims(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	const ttl = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ca := coordinator(t, ns.ClientURL(), "a", ttl)
	b := coordinator(t, ns.ClientURL(), "b", ttl).Shards()

	releaseA, err := ca.Shards().Claim(ctx, "app", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ shard, count int }{{0, 2}, {2, 4}, {0, 6}} {
		_, err := b.Claim(ctx, "app", c.shard, c.count)
		if !errors.Is(err, coord.ErrClaimed) {
			t.Fatalf("b claims shard %d of %d over a's 0 of 2: %v; want ErrClaimed", c.shard, c.count, err)
		}
		for _, want := range []string{"shard 0 of 2", "process a", "discord.shard_id"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("refusal %q does not say %q", err, want)
			}
		}
	}
	releaseB, err := b.Claim(ctx, "app", 1, 4) // odd guilds only: none of a's
	if err != nil {
		t.Fatalf("b claims shard 1 of 4 beside a's 0 of 2: %v", err)
	}
	releaseB()

	// a dies: its claim is no longer renewed, and b may take the shard.
	ca.Close()
	t0 := time.Now()
	releaseB, err = b.Claim(ctx, "app", 0, 2)
	if err != nil {
		t.Fatalf("b cannot take the shard of a dead process: %v", err)
	}
	if d := time.Since(t0); d < ttl {
		t.Errorf("b took a's shard after %s, before the TTL %s", d, ttl)
	}
	_ = releaseA // a's connection is gone; its release could not reach NATS

	// Released: taken at once.
	releaseB()
	c := coordinator(t, ns.ClientURL(), "c", ttl).Shards()
	t0 = time.Now()
	releaseC, err := c.Claim(ctx, "app", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseC()
	if d := time.Since(t0); d > ttl {
		t.Errorf("a released shard took %s to claim", d)
	}
}

// TestIdentifyGateFailsOpen: with NATS unreachable an identify waits a
// bounded time and then goes ahead, so that an outage of NATS does not
// keep a shard off Discord.
func TestIdentifyGateFailsOpen(t *testing.T) {
	c, err := cluster.NewCoordinator(cluster.CoordinatorOptions{Conn: cluster.Conn{URL: "nats://127.0.0.1:1"},
		Bucket: "COORD", Holder: "a", IdentifyFailOpen: time.Second, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := c.Identify().Wait(ctx, "app", 0, 1); err != nil {
		t.Fatalf("the gate failed instead of opening: %v", err)
	}
	if d := time.Since(t0); d < time.Second {
		t.Fatalf("the gate opened after %s, before trying for a second", d)
	}
}

// TestShardClaimWaitsForNATS: a claim made while the NATS server is down
// (a node restarting) waits and succeeds once it is back, rather than
// ending the shard.
func TestShardClaimWaitsForNATS(t *testing.T) {
	dir := t.TempDir()
	ns := startNATS(t, 0, dir)
	port := ns.Addr().(*net.TCPAddr).Port
	c := coordinator(t, ns.ClientURL(), "a", 2*time.Second)
	ns.Shutdown()
	ns.WaitForShutdown()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		release, err := c.Shards().Claim(ctx, "app", 0, 1)
		if err == nil {
			release()
		}
		done <- err
	}()
	time.Sleep(1500 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the claim ended while NATS was down: %v", err)
	default:
	}
	startNATS(t, port, dir)
	if err := <-done; err != nil {
		t.Fatalf("the claim after NATS came back: %v", err)
	}
}
