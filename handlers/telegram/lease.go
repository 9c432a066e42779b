package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/chatwarden/chatwarden/coord"
	"github.com/chatwarden/chatwarden/store"
)

// In a fleet (Options.Lease), every process with Telegram enabled runs,
// and the lease decides which one polls getUpdates. The update offset
// lives in the lease's value, not in the store: it is the one place every
// candidate reads, and only the holder can move it (each write is a
// compare-and-set on the lease's revision). Telegram confirms every update
// whose update_id is below the offset of a getUpdates call, so the offset
// in the lease is also what Telegram will not send again.
//
// A batch is committed to the lease before it is recorded: the holder
// writes the next offset together with the batch's raw updates, filed
// under its own name (pending), and only then records the batch in its
// store, with its local cursor. Once the batch is durable there, the
// holder clears its pending entry: in the next batch's lease commit when
// the next getUpdates brings updates within clearWithin (no extra write),
// or else in a commit of its own (one extra write for a batch followed by
// a quiet second), and before it releases the lease when it stops. So:
//
//   - it dies before the lease commit: the offset did not move, Telegram
//     has not been told the batch was received (that happens at the next
//     getUpdates with a higher offset), and the next holder gets the batch
//     again;
//   - it lost the lease before the commit: the commit fails and the batch
//     is dropped unrecorded, for the new holder to receive;
//   - it dies between the lease commit and its own commit: the batch is in
//     the lease under its name, recorded nowhere yet. The next holder
//     starts after it. The process, when it starts again (Peek at start,
//     holder or not; or standing by again after losing the lease),
//     records the batch and then settles it (coord.Lease.Settle: one
//     winner per batch). The holder, Options.AdoptAfter after taking the
//     lease, settles it and, winning, adopts it: records it in its own
//     store (its own origin and chains), drops it from the lease and notes
//     there who adopted it (adopted: from, next, by); losing to the
//     process, it drops it. So the process coming back within the grace
//     records its own, and a batch whose process never comes back is
//     recorded by the holder;
//   - it dies between its own commit and clearing (within clearWithin of
//     its last batch): the same, but the process has the batch already.
//     Coming back in time, it settles the batch and records nothing; not
//     coming back, the holder adopts it and the batch is in two stores.
//     When the process starts again and finds its recorded batch adopted
//     (also when it came back just as the holder settled), it logs a
//     warning naming the update range: query nodes show those updates
//     twice, once per origin.
//
// Batches written by releases before adoption (without "clears") are not
// adopted: those releases left every batch in the lease until their next.
//
// Adopting records the batch's events only: its handler state (profiles,
// titles) is older than the adopter's and is kept only where the adopter
// has none, and its commands are not answered (they are a grace period
// old). The adopter's own cursor does not move: its updates are past the
// batch.

// clearWithin is how long the first getUpdates after a batch waits for
// more updates before the holder clears the batch from the lease by a
// commit of its own.
const clearWithin = time.Second

// leaseState is the value kept with the poller's lease.
type leaseState struct {
	// Offset is the next update id to ask for.
	Offset int64 `json:"offset"`
	// Pending is, by holder, the last batch each committed to the lease
	// and has not cleared: being recorded in that holder's store, or left
	// there by a process that stopped.
	Pending map[string]leasedBatch `json:"pending,omitempty"`
	// Adopted is, by holder, the last of its pending batches another
	// process settled and recorded, until that holder holds the lease.
	Adopted map[string]adoption `json:"adopted,omitempty"`
}

// leasedBatch is one batch as committed to the lease.
type leasedBatch struct {
	From    int64             `json:"from"`
	Next    int64             `json:"next"`
	Updates []json.RawMessage `json:"updates"`
	// Clears is set by releases that clear a batch once recorded: only
	// such a batch still in the lease may be unrecorded. Earlier releases
	// left every batch there until their next, so theirs are not adopted.
	Clears bool `json:"clears,omitempty"`
}

// item names the batch to coord.Lease.Settle: update ids grow, but
// Telegram may pick them at random after a week without updates, so the
// range, not its start alone.
func (p leasedBatch) item() string { return fmt.Sprintf("%d-%d", p.From, p.Next) }

