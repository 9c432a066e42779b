package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/recorder"
)

// Recorder is where a consumer writes what it reads: the records as
// their shards wrote them and the stream position in one transaction
// (*recorder.Recorder over a *store.Store is one).
type Recorder interface {
	RecordReplicas(ctx context.Context, c recorder.Cursor, recs ...recorder.Replica) (recorder.ReplicaResult, error)
}

// Cursors reads the saved stream position (*store.Store is one).
type Cursors interface {
	Cursor(name string) ([]byte, error)
}

// ConsumerOptions configure a Consumer.
type ConsumerOptions struct {
	Conn
	Stream   string
	Recorder Recorder
	Cursors  Cursors
	Logger   zerolog.Logger
	// Batch is how many records are fetched and committed at once
	// (default 256).
	Batch int
}

// Consumer copies the stream into a query node's store, each record as
// its shard wrote it (store.AppendReplica): the query node's chains are
// the shards' and verify there checks them. A record published after its
// successor (a retried publish) waits in the store for it; one delivered
// twice is skipped. Its position
// (the stream sequence of the last message copied) is durable in that
// store, saved in the same transaction as the records, rather than as a
// server-side durable consumer whose acknowledgement could not be part of
// the store's transaction: after a crash or a restart it reads on from
// the next message through an ordered consumer, so each message is copied
// exactly once and in stream order. A shard's erasure record (DATA_RETENTION,
// action ERASE) erases its member here too, and later records of the
// member from before it are stored without their personal part.
type Consumer struct {
	opts   ConsumerOptions
	log    zerolog.Logger
	cursor string
	nc     atomic.Pointer[nats.Conn]

	mu      sync.Mutex
	last    error
	pending uint64 // messages left in the stream after the last fetch
	waiting int    // records held for their predecessor
}

// NewConsumer checks the options; nothing connects until Run.
func NewConsumer(opts ConsumerOptions) (*Consumer, error) {
	if err := opts.Conn.check(); err != nil {
		return nil, err
	}
	if opts.Stream == "" || opts.Recorder == nil || opts.Cursors == nil {
		return nil, errors.New("cluster: Stream, Recorder and Cursors are required")
	}
	if opts.Batch <= 0 {
		opts.Batch = 256
	}
	return &Consumer{opts: opts, log: opts.Logger.With().Str("component", "cluster").Logger(),
		cursor: "cluster/" + opts.Stream, last: errors.New("not connected yet")}, nil
}

// Ready fails until the consumer is connected and has caught up with the
// stream as of its last fetch.
func (c *Consumer) Ready(context.Context) error {
	c.mu.Lock()
	last, pending, waiting := c.last, c.pending, c.waiting
	c.mu.Unlock()
	if nc := c.nc.Load(); nc == nil || !nc.IsConnected() {
		return errors.New("not connected to NATS")
	}
	if last != nil {
		return last
	}
	if pending > 0 {
		return fmt.Errorf("catching up with the stream: %d records to copy", pending)
	}
	if waiting > 0 {
		return fmt.Errorf("%d records wait for an earlier record of their chain, not yet in the stream", waiting)
	}
	return nil
}

func (c *Consumer) set(err error, pending uint64) {
	c.mu.Lock()
	c.last, c.pending = err, pending
	c.mu.Unlock()
}

// Run copies the stream until ctx ends. NATS outages are waited out; Run
// fails on errors of the store.
func (c *Consumer) Run(ctx context.Context) error {
	nc, err := c.opts.Conn.connect(c.log, func() {})
	if err != nil {
		return err
	}
	defer nc.Close()
	// The ordered consumer's own retries do not watch ctx; a closed
	// connection ends them.
	stop := context.AfterFunc(ctx, nc.Close)
	defer stop()
	c.nc.Store(nc)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	var cons jetstream.Consumer
	var r retry
	idle := false // the last round found nothing: wait for a message
	for {
		if !r.pause(ctx) {
			return nil
		}
		if cons == nil {
			cons, err = c.consumer(ctx, js)
			if err != nil {
				if errors.As(err, new(storeError)) {
					return err
				}
				c.fail(err, &r)
				continue
			}
		}
		n, err := c.round(ctx, js, cons, idle)
		idle = err == nil && n == 0
		var serr storeError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &serr):
			return err
		case err != nil:
			cons = nil // read on from the saved position
			c.fail(err, &r)
		default:
			r.succeeded()
		}
	}
}

func (c *Consumer) fail(err error, r *retry) {
	c.set(err, 0)
	if r.failed() {
		c.log.Warn().Err(err).Msg("cannot read the stream; retrying")
	}
}

