package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Scrubbing: bbolt never overwrites a page in place. A transaction that
// changes a record writes the new version to another page and puts the old
// page on the freelist, bytes intact, until a later transaction reuses it.
// Erasing or purging therefore leaves the personal data in free pages of
// the file, and Tx.WriteTo copies them into backups. scrubFree overwrites
// the free pages of a database file with zeros, so that after Erase, Purge
// and every backup no page holds data that is no longer live.
//
// Safety: a free page may only be overwritten when no reader can still see
// it. bbolt keeps a page "pending" (free but not reusable) while a read
// transaction older than the one that freed it is open. A scrub runs as a
// pair under the writer lock: an empty commit, so that the newest tree is
// the one every later reader sees, then a transaction that zeroes the free
// pages only if no read transaction is open, and otherwise retries later.
// Readers that begin meanwhile see the last committed tree, which reaches
// no free page (the empty commit's own freed page is the old freelist,
// which no reader reads). The zeroing transaction changes nothing and is
// rolled back. (Counting pending pages instead does not work with a synced
// freelist: every commit frees the previous freelist page.)

// scrubBatch bounds the free pages one scrub transaction reads (and
// zeroes), and with it how long it holds the writer lock (and, in a Store,
// appendMu).
const scrubBatch = 512

// scrubRetries bounds the attempts to find no pending pages before a scrub
// gives up with errScrubBusy.
const scrubRetries = 200

var (
	errScrubBusy  = errors.New("free pages are still held by open read transactions")
	errScrubAbort = errors.New("scrub: roll back") // the zeroing transaction changes nothing
)

// ScrubStats says what a scrub did.
type ScrubStats struct {
	FreePages   int           // free pages in the file
	Zeroed      int           // free pages that held bytes and were zeroed
	Batches     int           // write-locked transactions that zeroed
	LongestHold time.Duration // longest of them, writer lock held
}

// Scrub overwrites with zeros every free page of the database file that is
// not already zero, and syncs the file. Erase and Purge call it before they
// return; it is exported for the operator's tools and for tests.
func (s *Store) Scrub(ctx context.Context) (ScrubStats, error) {
	st, err := scrubFree(ctx, s.db, s.path, &s.appendMu)
	if err != nil {
		return st, fmt.Errorf("scrub free pages of %s: %w", s.path, err)
	}
	return st, nil
}

// scrubFree zeroes the free pages of db (whose file is path). hold, when
// not nil, is held across each pair of transactions so that the writer
// that would leave pages pending (the Store's appends) waits.
func scrubFree(ctx context.Context, db *bolt.DB, path string, hold sync.Locker) (ScrubStats, error) {
	var st ScrubStats
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return st, err
	}
	defer f.Close()
	pageSize := db.Info().PageSize
	zero := make([]byte, pageSize)
	buf := make([]byte, pageSize)
	next := 2 // the first page after the two meta pages
	busy := 0
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if hold != nil {
			hold.Lock()
		}
		start := time.Now()
		done := false
		err := db.Update(func(tx *bolt.Tx) error { return nil }) // release what readers no longer hold
		if err == nil {
			err = db.Update(func(tx *bolt.Tx) error {
				if db.Stats().OpenTxN != 0 {
					return errScrubBusy
				}
				zeroed := 0
				n := 0
				hwm := int(tx.Size() / int64(pageSize))
				for ; next < hwm && n < scrubBatch; next++ {
					info, err := tx.Page(next)
					if err != nil {
						return err
					}
					if info == nil || info.Type != "free" {
						if info != nil && (info.Type == "leaf" || info.Type == "branch") {
							next += info.OverflowCount // a large value's pages
						}
						continue
					}
					st.FreePages++
					n++ // pages read count too: a batch reads and writes at most scrubBatch pages
					off := int64(next) * int64(pageSize)
					if _, err := f.ReadAt(buf, off); err != nil {
						return fmt.Errorf("read page %d: %w", next, err)
					}
					if bytes.Equal(buf, zero) {
						continue
					}
					if _, err := f.WriteAt(zero, off); err != nil {
						return fmt.Errorf("zero page %d: %w", next, err)
					}
					zeroed++
				}
				if zeroed > 0 {
					if err := f.Sync(); err != nil {
						return fmt.Errorf("sync: %w", err)
					}
					st.Zeroed += zeroed
					st.Batches++
				}
				done = next >= hwm
				return errScrubAbort
			})
		}
		if d := time.Since(start); d > st.LongestHold {
			st.LongestHold = d
		}
		if hold != nil {
			hold.Unlock()
		}
		switch {
		case errors.Is(err, errScrubBusy):
			busy++
			if busy >= scrubRetries {
				return st, errScrubBusy
			}
			select {
			case <-ctx.Done():
				return st, ctx.Err()
			case <-time.After(time.Duration(min(busy, 50)) * time.Millisecond):
			}
			continue
		case !errors.Is(err, errScrubAbort):
			return st, err
		}
		busy = 0
		if done {
			return st, nil
		}
	}
}
