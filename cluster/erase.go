package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// Erasure in the stream. Query nodes apply a shard's erasure record
// (store.AppendReplica), but the stream still holds the original
// messages, and a new query node would read them. So once the stream
// acknowledged an erasure record, the shard's publisher removes the
// user's messages from before it from the property's subject: it finds
// them by a headers-only scan (HeaderUsers names each record's users;
// messages without a nonce carry no personal part and are left), publishes
// for each an erased copy (the same record, id, sequence numbers, digest
// and hash, without its personal part and nonce) under its own message
// id, and once that is acknowledged deletes the original with JetStream's
// secure delete, which overwrites it on the servers' disks. The copy keeps
// every chain whole: a query node reading the stream from its start holds
// the records after the deleted one until the copy arrives, then links
// them; one that stored the original already takes the copy for a
// duplicate. The work is queued in the shard's store (nsStreamErasures)
// in the same step that removes the erasure record from the outbox, so it
// survives restarts and NATS outages.

// HeaderUsers names a user a record is about (its actor, each target),
// one value each.
const HeaderUsers = "Chatwarden-Users"

// erasedCopySuffix ends the message id of an erased copy, so that
// JetStream's de-duplication does not take it for the original.
const erasedCopySuffix = "/erased"

// nsStreamErasures is the store's KV namespace of erasures still to be
// carried out in the stream: the erasure record's message id -> JSON
// streamErasure.
const nsStreamErasures = "cluster/stream_erasures"

type streamErasure struct {
	Platform audit.Platform `json:"platform"`
	Property string         `json:"property"`
	User     string         `json:"user"`
	ID       audit.ID       `json:"id"` // the erasure record's: messages of records before it go
}

// ErasureQueue keeps the erasures still to be carried out in the stream
// (*store.Store is one). Without it a publisher leaves the stream as it
// is.
type ErasureQueue interface {
	Put(ns string, key, value []byte) error
	DeleteKV(ns string, key []byte) error
	ScanKV(ns string, prefix []byte, fn func(key, value []byte) error) error
}

// StreamErasures lists the erasures a shard has still to carry out in the
// stream (for tests and the doctor).
func StreamErasures(q ErasureQueue) (int, error) {
	n := 0
	err := q.ScanKV(nsStreamErasures, nil, func(_, _ []byte) error { n++; return nil })
	if err != nil {
		return 0, fmt.Errorf("cluster: stream erasures: %w", err)
	}
	return n, nil
}

// queueErasure remembers an acknowledged erasure record's work in the
// stream, and reports whether r is one.
func (p *Publisher) queueErasure(r recorder.Replica) (bool, error) {
	user, ok := store.ErasedUser(r.Event)
	if !ok || p.erasures == nil {
		return false, nil
	}
	e := r.Event
	v, err := json.Marshal(streamErasure{Platform: e.Platform, Property: e.PropertyID, User: user, ID: e.ID})
	if err != nil {
		return false, err
	}
	if err := p.erasures.Put(nsStreamErasures, []byte(MsgID(r)), v); err != nil {
		return false, fmt.Errorf("queue the erasure %s for the stream: %w", e.ID, err)
	}
	return true, nil
}

// runErasures carries out the queued erasures in the stream until ctx
// ends, on start and whenever one is queued, retrying failures.
func (p *Publisher) runErasures(ctx context.Context, js jetstream.JetStream) {
	var r retry
	for {
		if !r.pause(ctx) {
			return
		}
		err := p.eraseQueued(ctx, js)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if r.failed() {
				p.log.Warn().Err(err).Msg("cannot remove an erased member's messages from the stream yet; retrying")
			}
			continue
		}
		if r.succeeded() {
			p.log.Info().Msg("removing erased members' messages from the stream again")
		}
		select {
		case <-ctx.Done():
			return
		case <-p.erasing:
		}
	}
}

// eraseQueued carries out every queued erasure, each deleted from the
// queue once done.
func (p *Publisher) eraseQueued(ctx context.Context, js jetstream.JetStream) error {
	type job struct {
		key []byte
		se  streamErasure
	}
	var jobs []job
	err := p.erasures.ScanKV(nsStreamErasures, nil, func(k, v []byte) error {
		var se streamErasure
		if err := json.Unmarshal(v, &se); err != nil {
			p.log.Error().Err(err).Str("key", string(k)).Msg("dropping an unreadable stream erasure")
			jobs = append(jobs, job{key: slices.Clone(k)})
			return nil
		}
		jobs = append(jobs, job{slices.Clone(k), se})
		return nil
	})
	if err != nil {
		return storeError{fmt.Errorf("cluster: stream erasures: %w", err)}
	}
	for _, j := range jobs {
		if j.se.User != "" {
			n, err := p.eraseInStream(ctx, js, j.se)
			if err != nil {
				return fmt.Errorf("erase %s's messages of %s %s from the stream: %w", j.se.User, j.se.Platform, j.se.Property, err)
			}
			p.log.Info().Str("platform", j.se.Platform.String()).Str("property", j.se.Property).Str("user", j.se.User).
				Int("messages", n).Msg("replaced an erased member's messages in the stream by erased copies")
		}
		if err := p.erasures.DeleteKV(nsStreamErasures, j.key); err != nil {
			return storeError{fmt.Errorf("cluster: stream erasures: %w", err)}
		}
	}
	return nil
}

