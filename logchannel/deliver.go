package logchannel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/platform"
)

// Delivery is one pending log delivery from the outbox.
type Delivery struct {
	Key    []byte
	Target string
	Seq    uint64
	// Event is nil when the record was purged before it was delivered.
	Event *audit.Event
}

// Outbox is the persisted queue of log deliveries; *store.Store is one.
// Entries are written with the events they deliver (Batch.Routes), so an
// event committed is an entry owed.
type Outbox interface {
	OutboxTargets(sink string) ([]string, error)
	OutboxPending(ctx context.Context, sink, target string, max int) ([]Delivery, error)
	OutboxDone(ctx context.Context, keys ...[]byte) error
}

// Poster posts log entries to one platform. Post delivers events (oldest
// first) to target and returns how many of them, from the front, the
// platform accepted; it may deliver fewer than given (one message's worth).
type Poster interface {
	Post(ctx context.Context, target string, events []*audit.Event) (int, error)
}

// RetryAfterError asks the deliverer to wait before posting to the target
// again (a platform's 429).
type RetryAfterError struct {
	Wait time.Duration
	Err  error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("rate limited, retry in %s: %v", e.Wait, e.Err)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// DelivererOptions configure a Deliverer.
type DelivererOptions struct {
	Sink   string // the Route.Sink this deliverer serves
	Outbox Outbox
	Poster Poster
	// MinInterval is the least time between two posts to one target
	// (default 1s); entries arriving meanwhile are coalesced.
	MinInterval time.Duration
	// Batch is how many pending entries one Post is offered (default 10).
	Batch int
	// Poll is how often the outbox is checked without a wake-up
	// (default 2s).
	Poll time.Duration
	// OnPause is called when a target refuses the bot for good (ErrForbidden,
	// ErrNotFound): deliveries to it stop until Resume; its entries stay.
	OnPause func(target string, err error)
	// OnFailure, if set, is called for every post the platform refused
	// (rate limits, outages, lost access): for metrics. It must not block.
	OnFailure func(target string, err error)
	// Hold, if set, is asked about every pending entry before it is
	// posted (see Verdict): the raid guard holds joins until it has decided
	// whether they belong to a raid. It must be quick and must not block.
	Hold func(e *audit.Event) Verdict
	// MaxHold bounds how long one entry is held, whatever Hold says
	// (default 30s): a hold never keeps an entry from its log channel for
	// long, even if whoever decides is gone (a restart forgets raids).
	MaxHold time.Duration
	// HoldRetry is how soon a target whose oldest entry is held is looked
	// at again (default 250ms).
	HoldRetry time.Duration
	Logger    zerolog.Logger
}

// maxSkip is how many held entries one round steps over to find entries
// it may post.
const maxSkip = 200

// Verdict is what DelivererOptions.Hold says about a pending entry.
type Verdict int

const (
	// Post the entry now.
	Post Verdict = iota
	// Hold the entry until asked again; later entries of the channel may
	// be posted before it.
	Hold
	// Drop the entry: it leaves the outbox without being posted (the
	// record stays in the store). A raid's joins are dropped: the raid's
	// entry tells them.
	Drop
)

// Deliverer moves entries from the persisted outbox to a platform. An
// entry leaves the outbox only after the platform accepted it, so a
// restart or an outage loses nothing; a crash between the platform's
// acceptance and the outbox update posts that message again (at least
// once). Rate limits are honoured per target, server errors back off, and
// a target the bot may no longer post to is paused.
type Deliverer struct {
	opts DelivererOptions
	wake chan struct{}

	mu     sync.Mutex
	next   map[string]time.Time // earliest next post per target
	fails  map[string]int
	paused map[string]bool
	held   map[string]time.Time // outbox key -> when it was first held
}

// NewDeliverer returns a deliverer; Run it.
func NewDeliverer(opts DelivererOptions) *Deliverer {
	if opts.MinInterval <= 0 {
		opts.MinInterval = time.Second
	}
	if opts.Batch <= 0 {
		opts.Batch = 10
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.MaxHold <= 0 {
		opts.MaxHold = 30 * time.Second
	}
	if opts.HoldRetry <= 0 {
		opts.HoldRetry = 250 * time.Millisecond
	}
	return &Deliverer{opts: opts, wake: make(chan struct{}, 1),
		next: map[string]time.Time{}, fails: map[string]int{}, paused: map[string]bool{},
		held: map[string]time.Time{}}
}

// Wake makes the deliverer look at the outbox now; call it after commits
// (Recorder.Subscribe). It never blocks.
func (d *Deliverer) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Pause stops deliveries to target (for example at start, for channels
// saved as paused); Resume restarts them.
func (d *Deliverer) Pause(target string) {
	d.mu.Lock()
	d.paused[target] = true
	d.mu.Unlock()
}

// Resume restarts deliveries to a paused target.
func (d *Deliverer) Resume(target string) {
	d.mu.Lock()
	delete(d.paused, target)
	delete(d.fails, target)
	delete(d.next, target)
	d.mu.Unlock()
	d.Wake()
}

// Run delivers until ctx ends.
func (d *Deliverer) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-timer.C:
		}
		wait := d.round(ctx)
		timer.Reset(min(wait, d.opts.Poll))
	}
}

