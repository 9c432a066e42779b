package recorder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
)

// Journal is where the Recorder makes events durable. *store.Store is the
// real one. Append writes the whole batch in one fsync'd transaction and
// assigns ID, Seq and Hash to every event in place; it either commits all of
// the batch or none of it.
type Journal interface {
	Append(ctx context.Context, b *Batch) error
}

// ErrJournalClosed is wrapped by a Journal's Append once the journal is
// closed: retrying cannot help, so the recorder gives the batch up (its
// callers get the error) instead of retrying forever.
var ErrJournalClosed = errors.New("journal closed")

// Batch is one transaction's worth of writes.
type Batch struct {
	Events []*audit.Event
	// Routes[i] are the log deliveries of Events[i], written to the outbox
	// in the same transaction. Routes is nil or as long as Events.
	Routes [][]Route
	// Cursors are platform positions (the Telegram update offset) saved in
	// the same transaction as the events they produced.
	Cursors []Cursor
	// State is handlers' key/value state (a member's last seen profile)
	// saved in the same transaction, in the order it was submitted.
	State []State
	// Sealed[i] is what the journal's Sealer computed for Events[i] on the
	// caller's goroutine; nil or as long as Events. They belong to the
	// journal once Append has returned nil (it may reuse their memory for
	// later seals and set them to nil here); after an error they are still
	// the batch's, to retry.
	Sealed [][]byte
}

// Sealer is implemented by journals that can do the part of Append's work
// that does not depend on commit order (encoding, digests) on the caller's
// goroutine, off the single committing goroutine. Seal must not keep e.
type Sealer interface {
	Seal(e *audit.Event) []byte
}

// Route is one log delivery: Sink names the deliverer ("discord",
// "telegram"), Target where it posts (a channel or chat id).
type Route struct {
	Sink   string
	Target string
}

// Cursor is a named platform position stored with a batch.
type Cursor struct {
	Name  string
	Value []byte
}

// State is one write of a handler's key/value state: Value under Key in
// namespace NS, or the key removed when Delete is set.
type State struct {
	NS         string
	Key, Value []byte
	Delete     bool
}

// Router decides, before commit, where an event is delivered. It is called
// from the recorder's single committing goroutine and must not block.
type Router interface {
	Route(e *audit.Event) []Route
}

// RouterFunc adapts a function to Router.
type RouterFunc func(e *audit.Event) []Route

// Route implements Router.
func (f RouterFunc) Route(e *audit.Event) []Route { return f(e) }

// RecorderOptions tunes a Recorder. The zero value is usable.
type Options struct {
	// MaxDelay bounds how long a commit waits for more concurrent callers to
	// join it (default 2ms). The wait ends early once every caller that is
	// inside Record has joined.
	MaxDelay time.Duration
	// MaxBatch caps the events of one transaction (default 16384). Bigger
	// batches share more index pages per commit.
	MaxBatch int
	// QueueSize caps the calls waiting for a commit (default 16384); further
	// callers wait, so overload slows producers down instead of dropping.
	QueueSize int
	// Prepare, if set, is applied to every event on the caller's goroutine
	// before it is queued (for example to drop content a property does not
	// store). It must be safe for concurrent use.
	Prepare func(e *audit.Event)
	// Routers decide each event's log-channel routes in its commit; more
	// can be added with AddRouter.
	Routers []Router
	// Now is the clock used for events without a time.
	Now    func() time.Time
	Logger zerolog.Logger
}

// ErrRecorderClosed is returned by Record after Close.
var ErrClosed = errors.New("recorder closed")

// Recorder commits events in groups and then hands them to subscribers.
//
// Record returns only after the caller's events are durable. Concurrent
// callers share one transaction. When the journal fails (for example a
// full disk) the recorder keeps the batch in memory and retries with
// backoff, logging each failure; callers keep waiting, and new callers wait
// once the bounded queue is full, so nothing is dropped.
type Recorder struct {
	j    Journal
	opts Options

	queue    chan *request
	inflight atomic.Int64 // callers inside Record
	closing  chan struct{}
	closed   chan struct{}
	once     sync.Once
	mu       sync.RWMutex // guards queue sends against close
	isClosed bool

	subMu   sync.Mutex
	routers atomic.Pointer[[]Router] // copied on write (AddRouter)
	subs    []func([]*audit.Event)
	notify  chan []*audit.Event
	notDone chan struct{}

	stats Stats
}

// RecorderStats are cumulative counters, safe to read at any time.
type Stats struct {
	Commits  atomic.Uint64
	Events   atomic.Uint64
	Failures atomic.Uint64
	// LastBatch and LastCommit describe the newest commit.
	LastBatch  atomic.Int64
	LastCommit atomic.Int64 // nanoseconds
}

type request struct {
	events []*audit.Event
	sealed [][]byte
	cursor *Cursor
	state  []State
	done   chan error  // Record's waiter, or nil
	cb     func(error) // Submit's callback, or nil
	// sealed1 backs sealed for the usual one-event request, saving an
	// allocation per event.
	sealed1 [1][]byte
}

