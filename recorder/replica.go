package recorder

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// Replica is a record as another journal (a shard's store) wrote it: its
// event with ID, Seq and Hash set, and what its hash covers beyond the
// event, so that a replica stores it as is and its chain verifies as the
// shard wrote it.
type Replica struct {
	Event *audit.Event
	// PrevSeq is the Seq of the record before it in its property's chain
	// (0 for the first).
	PrevSeq uint64
	// Nonce is the random nonce of the record's personal part (names,
	// params, content, attachments); empty when the record is redacted.
	Nonce []byte
	// Digest is the personal part's digest, SHA-256(nonce, personal part),
	// which is all a redacted record keeps of it.
	Digest []byte
	// PrevHash is set on the first record of a chain published after the
	// chain began (the shard recorded before it joined the fleet): the
	// hash of its predecessor, which was never published. A replica
	// without the chain starts it there.
	PrevHash []byte
	// Origin names the store that wrote the record (store.Store.Origin):
	// a replica keeps one chain per property and origin. Empty for
	// records published before stores had origins (one default origin).
	Origin string
}

// ReplicaBatch is one transaction of a replica: records and the stream
// position they came from.
type ReplicaBatch struct {
	Records []Replica
	Cursors []Cursor
}

// ReplicaResult says what a replica transaction did with its records.
type ReplicaResult struct {
	// Stored are the records now in the journal, in chain order: those
	// of the batch that linked to their chain's head, and records held
	// earlier that they released.
	Stored []*audit.Event
	// Duplicates were stored already (a message delivered twice).
	Duplicates int
	// Held wait, in the journal, for their chain's predecessor (it was
	// published after them); Waiting counts all such records.
	Held, Waiting int
	// Problems describe records not stored as sent: refused (a hash that
	// does not match the record and its chain; the record stays in the
	// stream) or stored without their personal part (names, content)
	// because the message could not carry it exactly.
	Problems []error
	// Erasures counts the erasure records (DATA_RETENTION, action ERASE)
	// stored, which the journal applied as their shard did; Erased the
	// records whose personal part an erasure removed: records here
	// already, and records that arrived after an erasure that reached them
	// (stored or held without it).
	Erasures, Erased int
}

// ReplicaJournal is a Journal that can also store records as another
// journal wrote them (*store.Store is one).
type ReplicaJournal interface {
	AppendReplica(ctx context.Context, b *ReplicaBatch) (ReplicaResult, error)
}

// RecordReplicas stores records as their shard wrote them, with a cursor
// (the stream position) in the same transaction, and hands the records it
// stored to the subscribers like any commit. It retries the journal's
// transient failures as commits do; it fails when the journal cannot
// store replicas or is closed; records it refuses are in the result's
// Problems.
func (r *Recorder) RecordReplicas(ctx context.Context, c Cursor, recs ...Replica) (ReplicaResult, error) {
	rj, ok := r.j.(ReplicaJournal)
	if !ok {
		return ReplicaResult{}, errors.New("record replicas: the journal cannot store replicas")
	}
	// Under the read lock Close takes to stop the recorder, so that the
	// subscribers' channel is still open when the records are handed on.
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.isClosed {
		return ReplicaResult{}, ErrClosed
	}
	b := &ReplicaBatch{Records: recs, Cursors: []Cursor{c}}
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		start := time.Now()
		res, err := rj.AppendReplica(ctx, b)
		if err == nil {
			r.stats.Commits.Add(1)
			r.stats.Events.Add(uint64(len(res.Stored)))
			r.stats.LastBatch.Store(int64(len(res.Stored)))
			r.stats.LastCommit.Store(int64(time.Since(start)))
			if len(res.Stored) > 0 {
				r.notify <- res.Stored
			}
			return res, nil
		}
		r.stats.Failures.Add(1)
		if errors.Is(err, ErrJournalClosed) || ctx.Err() != nil {
			return ReplicaResult{}, fmt.Errorf("record replicas: %w", err)
		}
		r.opts.Logger.Error().Err(err).Int("records", len(recs)).Int("attempt", attempt).
			Dur("retry_in", backoff).Msg("recorder: replica commit failed; retrying")
		select {
		case <-ctx.Done():
			return ReplicaResult{}, fmt.Errorf("record replicas: %w", ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}