// round posts once to every target that is due and returns how long until
// the next one is.
func (d *Deliverer) round(ctx context.Context) time.Duration {
	targets, err := d.opts.Outbox.OutboxTargets(d.opts.Sink)
	if err != nil {
		d.opts.Logger.Error().Err(err).Str("sink", d.opts.Sink).Msg("read outbox")
		return d.opts.Poll
	}
	soonest := d.opts.Poll
	for _, target := range targets {
		if ctx.Err() != nil {
			return 0
		}
		d.mu.Lock()
		paused, due := d.paused[target], d.next[target]
		d.mu.Unlock()
		if paused {
			continue
		}
		if wait := time.Until(due); wait > 0 {
			soonest = min(soonest, wait)
			continue
		}
		more, wait := d.deliver(ctx, target)
		if more {
			soonest = min(soonest, wait)
		}
	}
	return soonest
}

// deliver posts one message's worth to target. It reports whether entries
// remain and when the target may be posted to again.
func (d *Deliverer) deliver(ctx context.Context, target string) (bool, time.Duration) {
	// Held entries are stepped over (up to maxSkip of them), so that only
	// they wait: a held join does not delay the alert about it.
	want := d.opts.Batch
	if d.opts.Hold != nil {
		want += maxSkip
	}
	pending, err := d.opts.Outbox.OutboxPending(ctx, d.opts.Sink, target, want)
	if err != nil || len(pending) == 0 {
		return false, 0
	}
	// Entries whose record was purged, or that Hold drops, leave without
	// posting; held ones stay for a later round.
	var gone [][]byte
	var evs []*audit.Event
	var keys [][]byte
	holding := false
	for _, p := range pending {
		if p.Event == nil {
			gone = append(gone, p.Key)
			continue
		}
		v := d.verdict(p)
		if v == Drop {
			gone = append(gone, p.Key)
			continue
		}
		if v == Hold {
			holding = true
			continue
		}
		if len(evs) == d.opts.Batch {
			break
		}
		evs = append(evs, p.Event)
		keys = append(keys, p.Key)
	}
	if holding && len(evs) == 0 {
		d.forget(gone)
		if len(gone) > 0 {
			if derr := d.opts.Outbox.OutboxDone(ctx, gone...); derr != nil {
				d.opts.Logger.Error().Err(derr).Str("target", target).Msg("outbox done")
			}
		}
		return true, d.opts.HoldRetry
	}
	n := 0
	if len(evs) > 0 {
		n, err = d.opts.Poster.Post(ctx, target, evs)
		n = max(0, min(n, len(evs)))
	}
	d.forget(gone)
	d.forget(keys[:n])
	if done := append(gone, keys[:n]...); len(done) > 0 {
		if derr := d.opts.Outbox.OutboxDone(ctx, done...); derr != nil {
			d.opts.Logger.Error().Err(derr).Str("target", target).Msg("outbox done")
		}
	}
	wait := d.opts.MinInterval
	if err != nil && d.opts.OnFailure != nil {
		d.opts.OnFailure(target, err)
	}
	var ra *RetryAfterError
	switch {
	case err == nil:
		d.mu.Lock()
		delete(d.fails, target)
		d.mu.Unlock()
	case errors.As(err, &ra):
		wait = max(ra.Wait, wait)
		d.opts.Logger.Warn().Str("sink", d.opts.Sink).Str("target", target).Dur("retry_in", wait).Msg("log channel rate limited")
	case errors.Is(err, platform.ErrForbidden) || errors.Is(err, platform.ErrNotFound):
		d.Pause(target)
		d.opts.Logger.Warn().Err(err).Str("sink", d.opts.Sink).Str("target", target).Msg("log channel paused")
		if d.opts.OnPause != nil {
			d.opts.OnPause(target, err)
		}
		return false, 0
	default:
		d.mu.Lock()
		d.fails[target]++
		f := d.fails[target]
		d.mu.Unlock()
		wait = min(time.Second<<min(f, 6), 2*time.Minute)
		d.opts.Logger.Warn().Err(err).Str("sink", d.opts.Sink).Str("target", target).Dur("retry_in", wait).Msg("log delivery failed; entries kept")
	}
	d.mu.Lock()
	d.next[target] = time.Now().Add(wait)
	d.mu.Unlock()
	return true, wait
}

// verdict asks Hold about a pending entry, holding it at most MaxHold.
func (d *Deliverer) verdict(p Delivery) Verdict {
	if d.opts.Hold == nil {
		return Post
	}
	v := d.opts.Hold(p.Event)
	if v != Hold {
		return v
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	since, ok := d.held[string(p.Key)]
	if !ok {
		d.held[string(p.Key)] = now
		return Hold
	}
	if now.Sub(since) >= d.opts.MaxHold {
		d.opts.Logger.Warn().Str("sink", d.opts.Sink).Str("event", p.Event.ID.String()).
			Dur("held", now.Sub(since)).Msg("log entry held too long; posting it")
		return Post
	}
	return Hold
}

// forget drops the hold times of entries that left the outbox.
func (d *Deliverer) forget(keys [][]byte) {
	if d.opts.Hold == nil || len(keys) == 0 {
		return
	}
	d.mu.Lock()
	for _, k := range keys {
		delete(d.held, string(k))
	}
	d.mu.Unlock()
}
