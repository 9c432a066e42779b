package cluster

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// Sink is the outbox namespace of records owed to the stream.
const Sink = "cluster"

// SubjectPrefix starts every record's subject:
// chatwarden.records.<platform>.<property>.
const SubjectPrefix = "chatwarden.records"

// MetricOutboxDepth is the gauge of records not yet in the stream.
const MetricOutboxDepth = "chatwarden_cluster_outbox_depth"

// Headers of a record's message: what its hash covers beyond the event,
// so that a query node stores it as its shard wrote it.
const (
	// HeaderSeq carries the record's commit sequence in its shard's store.
	HeaderSeq = "Chatwarden-Seq"
	// HeaderPrevSeq carries the sequence of the record before it in its
	// property's chain (0 for the first).
	HeaderPrevSeq = "Chatwarden-Prev-Seq"
	// HeaderNonce carries the nonce of its personal part (hex), absent
	// when the record was erased.
	HeaderNonce = "Chatwarden-Nonce"
	// HeaderDigest carries the digest of its personal part (hex).
	HeaderDigest = "Chatwarden-Digest"
	// HeaderPrevHash carries, on the first record published of a chain
	// that began before its shard joined the fleet, its predecessor's
	// hash (hex): query nodes start the chain there.
	HeaderPrevHash = "Chatwarden-Prev-Hash"
	// HeaderOrigin carries the origin of the store that wrote the record
	// (store.Store.Origin): a query node keeps one chain per property and
	// origin. Messages without it (published before origins) belong to
	// one default origin.
	HeaderOrigin = "Chatwarden-Origin"
)

// target is the outbox's one queue under Sink (the store's outbox wants a
// target; records go to one stream).
const target = "stream"

// route queues an event for the stream.
var route = []recorder.Route{{Sink: Sink, Target: target}}

// Router queues every event for the stream in the event's own commit: add
// it to the recorder before anything is recorded.
func Router() recorder.Router {
	return recorder.RouterFunc(func(*audit.Event) []recorder.Route { return route })
}

// Outbox is what the publisher needs of the store (*store.Store is one).
type Outbox interface {
	OutboxReplicas(ctx context.Context, sink, target string, max int) ([]store.OutboxReplica, error)
	OutboxDone(ctx context.Context, keys ...[]byte) error
	OutboxDepth(sink string) (int, error)
}

// Options configure a Publisher.
type Options struct {
	Conn
	// Stream is the JetStream stream, created (one replica, file storage)
	// when missing.
	Stream string
	Outbox Outbox
	Logger zerolog.Logger
	// Batch is how many records are in flight at once (default 256).
	Batch int
	// AckTimeout bounds the wait for the stream's acknowledgement of a
	// publish (default 5s); an unacknowledged record stays in the outbox
	// and is published again.
	AckTimeout time.Duration
}

// Publisher drains the outbox into the stream. It connects in Run, keeps
// reconnecting on its own, and deletes an entry only once the stream
// acknowledged its record.
type Publisher struct {
	opts  Options
	log   zerolog.Logger
	wake  chan struct{}
	nc    atomic.Pointer[nats.Conn]
	mu    sync.Mutex
	last  error // the last publish round's error; nil once one succeeded
	ready atomic.Bool

	erasures ErasureQueue  // the Outbox's, when it keeps one (erase.go)
	erasing  chan struct{} // wakes runErasures
}

// New checks the options; nothing connects until Run.
func New(opts Options) (*Publisher, error) {
	if opts.URL == "" || opts.Stream == "" || opts.Outbox == nil {
		return nil, errors.New("cluster: URL, Stream and Outbox are required")
	}
	if err := opts.Conn.check(); err != nil {
		return nil, err
	}
	if opts.Batch <= 0 {
		opts.Batch = 256
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 5 * time.Second
	}
	p := &Publisher{opts: opts, log: opts.Logger.With().Str("component", "cluster").Logger(),
		wake: make(chan struct{}, 1), last: errors.New("not connected yet"), erasing: make(chan struct{}, 1)}
	p.erasures, _ = opts.Outbox.(ErasureQueue)
	return p, nil
}

