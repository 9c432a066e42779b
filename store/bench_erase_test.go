package store

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
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
			shape := func(i int, e *audit.Event) {
				if i%5 == 0 {
					e.ActorID, e.Content = user, fmt.Sprintf("the member's message %d", i)
				}
			}
			for range b.N {
				measurePause(b, n, 6, 1, shape, "erase", func(s *Store) (int, error) {
					return s.Erase(context.Background(), audit.Discord, fmt.Sprintf("1%017d", 0), user)
				})
			}
		})
	}
}
