package store

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// BenchmarkSalvage salvages an intact store of CHATWARDEN_SALVAGE_RECORDS
// records (default 100,000; 10 communities), and as the baseline, in the
// same run, copies it with Backup (bbolt's Tx.WriteTo): what reading the
// file through bbolt costs. It reports records per second of each and the
// heap in use at the end of a salvage.
func BenchmarkSalvage(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("CHATWARDEN_SALVAGE_RECORDS")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "src.db")
	s, err := Open(src, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	t0 := time.Now().Add(-30 * 24 * time.Hour)
	for i := 0; i < n; i += 10_000 {
		evs := make([]*audit.Event, min(10_000, n-i))
		for j := range evs {
			evs[j] = &audit.Event{Time: t0.Add(time.Duration(i+j) * time.Second), Platform: audit.Discord,
				PropertyID: fmt.Sprint(1000 + rng.IntN(10)), Type: audit.ChatMessage, PlatformType: "MESSAGE_CREATE",
				Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: fmt.Sprint(rng.IntN(2000)),
				ActorName: "member", ChannelID: fmt.Sprint(rng.IntN(20)), MessageID: fmt.Sprint(i + j),
				Content: "a message of about a hundred characters, which is what a chat line usually holds in a busy server"}
		}
		appendAll(b, s, evs, len(evs))
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var salvage, backup time.Duration
	var heap uint64
	for i := range b.N {
		start := time.Now()
		rep, err := Salvage(context.Background(), src, filepath.Join(dir, fmt.Sprintf("out-%d.db", i)))
		salvage += time.Since(start)
		if err != nil || rep.Records != n {
			b.Fatalf("salvage: %v (%d records of %d)", err, rep.Records, n)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, ms.HeapInuse)
		os.Remove(filepath.Join(dir, fmt.Sprintf("out-%d.db", i)))

		start = time.Now()
		r, err := Open(src, Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Backup(context.Background(), io.Discard); err != nil {
			b.Fatal(err)
		}
		r.Close()
		backup += time.Since(start)
	}
	b.ReportMetric(float64(n)*float64(b.N)/salvage.Seconds(), "salvaged-records/s")
	b.ReportMetric(float64(n)*float64(b.N)/backup.Seconds(), "backup-records/s")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
}