// Committed wakes the publisher; subscribe it to the recorder.
func (p *Publisher) Committed([]*audit.Event) {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Depth counts the records not yet acknowledged by the stream.
func (p *Publisher) Depth() (int, error) {
	n, err := p.opts.Outbox.OutboxDepth(Sink)
	if err != nil {
		return 0, fmt.Errorf("cluster outbox depth: %w", err)
	}
	return n, nil
}

// Ready fails while the stream is behind: not connected, or the last
// attempt to publish failed, with the number of records waiting.
func (p *Publisher) Ready(context.Context) error {
	p.mu.Lock()
	last := p.last
	p.mu.Unlock()
	nc := p.nc.Load()
	switch {
	case nc == nil || !nc.IsConnected():
		last = errors.New("not connected to NATS")
	case last == nil:
		return nil
	}
	n, err := p.Depth()
	if err != nil {
		return err
	}
	return fmt.Errorf("stream behind, %d waiting in the outbox: %w", n, last)
}

func (p *Publisher) setLast(err error) {
	p.mu.Lock()
	p.last = err
	p.mu.Unlock()
}

// Run connects and publishes until ctx ends. A NATS outage delays
// publishing; records wait in the outbox. Run fails only on errors a
// retry cannot fix (the store's).
func (p *Publisher) Run(ctx context.Context) error {
	nc, err := p.opts.Conn.connect(p.log, func() { p.Committed(nil) })
	if err != nil {
		return err
	}
	defer nc.Close()
	p.nc.Store(nc)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(p.opts.Batch),
		jetstream.WithPublishAsyncTimeout(p.opts.AckTimeout))
	if err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	if p.erasures != nil {
		ectx, stop := context.WithCancel(ctx)
		erasing := make(chan struct{})
		go func() { defer close(erasing); p.runErasures(ectx, js) }()
		defer func() { stop(); <-erasing }()
	}
	var r retry
	haveStream := false
	for {
		if !r.pause(ctx) {
			return nil
		}
		if !haveStream {
			if err := p.ensureStream(ctx, js); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				p.fail(err, &r)
				continue
			}
			haveStream = true
		}
		n, err := p.round(ctx, js)
		if ctx.Err() != nil {
			return nil
		}
		var serr storeError
		if errors.As(err, &serr) {
			return err
		}
		if err != nil {
			if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrStreamNotFound) {
				haveStream = false // deleted by an operator, or not yet elected
			}
			p.fail(err, &r)
			continue
		}
		if r.succeeded() {
			p.log.Info().Msg("publishing to the stream again")
		}
		p.setLast(nil)
		if n > 0 {
			continue // more may be waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		}
	}
}

// fail records a round's error and doubles the wait (1s to 30s).
func (p *Publisher) fail(err error, r *retry) {
	p.setLast(err)
	if r.failed() {
		p.log.Warn().Err(err).Msg("cannot publish to the stream; records wait in the outbox")
	}
}

// ensureStream creates the stream when it does not exist. An existing
// stream is left as the operator configured it (replicas, limits). When
// the credentials may not look streams up (publish-only permissions), it
// publishes anyway: the stream's acknowledgements say whether it exists.
func (p *Publisher) ensureStream(ctx context.Context, js jetstream.JetStream) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.AckTimeout)
	defer cancel()
	_, err := js.Stream(ctx, p.opts.Stream)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) && p.nc.Load().IsConnected() {
		// Connected but no answer: a denied request is not answered.
		p.log.Warn().Err(err).Str("stream", p.opts.Stream).Msg("cannot look the stream up; publishing to it as it is")
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("look up stream %s: %w", p.opts.Stream, err)
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        p.opts.Stream,
		Description: "chatwarden audit records, one subject per platform and property",
		Subjects:    []string{SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Replicas:    1,
		Duplicates:  10 * time.Minute,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("create stream %s: %w", p.opts.Stream, err)
	}
	p.log.Info().Str("stream", p.opts.Stream).Msg("stream created")
	return nil
}

// storeError marks the store's errors, which end Run.
type storeError struct{ error }

func (e storeError) Unwrap() error { return e.error }

// round publishes one batch of the outbox and deletes what the stream
// acknowledged. It returns how many entries it removed.
func (p *Publisher) round(ctx context.Context, js jetstream.JetStream) (int, error) {
	pending, err := p.opts.Outbox.OutboxReplicas(ctx, Sink, target, p.opts.Batch)
	if err != nil {
		return 0, storeError{fmt.Errorf("cluster: read outbox: %w", err)}
	}
	if len(pending) == 0 {
		return 0, nil
	}
	var done [][]byte
	erasures := 0
	futures := make([]jetstream.PubAckFuture, len(pending))
	var firstErr error
	for i, d := range pending {
		if d.Replica.Event == nil { // purged before it was published: nothing to send
			done = append(done, d.Key)
			continue
		}
		msg, err := Message(d.Replica)
		if err != nil {
			return 0, storeError{fmt.Errorf("cluster: record %d: %w", d.Seq, err)}
		}
		f, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(MsgID(d.Replica)), jetstream.WithExpectStream(p.opts.Stream))
		if err != nil {
			firstErr = fmt.Errorf("publish record %d: %w", d.Seq, err)
			break // later ones stay queued, in order
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-f.Ok():
			queued, err := p.queueErasure(pending[i].Replica)
			if err != nil {
				return 0, storeError{fmt.Errorf("cluster: %w", err)}
			}
			if queued {
				erasures++
			}
			done = append(done, pending[i].Key)
		case err := <-f.Err():
			if firstErr == nil {
				firstErr = fmt.Errorf("publish record %d: %w", pending[i].Seq, err)
			}
		}
	}
	if err := p.opts.Outbox.OutboxDone(ctx, done...); err != nil {
		return 0, storeError{fmt.Errorf("cluster: %w", err)}
	}
	if erasures > 0 {
		select {
		case p.erasing <- struct{}{}:
		default:
		}
	}
	return len(done), firstErr
}