// position is the stream sequence of the last message copied.
func (c *Consumer) position() (uint64, error) {
	raw, err := c.opts.Cursors.Cursor(c.cursor)
	if err != nil {
		return 0, storeError{fmt.Errorf("cluster: read cursor: %w", err)}
	}
	if len(raw) != 8 {
		return 0, nil
	}
	return binary.BigEndian.Uint64(raw), nil
}

// consumer starts an ordered consumer after the saved position.
func (c *Consumer) consumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	done, err := c.position()
	if err != nil {
		return nil, err
	}
	// A few resets only: past them Fetch fails and Run starts again from
	// the saved position, with its own backoff.
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy, MaxResetAttempts: 3}
	if done > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, done+1
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(cctx, c.opts.Stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("read stream %s after %d: %w", c.opts.Stream, done, err)
	}
	return cons, nil
}

// round fetches what the stream has ready (up to Batch; when idle, it
// waits up to 2s for one message instead) and commits the records not
// yet copied with the new position, returning how many messages came.
// Taking what is ready rather than waiting for a full batch keeps the lag
// of a quiet stream at a round trip while batches grow under load.
func (c *Consumer) round(ctx context.Context, js jetstream.JetStream, cons jetstream.Consumer, idle bool) (int, error) {
	done, err := c.position()
	if err != nil {
		return 0, err
	}
	var batch jetstream.MessageBatch
	if idle {
		batch, err = cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	} else {
		batch, err = cons.FetchNoWait(c.opts.Batch)
	}
	if err != nil {
		return 0, fmt.Errorf("fetch: %w", err)
	}
	n := 0
	var recs []recorder.Replica
	var pos, pending uint64
	for m := range batch.Messages() {
		n++
		meta, err := m.Metadata()
		if err != nil {
			return 0, fmt.Errorf("message metadata: %w", err)
		}
		pending = meta.NumPending
		if meta.Sequence.Stream <= done {
			continue // copied already
		}
		pos = meta.Sequence.Stream
		r, err := ParseMessage(m.Headers(), m.Data())
		if err != nil {
			c.log.Error().Err(err).Uint64("stream_seq", pos).Str("subject", m.Subject()).Msg("skipping a message that is not a valid record")
			continue
		}
		recs = append(recs, r)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
		return 0, fmt.Errorf("fetch: %w", err)
	}
	if n == 0 {
		// Nothing came: the stream's own last sequence says whether the
		// consumer has caught up, or (a fresh consumer not delivering
		// yet, or one stuck since a server went away) has not.
		behind, err := c.behind(ctx, js, done)
		if err != nil {
			return 0, err
		}
		if behind > 0 && idle {
			return 0, fmt.Errorf("the stream holds %d records after %d, and none came in 2s", behind, done)
		}
		pending = behind
	}
	waiting := -1
	if pos > done {
		cur := recorder.Cursor{Name: c.cursor, Value: binary.BigEndian.AppendUint64(nil, pos)}
		res, err := c.opts.Recorder.RecordReplicas(ctx, cur, recs...)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, storeError{fmt.Errorf("cluster: record %d records from the stream: %w", len(recs), err)}
		}
		for _, p := range res.Problems {
			c.log.Error().Err(p).Uint64("stream_seq", pos).Msg("a record from the stream was not stored as sent")
		}
		if res.Erasures > 0 || res.Erased > 0 {
			// A shard erased a member: so does this node (store.AppendReplica).
			c.log.Info().Int("erasures", res.Erasures).Int("records", res.Erased).Uint64("stream_seq", pos).
				Msg("applied a member's erasure published by a shard")
		}
		if res.Held > 0 || res.Duplicates > 0 {
			c.log.Debug().Int("held", res.Held).Int("waiting", res.Waiting).Int("duplicates", res.Duplicates).
				Msg("records held for their predecessor or delivered twice")
		}
		waiting = res.Waiting
	}
	c.mu.Lock()
	c.last, c.pending = nil, pending
	if waiting >= 0 {
		c.waiting = waiting
	}
	c.mu.Unlock()
	return n, nil
}

// behind is how many messages the stream holds after position done.
func (c *Consumer) behind(ctx context.Context, js jetstream.JetStream, done uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, c.opts.Stream)
	if err != nil {
		return 0, fmt.Errorf("look up stream %s: %w", c.opts.Stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", c.opts.Stream, err)
	}
	if last := info.State.LastSeq; last > done {
		return last - done, nil
	}
	return 0, nil
}
