package cluster_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/cluster/clustertest"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// BenchmarkFleet records b.N records from two shards (8 callers each)
// through JetStream into a query node, and reports records/s end to end
// and the lag from a shard's commit to the query node's commit (p50,
// p99): as fast as the callers can (max, where lag is mostly queueing)
// and paced at 1,000 records/s; through one server (1 replica) and
// through a three-node cluster (3 replicas). The bare runs are the
// baseline of the same run: the same shards and callers without the
// fleet, the lag there from a shard's commit to its own subscribers.
// Stores run without fsync: this measures the stream path, not the disk.
func BenchmarkFleet(b *testing.B) {
	b.Run("bare_max", func(b *testing.B) { benchFleet(b, 0, 0) })
	b.Run("max", func(b *testing.B) { benchFleet(b, 0, 1) })
	b.Run("3nodes_max", func(b *testing.B) { benchFleet(b, 0, 3) })
	b.Run("bare_1000_per_s", func(b *testing.B) { benchFleet(b, 1000, 0) })
	b.Run("1000_per_s", func(b *testing.B) { benchFleet(b, 1000, 1) })
	b.Run("3nodes_1000_per_s", func(b *testing.B) { benchFleet(b, 1000, 3) })
}

// benchFleet runs the fleet through nodes NATS servers (0: no fleet).
func benchFleet(b *testing.B, rate, nodes int) {
	var url string
	switch nodes {
	case 0:
	case 1:
		url = clustertest.StartNATS(b, 0, b.TempDir()).ClientURL()
	default:
		c := clustertest.StartCluster(b, nodes, b.TempDir())
		url = c.URL()
		clustertest.Provision(b, url, "CW", cluster.SubjectPrefix+".>", cluster.TokenBucket("CW"), nodes)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	open := func(name string) (*store.Store, *recorder.Recorder) {
		s, err := store.Open(filepath.Join(b.TempDir(), name), store.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s, recorder.New(s, recorder.Options{})
	}
	run := func(fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil {
				b.Error(err)
			}
		}()
	}
	committed := make([]time.Time, b.N)
	seen := make([]time.Time, b.N)
	var mu sync.Mutex
	copied := 0
	all := make(chan struct{})
	see := func(events []*audit.Event) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			i, err := strconv.Atoi(strings.TrimPrefix(e.Content, "message "))
			if err != nil || i >= b.N {
				continue
			}
			seen[i] = now
			copied++
		}
		if copied == b.N {
			close(all)
		}
	}
	var shards []*recorder.Recorder
	for i := range 2 {
		s, rec := open(fmt.Sprintf("shard%d.db", i))
		shards = append(shards, rec)
		if nodes == 0 {
			rec.Subscribe(see)
			continue
		}
		rec.AddRouter(cluster.Router())
		pub, err := cluster.New(cluster.Options{Conn: cluster.Conn{URL: url}, Stream: "CW", Outbox: s, Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		rec.Subscribe(pub.Committed)
		run(pub.Run)
	}
	if nodes > 0 {
		qs, qrec := open("query.db")
		cons, err := cluster.NewConsumer(cluster.ConsumerOptions{Conn: cluster.Conn{URL: url}, Stream: "CW",
			Recorder: qrec, Cursors: qs, Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		qrec.Subscribe(see)
		run(cons.Run)
		// Measure from a running fleet: the stream exists and the query
		// node reads it.
		for cons.Ready(ctx) != nil {
			time.Sleep(10 * time.Millisecond)
		}
	}

	b.ResetTimer()
	start := time.Now()
	var callers sync.WaitGroup
	for c := range 16 {
		callers.Add(1)
		go func() {
			defer callers.Done()
			rec := shards[c%2]
			for i := c; i < b.N; i += 16 {
				if rate > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
				}
				if err := rec.Record(ctx, event(fmt.Sprintf("%d", 1000+i%20), i)); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				committed[i] = time.Now()
				mu.Unlock()
			}
		}()
	}
	callers.Wait()
	<-all
	elapsed := time.Since(start)
	b.StopTimer()
	lags := make([]time.Duration, b.N)
	for i := range lags {
		lags[i] = max(seen[i].Sub(committed[i]), 0)
	}
	slices.Sort(lags)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(lags[b.N/2].Microseconds())/1000, "p50-lag-ms")
	b.ReportMetric(float64(lags[b.N*99/100].Microseconds())/1000, "p99-lag-ms")
}
