package store

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// appendLatencies appends one fsync'd single-event batch after another
// until stop is closed and returns each Append's latency: what a record
// waits for its commit while something else holds the writer.
func appendLatencies(b *testing.B, s *Store, stop <-chan struct{}, out chan<- []time.Duration) {
	rng := rand.New(rand.NewPCG(9, 9))
	var lat []time.Duration
	for {
		select {
		case <-stop:
			out <- lat
			return
		default:
		}
		e := benchEvent(rng, 10, 2000)
		t0 := time.Now()
		if err := s.Append(context.Background(), &recorder.Batch{Events: []*audit.Event{e}}); err != nil {
			b.Error(err)
			out <- lat
			return
		}
		lat = append(lat, time.Since(t0))
	}
}

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return lat[min(len(lat)-1, int(float64(len(lat))*p))]
}

// BenchmarkPurgePause measures how long recording waits while a retention
// purge runs online: a store of CHATWARDEN_PURGE_RECORDS records (default
// 300,000) in 10 communities, half of them older than the cut, is purged
// community by community (Purge: chunks of 1,000 records, then the scrub of
// the freed pages) while another goroutine appends fsync'd single-event
// batches. "base-max-ms"/"base-p99-ms" are the same appender's latencies
// for 3 s before the purge, in the same run.
func BenchmarkPurgePause(b *testing.B) {
	n := 300_000
	if v, err := strconv.Atoi(os.Getenv("CHATWARDEN_PURGE_RECORDS")); err == nil && v > 0 {
		n = v
	}
	t0 := time.Now().Add(-40 * 24 * time.Hour)
	spread := func(i int, e *audit.Event) {
		e.Time = t0.Add(time.Duration(float64(i) / float64(n) * float64(40*24*time.Hour)))
	}
	for range b.N {
		measurePause(b, n, 4, 10, spread, "purge", func(s *Store) (int, error) {
			cut := time.Now().Add(-20 * 24 * time.Hour)
			purged := 0
			for _, p := range s.Properties() {
				k, err := s.Purge(context.Background(), p.Platform, p.ID, cut)
				if err != nil {
					return purged, err
				}
				purged += k
			}
			return purged, nil
		})
	}
}

// measurePause builds a store of n benchmark events in props communities
// without fsync (shape sets each event's fields by its index), reopens it
// with durable commits, measures 3 s of fsync'd single-event appends as
// the baseline, then runs work while appending again. It reports what
// work returns (as unit+"d"), how long it took (unit+"-s"), and the
// appends' worst and p99 latencies during it and before it.
func measurePause(b *testing.B, n int, seed uint64, props int, shape func(i int, e *audit.Event), unit string, work func(s *Store) (int, error)) {
	b.Helper()
	path := filepath.Join(b.TempDir(), unit+".db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := 0; i < n; i += 10_000 {
		evs := make([]*audit.Event, min(10_000, n-i))
		for j := range evs {
			evs[j] = benchEvent(rng, props, 2000)
			shape(i+j, evs[j])
		}
		if err := s.Append(context.Background(), &recorder.Batch{Events: evs}); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	if s, err = Open(path, Options{}); err != nil { // durable commits from here on
		b.Fatal(err)
	}
	defer s.Close()
	stop, out := make(chan struct{}), make(chan []time.Duration, 1)
	go appendLatencies(b, s, stop, out)
	time.Sleep(3 * time.Second)
	close(stop)
	base := <-out
	stop = make(chan struct{})
	go appendLatencies(b, s, stop, out)
	b.ResetTimer()
	start := time.Now()
	done, err := work(s)
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	b.StopTimer()
	close(stop)
	during := <-out
	b.ReportMetric(float64(done), unit+"d")
	b.ReportMetric(took.Seconds(), unit+"-s")
	b.ReportMetric(float64(pct(during, 1).Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(pct(during, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(pct(base, 1).Microseconds())/1000, "base-max-ms")
	b.ReportMetric(float64(pct(base, 0.99).Microseconds())/1000, "base-p99-ms")
	b.ReportMetric(float64(len(during)), "appends-during")
}

// BenchmarkAppendDuringStalledBackup measures fsync'd single-event
// appends while an online backup's reader has stopped reading (the
// writer of Backup blocks), against the same appends with no backup, in
// the same run. Before backups went through a snapshot, the first append
// that had to grow the file waited for the reader.
func BenchmarkAppendDuringStalledBackup(b *testing.B) {
	for _, stalled := range []bool{false, true} {
		name := "no-backup"
		if stalled {
			name = "stalled-backup"
		}
		b.Run(name, func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "b.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			rng := rand.New(rand.NewPCG(5, 5))
			for range 20 {
				evs := make([]*audit.Event, 1000)
				for j := range evs {
					evs[j] = benchEvent(rng, 10, 2000)
				}
				if err := s.Append(context.Background(), &recorder.Batch{Events: evs}); err != nil {
					b.Fatal(err)
				}
			}
			var w *stalledWriter
			done := make(chan struct{})
			if stalled {
				w = &stalledWriter{started: make(chan struct{}), release: make(chan struct{})}
				go func() { defer close(done); _, _ = s.Backup(context.Background(), w) }()
				<-w.started
			}
			var lat []time.Duration
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if err := s.Append(context.Background(), &recorder.Batch{Events: []*audit.Event{benchEvent(rng, 10, 2000)}}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			if stalled {
				close(w.release)
				<-done
			}
			b.ReportMetric(float64(pct(lat, 0.5).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(pct(lat, 0.99).Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(pct(lat, 1).Microseconds())/1000, "max-ms")
		})
	}
}