func (req *request) finish(err error) {
	if req.done != nil {
		req.done <- err
	}
	if req.cb != nil {
		req.cb(err)
		// Nothing refers to a Submit request once its callback has run:
		// the batch holds its events and seals, not the request.
		*req = request{}
		requests.Put(req)
	}
}

// requests recycles Submit's requests: a gateway reader submits each event
// on its own, and this saves an allocation per event.
var requests = sync.Pool{New: func() any { return new(request) }}

// submitRequest returns a request for Submit from the pool.
func submitRequest(events []*audit.Event, state []State, done func(error)) *request {
	req := requests.Get().(*request)
	req.events, req.state, req.cb = events, state, done
	return req
}

// NewRecorder starts a recorder writing to j. Close it to drain.
func New(j Journal, opts Options) *Recorder {
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 2 * time.Millisecond
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 16384
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 16384
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Recorder{
		j:       j,
		opts:    opts,
		queue:   make(chan *request, opts.QueueSize),
		closing: make(chan struct{}),
		closed:  make(chan struct{}),
		notify:  make(chan []*audit.Event, 64),
		notDone: make(chan struct{}),
	}
	routers := slices.Clone(opts.Routers)
	r.routers.Store(&routers)
	go r.commitLoop()
	go r.notifyLoop()
	return r
}

// Stats returns the recorder's counters.
func (r *Recorder) Stats() *Stats { return &r.stats }

// AddRouter adds a router that decides log-channel routes in each commit,
// after those already added. Like Subscribe, it is meant for wiring:
// routes are decided for the events committed after it returns. bot.Run
// adds the moderation engine's raid filter once the engine, which records
// through this recorder, exists.
func (r *Recorder) AddRouter(rt Router) {
	r.subMu.Lock()
	defer r.subMu.Unlock()
	routers := append(slices.Clone(*r.routers.Load()), rt)
	r.routers.Store(&routers)
}

// Subscribe registers fn to receive every committed batch, in commit order,
// from one goroutine. fn must not block for long: it delays every later
// subscriber call (but not commits, up to a bounded backlog).
func (r *Recorder) Subscribe(fn func(events []*audit.Event)) {
	r.subMu.Lock()
	r.subs = append(r.subs, fn)
	r.subMu.Unlock()
}

// Record makes events durable and returns once they are. Invalid events
// fail the whole call before anything is written. If ctx ends first,
// Record returns ctx.Err(); the events may still be committed.
func (r *Recorder) Record(ctx context.Context, events ...*audit.Event) error {
	return r.record(ctx, nil, events)
}

// Submit queues events and returns without waiting for the commit; done
// is called (from the recorder's goroutine, so it must be quick) once they
// are durable. It lets one producer keep many events in flight, as a
// gateway reader does. Submit blocks only while the queue is full. An error
// from Submit means the events were not accepted and done is not called.
func (r *Recorder) Submit(ctx context.Context, done func(error), events ...*audit.Event) error {
	if done == nil {
		done = func(error) {}
	}
	return r.enqueuePooled(ctx, submitRequest(events, nil, done))
}

// SubmitState is Submit plus state saved in the same commit: a handler
// keeps what it last saw of a member without a write transaction (and
// an fsync) of its own on its event-reading goroutine. There may be no
// events.
func (r *Recorder) SubmitState(ctx context.Context, done func(error), state []State, events ...*audit.Event) error {
	if done == nil {
		done = func(error) {}
	}
	return r.enqueuePooled(ctx, submitRequest(events, state, done))
}

// RecordCursor is Record plus a platform cursor saved in the same
// transaction as the events (which may be none).
func (r *Recorder) RecordCursor(ctx context.Context, c Cursor, events ...*audit.Event) error {
	return r.record(ctx, &c, events)
}

func (r *Recorder) record(ctx context.Context, c *Cursor, events []*audit.Event) error {
	if len(events) == 0 && c == nil {
		return nil
	}
	r.inflight.Add(1)
	defer r.inflight.Add(-1)
	req := &request{events: events, cursor: c, done: make(chan error, 1)}
	if err := r.enqueue(ctx, req); err != nil {
		return err
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("record: waiting for commit: %w", ctx.Err())
	}
}

// enqueuePooled is enqueue for a pooled request, which goes back to the
// pool when it was not accepted.
func (r *Recorder) enqueuePooled(ctx context.Context, req *request) error {
	err := r.enqueue(ctx, req)
	if err != nil {
		*req = request{}
		requests.Put(req)
	}
	return err
}

