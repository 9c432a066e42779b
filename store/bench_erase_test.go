package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// BenchmarkErasePause measures how long recording waits while a member
// is erased online (the HTTP endpoint, /audit erase, /erase): a store of
// CHATWARDEN_ERASE_RECORDS records (default 200,000) in one community,
// a fifth of them the erased member's, while another goroutine appends
// fsync'd single-event batches. "chunked" is the erasure as it is
// (transactions of eraseChunk records, then the scrub); "one-tx" the
// same store erased in one transaction, as before erasure went online.
// "base-max-ms"/"base-p99-ms" are the appender's latencies for 3 s
// before the erasure, in the same run.
func BenchmarkErasePause(b *testing.B) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("CHATWARDEN_ERASE_RECORDS")); err == nil && v > 0 {
		n = v
	}
	const user = "399999999999999999"
	for _, chunk := range []int{eraseChunk, 0} {
		name := "chunked"
		if chunk == 0 {
			name = "one-tx"
		}
		b.Run(name, func(b *testing.B) {
			defer func(c int) { eraseChunk = c }(eraseChunk)
			eraseChunk = chunk
			for range b.N {
				path := filepath.Join(b.TempDir(), "erase.db")
				s, err := Open(path, Options{NoSync: true})
				if err != nil {
					b.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(6, 6))
				for i := 0; i < n; i += 10_000 {
					evs := make([]*audit.Event, min(10_000, n-i))
					for j := range evs {
						e := benchEvent(rng, 1, 2000)
						if (i+j)%5 == 0 {
							e.ActorID, e.Content = user, fmt.Sprintf("the member's message %d", i+j)
						}
						evs[j] = e
					}
					if err := s.Append(context.Background(), &recorder.Batch{Events: evs}); err != nil {
						b.Fatal(err)
					}
				}
				s.Close()
				if s, err = Open(path, Options{}); err != nil { // durable commits from here on
					b.Fatal(err)
				}
				stop, out := make(chan struct{}), make(chan []time.Duration, 1)
				go appendLatencies(b, s, stop, out)
				time.Sleep(3 * time.Second)
				close(stop)
				base := <-out
				stop = make(chan struct{})
				go appendLatencies(b, s, stop, out)
				b.ResetTimer()
				start := time.Now()
				erased, err := s.Erase(context.Background(), audit.Discord, fmt.Sprintf("1%017d", 0), user)
				if err != nil {
					b.Fatal(err)
				}
				took := time.Since(start)
				b.StopTimer()
				close(stop)
				during := <-out
				s.Close()
				b.ReportMetric(float64(erased), "erased")
				b.ReportMetric(took.Seconds(), "erase-s")
				b.ReportMetric(float64(pct(during, 1).Microseconds())/1000, "max-ms")
				b.ReportMetric(float64(pct(during, 0.99).Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(pct(base, 1).Microseconds())/1000, "base-max-ms")
				b.ReportMetric(float64(pct(base, 0.99).Microseconds())/1000, "base-p99-ms")
				b.ReportMetric(float64(len(during)), "appends-during")
			}
		})
	}
}