// eraseInStream replaces the messages of one erasure and returns how
// many.
func (p *Publisher) eraseInStream(ctx context.Context, js jetstream.JetStream, se streamErasure) (int, error) {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	st, err := js.Stream(sctx, p.opts.Stream)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("look up stream %s: %w", p.opts.Stream, err)
	}
	seqs, err := p.scanUser(ctx, js, se)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, seq := range seqs {
		done, err := p.replaceMessage(ctx, js, st, se, seq)
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

// scanUser lists the stream sequences of the property's messages that may
// carry the user's personal part from before the erasure, reading headers
// only.
func (p *Publisher) scanUser(ctx context.Context, js jetstream.JetStream, se streamErasure) ([]uint64, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	cons, err := js.OrderedConsumer(cctx, p.opts.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{Subject(se.Platform, se.Property)}, HeadersOnly: true, MaxResetAttempts: 3})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("scan the stream: %w", err)
	}
	var seqs []uint64
	for {
		// What the consumer has, up to 256; the last message says no more
		// are pending. An empty subject sends nothing within the wait.
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("scan the stream: %w", err)
		}
		n, last := 0, false
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("scan the stream: %w", err)
			}
			if candidate(m.Headers(), se) {
				seqs = append(seqs, meta.Sequence.Stream)
			}
			if meta.NumPending == 0 {
				last = true
				break
			}
		}
		if !last {
			if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
				return nil, fmt.Errorf("scan the stream: %w", err)
			}
		}
		if n == 0 || last {
			return seqs, nil
		}
	}
}

// candidate reports from a message's headers whether it may carry the
// user's personal part from before the erasure: it has a nonce (an
// erased record has none), and its users and record id, when the headers
// say (messages of older releases do not), include the user and come
// before the erasure.
func candidate(h nats.Header, se streamErasure) bool {
	if h.Get(HeaderNonce) == "" {
		return false
	}
	if users := h.Values(HeaderUsers); len(users) > 0 && !slices.Contains(users, se.User) {
		return false
	}
	id := h.Get(jetstream.MsgIDHeader)
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		if rid, err := audit.ParseID(id[i+1:]); err == nil && string(rid[:]) >= string(se.ID[:]) {
			return false
		}
	}
	return true
}

// replaceMessage reads one message whole and, when it is a record of the
// user from before the erasure with its personal part, publishes its
// erased copy and then deletes it securely. done is false for a message
// that turned out not to be one.
func (p *Publisher) replaceMessage(ctx context.Context, js jetstream.JetStream, st jetstream.Stream, se streamErasure, seq uint64) (bool, error) {
	gctx, cancel := context.WithTimeout(ctx, p.opts.AckTimeout)
	raw, err := st.GetMsg(gctx, seq)
	cancel()
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil // gone already (max age, or deleted by another round)
	}
	if err != nil {
		return false, fmt.Errorf("read message %d: %w", seq, err)
	}
	r, err := ParseMessage(raw.Header, raw.Data)
	if err != nil {
		return false, nil // not a record: the consumers skip it too
	}
	e := r.Event
	if e.Redacted || e.Platform != se.Platform || e.PropertyID != se.Property || string(e.ID[:]) >= string(se.ID[:]) || !about(e, se.User) {
		return false, nil
	}
	store.Redact(e)
	r.Nonce = nil
	m, err := Message(r)
	if err != nil {
		return false, fmt.Errorf("erased copy of message %d: %w", seq, err)
	}
	pctx, cancel := context.WithTimeout(ctx, p.opts.AckTimeout)
	_, err = js.PublishMsg(pctx, m, jetstream.WithMsgID(MsgID(r)+erasedCopySuffix), jetstream.WithExpectStream(p.opts.Stream))
	cancel()
	if err != nil {
		return false, fmt.Errorf("publish the erased copy of message %d: %w", seq, err)
	}
	dctx, cancel := context.WithTimeout(ctx, p.opts.AckTimeout)
	err = st.SecureDeleteMsg(dctx, seq)
	cancel()
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, fmt.Errorf("delete message %d: %w", seq, err)
	}
	return true, nil
}

// about reports whether user is e's actor or one of its targets.
func about(e *audit.Event, user string) bool {
	return e.ActorID == user || slices.Contains(e.TargetIDs, user)
}

// users lists a record's users for HeaderUsers, each once.
func users(e *audit.Event) []string {
	var out []string
	if e.ActorID != "" {
		out = append(out, e.ActorID)
	}
	for _, t := range e.TargetIDs {
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