// Message is a record as published: its subject, the event as JSON (the
// export's field names, with its id, seq and hash) and in headers its
// chain material (HeaderSeq, HeaderPrevSeq, HeaderNonce, HeaderDigest,
// HeaderPrevHash).
func Message(r recorder.Replica) (*nats.Msg, error) {
	e := r.Event
	data, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(Subject(e.Platform, e.PropertyID))
	m.Data = data
	m.Header.Set(HeaderSeq, strconv.FormatUint(e.Seq, 10))
	m.Header.Set(HeaderPrevSeq, strconv.FormatUint(r.PrevSeq, 10))
	if len(r.Nonce) > 0 {
		m.Header.Set(HeaderNonce, hex.EncodeToString(r.Nonce))
	}
	if len(r.Digest) > 0 {
		m.Header.Set(HeaderDigest, hex.EncodeToString(r.Digest))
	}
	if len(r.PrevHash) > 0 {
		m.Header.Set(HeaderPrevHash, hex.EncodeToString(r.PrevHash))
	}
	if r.Origin != "" {
		m.Header.Set(HeaderOrigin, r.Origin)
	}
	for _, u := range users(e) {
		m.Header.Add(HeaderUsers, u)
	}
	return m, nil
}

// ParseMessage is the record a message carries, as Message wrote it. It
// fails on a message that is not a valid record; a record without chain
// material has a zero PrevSeq and no digest, which a replica refuses.
func ParseMessage(h nats.Header, data []byte) (recorder.Replica, error) {
	var e audit.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return recorder.Replica{}, fmt.Errorf("not a record: %w", err)
	}
	if err := e.Validate(); err != nil {
		return recorder.Replica{}, fmt.Errorf("invalid record: %w", err)
	}
	r := recorder.Replica{Event: &e}
	var err error
	if v := h.Get(HeaderPrevSeq); v != "" {
		if r.PrevSeq, err = strconv.ParseUint(v, 10, 64); err != nil {
			return r, fmt.Errorf("record %s: header %s: %w", e.ID, HeaderPrevSeq, err)
		}
	}
	if r.Nonce, err = hex.DecodeString(h.Get(HeaderNonce)); err != nil {
		return r, fmt.Errorf("record %s: header %s: %w", e.ID, HeaderNonce, err)
	}
	if r.Digest, err = hex.DecodeString(h.Get(HeaderDigest)); err != nil {
		return r, fmt.Errorf("record %s: header %s: %w", e.ID, HeaderDigest, err)
	}
	if v := h.Get(HeaderPrevHash); v != "" {
		if r.PrevHash, err = hex.DecodeString(v); err != nil {
			return r, fmt.Errorf("record %s: header %s: %w", e.ID, HeaderPrevHash, err)
		}
	}
	r.Origin = h.Get(HeaderOrigin)
	if len(r.Origin) > store.MaxOriginLen {
		return r, fmt.Errorf("record %s: header %s is longer than %d bytes", e.ID, HeaderOrigin, store.MaxOriginLen)
	}
	return r, nil
}

// MsgID is the id JetStream de-duplicates a record on: the record id,
// qualified by its property and the origin of the store that wrote it,
// because two shards' stores number their records independently (and a
// Telegram group's records come from every process that polled it).
func MsgID(r recorder.Replica) string {
	e := r.Event
	id := e.Platform.String() + "/" + e.PropertyID + "/" + e.ID.String()
	if r.Origin != "" {
		id = r.Origin + "/" + id
	}
	return id
}

// Subject is a property's subject. Characters a subject token cannot hold
// ('.', '*', '>', white space) become '_'; the record itself carries the
// exact property id.
func Subject(p audit.Platform, property string) string {
	token := strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, property)
	if token == "" {
		token = "_"
	}
	return SubjectPrefix + "." + p.String() + "." + token
}
