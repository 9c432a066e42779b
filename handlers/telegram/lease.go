package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/chatwarden/chatwarden/coord"
)

// In a fleet (Options.Lease), every process with Telegram enabled runs,
// and the lease decides which one polls getUpdates. The update offset
// lives in the lease's value, not in the store: it is the one place every
// candidate reads, and only the holder can move it (each write is a
// compare-and-set on the lease's revision).
//
// A batch is committed to the lease before it is recorded: the holder
// writes the next offset together with the batch's raw updates, filed
// under its own name (pending), and only then records the batch in its
// store, with its local cursor. So:
//
//   - it dies before the lease commit: the offset did not move, Telegram
//     has not been told the batch was received (that happens at the next
//     getUpdates with a higher offset), and the next holder gets the batch
//     again;
//   - it lost the lease before the commit: the commit fails and the batch
//     is dropped unrecorded, for the new holder to receive;
//   - it dies between the lease commit and its own commit: the batch is in
//     the lease under its name, and the process records it from there
//     when it starts again (Peek at start, holder or not), its local
//     cursor telling whether it already did.
//
// The next holder starts at the lease's offset, so no update is recorded
// by two processes, and none is skipped.

// leaseState is the value kept with the poller's lease.
type leaseState struct {
	// Offset is the next update id to ask for.
	Offset int64 `json:"offset"`
	// Pending is, by holder, the last batch each committed to the lease:
	// recorded in that holder's store unless it died first.
	Pending map[string]leasedBatch `json:"pending,omitempty"`
}

// leasedBatch is one batch as committed to the lease.
type leasedBatch struct {
	From    int64             `json:"from"`
	Next    int64             `json:"next"`
	Updates []json.RawMessage `json:"updates"`
}

// maxLeasedBatch bounds the raw updates one lease commit carries (NATS
// refuses messages over its max_payload, 1 MiB by default, and the lease
// entry encodes the value in base64); the rest of a larger batch is asked
// for again.
const maxLeasedBatch = 256 << 10

func decodeLease(v []byte) (leaseState, error) {
	var st leaseState
	if len(v) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(v, &st); err != nil {
		return st, fmt.Errorf("telegram: the poller's lease holds something else than an update offset: %w", err)
	}
	return st, nil
}

// leaseTerm is the poller's hold of the lease and the state written with
// it. A nil *leaseTerm is polling without a lease.
type leaseTerm struct {
	t      coord.Term
	holder string
	st     leaseState
}

func (lt *leaseTerm) lost() bool {
	if lt == nil {
		return false
	}
	select {
	case <-lt.t.Lost():
		return true
	default:
		return false
	}
}

// nextOffset is the offset after raws: one past the highest update id at
// or above offset (handleBatch's rule).
func nextOffset(raws []json.RawMessage, offset int64) int64 {
	next := offset
	for _, raw := range raws {
		var id struct {
			UpdateID int64 `json:"update_id"`
		}
		if json.Unmarshal(raw, &id) == nil && id.UpdateID >= next {
			next = id.UpdateID + 1
		}
	}
	return next
}

// commit writes the batch and the offset after it to the lease, retrying
// while NATS does not answer, and returns the updates committed: a prefix
// of raws when they are too large for one commit. An error wrapping
// coord.ErrLost means another process holds the lease: the batch must not
// be recorded here.
func (lt *leaseTerm) commit(b *Bot, raws []json.RawMessage, offset int64) ([]json.RawMessage, error) {
	size := 0
	for i, raw := range raws {
		size += len(raw)
		if size > maxLeasedBatch && i > 0 {
			raws = raws[:i]
			break
		}
	}
	next := nextOffset(raws, offset)
	st := leaseState{Offset: next, Pending: maps.Clone(lt.st.Pending)}
	if st.Pending == nil {
		st.Pending = map[string]leasedBatch{}
	}
	st.Pending[lt.holder] = leasedBatch{From: offset, Next: next, Updates: raws}
	val, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("telegram: encode the lease: %w", err)
	}
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		ctx, cancel := context.WithTimeout(b.life, 10*time.Second)
		err := lt.t.Commit(ctx, val)
		cancel()
		if err == nil {
			lt.st = st
			return raws, nil
		}
		if errors.Is(err, coord.ErrLost) {
			return nil, fmt.Errorf("telegram: batch from update %d left to the next poller: %w", offset, err)
		}
		b.log.Warn().Err(err).Int64("offset", offset).Msg("cannot save the update offset to the lease; retrying")
		select {
		case <-b.life.Done():
			return nil, b.life.Err()
		case <-lt.t.Lost():
			return nil, coord.ErrLost
		case <-time.After(wait):
		}
	}
}