// adoption says who recorded a batch its holder left pending.
type adoption struct {
	From int64     `json:"from"`
	Next int64     `json:"next"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
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

// clone copies the state's maps, for a commit to change.
func (st leaseState) clone() leaseState {
	st.Pending, st.Adopted = maps.Clone(st.Pending), maps.Clone(st.Adopted)
	if st.Pending == nil {
		st.Pending = map[string]leasedBatch{}
	}
	if st.Adopted == nil {
		st.Adopted = map[string]adoption{}
	}
	return st
}

// leaseTerm is the poller's hold of the lease and the state written with
// it. A nil *leaseTerm is polling without a lease.
type leaseTerm struct {
	t      coord.Term
	lease  coord.Lease
	holder string
	st     leaseState
	// adoptAt is when others' pending batches are adopted: AdoptAfter
	// after taking the lease.
	adoptAt time.Time
	// durable: this holder's pending batch is in its store, to be
	// cleared from the lease.
	durable bool
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

// others reports whether other holders' batches wait for adoption.
func (lt *leaseTerm) others() bool {
	for h, p := range lt.st.Pending {
		if h != lt.holder && p.Clears {
			return true
		}
	}
	return false
}

// pollSeconds is the getUpdates timeout, from the configured secs: at
// most clearWithin while this holder's recorded batch waits to be
// cleared, and no later than the adoption of others' pending batches.
func (lt *leaseTerm) pollSeconds(secs int) int {
	if lt.durable {
		secs = min(secs, int(clearWithin/time.Second))
	}
	if lt.others() {
		left := time.Until(lt.adoptAt)
		secs = min(secs, max(1, int((left+time.Second-1)/time.Second)))
	}
	return secs
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
// of raws when they are too large for one commit. The batch replaces this
// holder's previous one, which is cleared with it. An error wrapping
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
	st := lt.st.clone()
	st.Offset = next
	st.Pending[lt.holder] = leasedBatch{From: offset, Next: next, Updates: raws, Clears: true}
	if err := lt.save(b, st); err != nil {
		return nil, fmt.Errorf("telegram: batch from update %d left to the next poller: %w", offset, err)
	}
	lt.durable = false
	return raws, nil
}

// clear drops this holder's recorded batch from the lease.
func (lt *leaseTerm) clear(b *Bot) error {
	st := lt.st.clone()
	delete(st.Pending, lt.holder)
	if err := lt.save(b, st); err != nil {
		return fmt.Errorf("telegram: clear the recorded batch from the lease: %w", err)
	}
	lt.durable = false
	return nil
}

// save commits st to the lease, retrying while NATS does not answer,
// until the bot stops or the term is lost.
func (lt *leaseTerm) save(b *Bot, st leaseState) error {
	delete(st.Adopted, lt.holder) // seen when the term began
	val, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("telegram: encode the lease: %w", err)
	}
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		ctx, cancel := context.WithTimeout(b.life, 10*time.Second)
		err := lt.t.Commit(ctx, val)
		cancel()
		if err == nil {
			lt.st = st
			return nil
		}
		if errors.Is(err, coord.ErrLost) {
			return err
		}
		b.log.Warn().Err(err).Int64("offset", st.Offset).Msg("cannot write to the Telegram poller's lease; retrying")
		select {
		case <-b.life.Done():
			return b.life.Err()
		case <-lt.t.Lost():
			return coord.ErrLost
		case <-time.After(wait):
		}
	}
}

// clearAtStop clears this holder's recorded batch before the lease is
// released (the bot stops), with one attempt: left there, it would be
// adopted by the next holder and recorded twice.
func (lt *leaseTerm) clearAtStop(b *Bot) {
	if !lt.durable {
		return
	}
	st := lt.st.clone()
	delete(st.Pending, lt.holder)
	delete(st.Adopted, lt.holder)
	val, err := json.Marshal(st)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = lt.t.Commit(ctx, val)
		cancel()
	}
	if err == nil {
		return
	}
	// Settled as this process's, the batch is dropped by the next
	// poller instead of adopted.
	p := lt.st.Pending[lt.holder]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	winner, serr := lt.lease.Settle(ctx, lt.holder, p.item())
	cancel()
	if serr != nil || winner != lt.holder {
		b.log.Warn().Err(err).Int64("from", p.From).Int64("next", p.Next).
			Msg("could not clear the last batch from the Telegram poller's lease; the next poller may record it too")
	}
}

// adopt records the batches other holders left pending, once AdoptAfter
// has passed since this term began: those this process settles first
// (coord.Lease.Settle) go into its store; each is then dropped from the
// lease, noting who recorded it.
func (lt *leaseTerm) adopt(b *Bot) error {
	if !lt.others() || time.Now().Before(lt.adoptAt) {
		return nil
	}
	owners := slices.Sorted(maps.Keys(lt.st.Pending))
	for _, owner := range owners {
		p := lt.st.Pending[owner]
		if owner == lt.holder || !p.Clears {
			continue
		}
		ctx, cancel := context.WithTimeout(b.life, 10*time.Second)
		winner, err := lt.lease.Settle(ctx, owner, p.item())
		cancel()
		if err != nil {
			if b.life.Err() != nil {
				return nil
			}
			b.log.Warn().Err(err).Str("holder", owner).Int64("from", p.From).
				Msg("cannot settle who records a batch another process left in the lease; retrying")
			return nil // at the next turn of the loop
		}
		switch {
		case winner == lt.holder:
			b.log.Warn().Str("holder", owner).Int64("from", p.From).Int64("next", p.Next).Int("updates", len(p.Updates)).
				Msg("adopting a batch another process took from Telegram and left pending: recording it here")
			if err := b.recordAdopted(p); err != nil {
				return err
			}
		case winner == owner:
			b.log.Info().Str("holder", owner).Int64("from", p.From).Int64("next", p.Next).
				Msg("the process that left a batch in the lease came back and recorded it")
		default:
			b.log.Info().Str("holder", owner).Str("by", winner).Int64("from", p.From).Int64("next", p.Next).
				Msg("a batch left in the lease was recorded by an earlier poller")
		}
		st := lt.st.clone()
		delete(st.Pending, owner)
		if winner != owner {
			st.Adopted[owner] = adoption{From: p.From, Next: p.Next, By: winner, At: time.Now().UTC()}
		}
		if err := lt.save(b, st); err != nil {
			return fmt.Errorf("telegram: drop an adopted batch from the lease: %w", err)
		}
	}
	return nil
}

// pollLeased stands by until this process holds the lease, polls while
// it holds it, and stands by again when it loses it. Before standing by
// and on taking the lease, it settles its own batch left pending in the
// lease by a crash (settleOwn).
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
			err = b.settleOwn(st, holder)
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
		began := time.Now()
		st, err = decodeLease(t.Value())
		if err == nil {
			err = b.settleOwn(st, holder)
		}
		if err != nil {
			b.release(t)
			if b.life.Err() != nil {
				return nil
			}
			if errors.Is(err, errStore) {
				return err
			}
			b.log.Warn().Err(err).Dur("retry_in", wait).Msg("cannot settle this process's batch left in the Telegram poller's lease")
			select {
			case <-b.life.Done():
				return nil
			case <-time.After(wait):
			}
			continue
		}
		lt := &leaseTerm{t: t, lease: lease, holder: holder, st: st, adoptAt: began.Add(b.opts.AdoptAfter)}
		_, lt.durable = st.Pending[holder] // settled: recorded, here or elsewhere
		offset := st.Offset
		if local, err := b.loadCursor(); err == nil && local.Offset > offset {
			// This store recorded past the lease: the lease is new (the
			// fleet just started) and Telegram may not have been told.
			offset = local.Offset
		}
		b.log.Info().Int64("offset", offset).Msg("holding the Telegram poller's lease: polling")
		err = b.poll(offset, lt)
		if errors.Is(err, errStopped) {
			return err // a test's crash keeps the lease, as a kill would, even if Run is stopped meanwhile
		}
		if b.life.Err() != nil {
			lt.clearAtStop(b)
			b.release(t)
			return nil
		}
		if errors.Is(err, coord.ErrLost) {
			b.connected.Store(false)
			b.log.Warn().Err(err).Msg("lost the Telegram poller's lease: standing by")
			continue
		}
		b.release(t)
		return err
	}
	return nil
}

// errStore marks failures of this process's store, which stop the bot.
var errStore = errors.New("telegram: store")

// nsLease keeps the last adoption of this process's batches it has seen
// ("adopted" -> the batch's range, from-next), so that it warns once.
const nsLease = "telegram/lease"

// settleOwn deals with this holder's batch pending in the lease, left by
// a crash: it records it unless the store has it already, then settles
// it (coord.Lease.Settle). Recording first, a crash in between can only
// leave the batch in two stores, never in none. When another process
// settled the batch first (it adopted it), the batch is in two stores,
// and it warns. It does the same check for an adoption already noted in
// the lease, which it may not have recorded.
func (b *Bot) settleOwn(st leaseState, holder string) error {
	p, pending := st.Pending[holder]
	a, adopted := st.Adopted[holder]
	if !pending && !adopted {
		return nil
	}
	local, err := b.loadCursor()
	if err != nil {
		return fmt.Errorf("%w: %w", errStore, err)
	}
	if pending {
		if local.Offset < p.Next {
			b.log.Warn().Int64("from", p.From).Int64("next", p.Next).Int("updates", len(p.Updates)).
				Msg("recording a batch this process took from Telegram before it stopped")
			if _, err := b.handleBatch(p.Updates, p.From); err != nil {
				return fmt.Errorf("%w: %w", errStore, err)
			}
			local.Offset = p.Next
		}
		winner, err := b.opts.Lease.Settle(b.life, holder, p.item())
		if err != nil {
			return fmt.Errorf("telegram: settle the batch from update %d left in the lease: %w", p.From, err)
		}
		if winner == holder {
			return nil
		}
		a = adoption{From: p.From, Next: p.Next, By: winner}
	}
	item := leasedBatch{From: a.From, Next: a.Next}.item()
	seen, err := b.opts.Store.GetKV(nsLease, []byte("adopted"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", errStore, err)
	}
	if string(seen) == item {
		return nil
	}
	if local.Offset >= a.Next {
		b.log.Warn().Int64("from", a.From).Int64("next", a.Next).Str("by", a.By).
			Msg("updates this process recorded were also recorded by the process that adopted them from the lease: query nodes show them twice, once per origin")
	} else {
		b.log.Info().Int64("from", a.From).Int64("next", a.Next).Str("by", a.By).
			Msg("another process recorded the batch this process left in the lease")
	}
	if err := b.opts.Store.Put(nsLease, []byte("adopted"), []byte(item)); err != nil {
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