// enqueue validates and queues a request.
func (r *Recorder) enqueue(ctx context.Context, req *request) error {
	now := r.opts.Now()
	for _, e := range req.events {
		if e == nil {
			return fmt.Errorf("record: %w: nil event", audit.ErrInvalidEvent)
		}
		if err := e.Validate(); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		e.Normalize(now)
		if r.opts.Prepare != nil {
			r.opts.Prepare(e)
		}
	}
	if sealer, ok := r.j.(Sealer); ok {
		if len(req.events) == 1 {
			req.sealed = req.sealed1[:]
		} else {
			req.sealed = make([][]byte, len(req.events))
		}
		for i, e := range req.events {
			req.sealed[i] = sealer.Seal(e)
		}
	}
	r.mu.RLock()
	if r.isClosed {
		r.mu.RUnlock()
		return ErrClosed
	}
	defer r.mu.RUnlock()
	select {
	case r.queue <- req:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("record: waiting for queue: %w", ctx.Err())
	}
}

// Close stops accepting events, commits everything queued and waits for
// subscribers to see it, or until ctx ends.
func (r *Recorder) Close(ctx context.Context) error {
	r.once.Do(func() {
		r.mu.Lock()
		r.isClosed = true
		close(r.queue)
		r.mu.Unlock()
	})
	select {
	case <-r.notDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close recorder: %w", ctx.Err())
	}
}

func (r *Recorder) commitLoop() {
	defer close(r.notify)
	var pending []*request
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first, ok := <-r.queue
		if !ok {
			return
		}
		pending = append(pending[:0], first)
		n := len(first.events)
		open := true
		// Take what is already queued, then wait briefly while other
		// callers are on their way.
		start := time.Now()
	gather:
		for n < r.opts.MaxBatch {
			select {
			case req, ok := <-r.queue:
				if !ok {
					open = false
					break gather
				}
				pending = append(pending, req)
				n += len(req.events)
				continue
			default:
			}
			if int(r.inflight.Load()) <= len(pending) {
				break
			}
			wait := r.opts.MaxDelay - time.Since(start)
			if wait <= 0 {
				break
			}
			timer.Reset(wait)
			select {
			case req, ok := <-r.queue:
				timer.Stop()
				if !ok {
					open = false
					break gather
				}
				pending = append(pending, req)
				n += len(req.events)
			case <-timer.C:
				break gather
			}
		}
		r.commit(pending, n)
		// The array is reused for the next batch: let go of this one's
		// requests, or the largest batch's would stay reachable.
		clear(pending)
		if !open {
			// Drain whatever raced in before close.
			for req := range r.queue {
				r.commit([]*request{req}, len(req.events))
			}
			return
		}
	}
}

// commit writes one batch, retrying until it succeeds: the events were
// accepted and must not be lost.
func (r *Recorder) commit(reqs []*request, n int) {
	b := &Batch{Events: make([]*audit.Event, 0, n)}
	_, sealing := r.j.(Sealer)
	if sealing {
		b.Sealed = make([][]byte, 0, n)
	}
	for _, req := range reqs {
		b.Events = append(b.Events, req.events...)
		if sealing {
			b.Sealed = append(b.Sealed, req.sealed...)
		}
		b.State = append(b.State, req.state...)
		if req.cursor != nil {
			b.Cursors = append(b.Cursors, *req.cursor)
		}
	}
	if routers := *r.routers.Load(); len(routers) > 0 {
		b.Routes = make([][]Route, len(b.Events))
		for i, e := range b.Events {
			for _, rt := range routers {
				rs := rt.Route(e)
				if b.Routes[i] == nil {
					// The router's slice as it is (usually the only one),
					// clipped so that a later router's routes are appended
					// to a copy, never into the router's spare capacity.
					b.Routes[i] = slices.Clip(rs)
					continue
				}
				b.Routes[i] = append(b.Routes[i], rs...)
			}
		}
	}
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := r.j.Append(context.Background(), b)
		if err == nil {
			r.stats.Commits.Add(1)
			r.stats.Events.Add(uint64(len(b.Events)))
			r.stats.LastBatch.Store(int64(len(b.Events)))
			r.stats.LastCommit.Store(int64(time.Since(start)))
			break
		}
		r.stats.Failures.Add(1)
		if errors.Is(err, ErrJournalClosed) {
			r.opts.Logger.Error().Err(err).Int("events", len(b.Events)).
				Msg("recorder: journal closed; batch not recorded")
			for _, req := range reqs {
				req.finish(fmt.Errorf("record: %w", err))
			}
			return
		}
		r.opts.Logger.Error().Err(err).Int("events", len(b.Events)).Int("attempt", attempt).
			Dur("retry_in", backoff).Msg("recorder: commit failed; events kept in memory, retrying")
		time.Sleep(backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
	for _, req := range reqs {
		req.finish(nil)
	}
	if len(b.Events) > 0 {
		r.notify <- b.Events
	}
}

func (r *Recorder) notifyLoop() {
	defer close(r.notDone)
	for evs := range r.notify {
		r.subMu.Lock()
		subs := r.subs
		r.subMu.Unlock()
		for _, fn := range subs {
			fn(evs)
		}
	}
}