// pollLeased stands by until this process holds the lease, polls while
// it holds it, and stands by again when it loses it. Before standing by
// and on taking the lease, it records its own batch left pending in the
// lease by a crash.
func (b *Bot) pollLeased() error {
	lease := b.opts.Lease
	holder := lease.Holder()
	wait := time.Second
	for b.life.Err() == nil {
		v, err := lease.Peek(b.life)
		var st leaseState
		if err == nil {
			st, err = decodeLease(v)
		}
		if err == nil {
			err = b.recordPending(st, holder)
		}
		if err != nil {
			if b.life.Err() != nil {
				return nil
			}
			if errors.Is(err, errStore) {
				return err
			}
			b.log.Warn().Err(err).Dur("retry_in", wait).Msg("cannot read the Telegram poller's lease")
			select {
			case <-b.life.Done():
				return nil
			case <-time.After(wait):
			}
			wait = min(2*wait, 30*time.Second)
			continue
		}
		wait = time.Second
		b.connected.Store(false)
		b.readyOnce.Do(func() { close(b.ready) }) // standing by is working
		b.log.Info().Str("holder", holder).Msg("standing by for the Telegram poller's lease")
		t, err := lease.Acquire(b.life)
		if err != nil {
			return nil // stopped
		}
		st, err = decodeLease(t.Value())
		if err == nil {
			err = b.recordPending(st, holder)
		}
		if err != nil {
			b.release(t)
			return err
		}
		delete(st.Pending, holder) // recorded: dropped at the next commit
		offset := st.Offset
		if local, err := b.loadCursor(); err == nil && local.Offset > offset {
			// This store recorded past the lease: the lease is new (the
			// fleet just started) and Telegram may not have been told.
			offset = local.Offset
		}
		b.log.Info().Int64("offset", offset).Msg("holding the Telegram poller's lease: polling")
		err = b.poll(offset, &leaseTerm{t: t, holder: holder, st: st})
		if b.life.Err() != nil {
			b.release(t)
			return nil
		}
		if errors.Is(err, coord.ErrLost) {
			b.connected.Store(false)
			b.log.Warn().Err(err).Msg("lost the Telegram poller's lease: standing by")
			continue
		}
		if !errors.Is(err, errStopped) { // a test's crash keeps it, as a kill would
			b.release(t)
		}
		return err
	}
	return nil
}

// errStore marks failures of this process's store, which stop the bot.
var errStore = errors.New("telegram: store")

// recordPending records this holder's batch pending in the lease unless
// the store has it already.
func (b *Bot) recordPending(st leaseState, holder string) error {
	p, ok := st.Pending[holder]
	if !ok {
		return nil
	}
	local, err := b.loadCursor()
	if err != nil {
		return fmt.Errorf("%w: %w", errStore, err)
	}
	if local.Offset >= p.Next {
		return nil
	}
	b.log.Warn().Int64("from", p.From).Int64("next", p.Next).Int("updates", len(p.Updates)).
		Msg("recording a batch this process took from Telegram before it stopped")
	if _, err := b.handleBatch(p.Updates, p.From); err != nil {
		return fmt.Errorf("%w: %w", errStore, err)
	}
	return nil
}

// release hands the lease over at once (the bot stops or fails).
func (b *Bot) release(t coord.Term) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.Release(ctx); err != nil {
		b.log.Warn().Err(err).Msg("could not release the Telegram poller's lease; another process takes over after its TTL")
	}
}
