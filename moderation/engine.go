package moderation

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/clock"
	"github.com/chatwarden/chatwarden/moderation/workqueue"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/settings"
)

// SettingsSource returns a property's saved settings; *store.Store is one.
type SettingsSource interface {
	Settings(ctx context.Context, p audit.Platform, property string) (settings.Community, error)
}

// Recorder makes the engine's records durable; *recorder.Recorder is one.
type Recorder interface {
	Record(ctx context.Context, events ...*audit.Event) error
}

// Options configure an Engine. Settings and Recorder are required.
type Options struct {
	Settings SettingsSource
	Recorder Recorder
	// Defaults are the operator's settings; see BuiltinDefaults.
	Defaults Defaults
	// Clock defaults to the system clock.
	Clock  clock.Clock
	Logger zerolog.Logger
	// QueueSize bounds each property's work kept in memory (default
	// 1024); beyond it work spills to KV.
	QueueSize int
	// KV is where a flooded property's work spills (*store.Store); without
	// it Handle waits for room instead, which can stall the recorder's
	// subscriber (see the package documentation).
	KV workqueue.KV
	// ActionTimeout bounds each piece of work: checks, platform actions
	// and records (default 30s).
	ActionTimeout time.Duration
	// ReloadInterval is how often deny-list files are checked for changes
	// and idle state is pruned (default 30s).
	ReloadInterval time.Duration
	// CacheTTL is how long staff lists and invite lists from the
	// Directory are reused (default 1m).
	CacheTTL time.Duration
	// JoinHold is how long a join is held back from log channels after
	// the raid guard counted it (LogVerdict), so that a raid's first joins
	// fold into its entry (default 3s; negative: no hold).
	JoinHold time.Duration
	// RaidUpdateInterval is the least time between two records of a
	// growing raid (default 3s).
	RaidUpdateInterval time.Duration
	// Shorteners tune how links on URL shorteners are followed when a
	// property sets link_filter.resolve_shorteners.
	Shorteners ShortenerOptions
}

// ErrClosed is returned by Handle and OnIntegration after Close.
var ErrClosed = errors.New("moderation engine closed")

// Engine runs the moderation engines for every attached platform. Its
// methods are safe for concurrent use.
type Engine struct {
	opts  Options
	clock clock.Clock
	log   zerolog.Logger
	deny  *denyFiles
	short *resolver

	pmu       sync.RWMutex
	platforms map[audit.Platform]*attached

	q *workqueue.Queue[job]

	smu        sync.Mutex // guards the state below
	invites    map[propKey]map[string]bool
	acted      *recentSet
	violations map[userKey][]time.Time
	seen       map[string]time.Time // deduplication of security records, by expiry
	staff      map[propKey]cached[[]Member]
	ownInvites map[propKey]cached[[]string]

	raids *raidGuard

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type attached struct {
	actions platform.Actions
	dir     Directory
}

type propKey struct {
	p  audit.Platform
	id string
}

type userKey struct {
	propKey
	user string
}

type cached[T any] struct {
	v       T
	expires time.Time
}

// job is one piece of queued work: an event, or an integration report.
// It is encoded as JSON when it spills.
type job struct {
	Event *audit.Event `json:"event,omitempty"`
	Integ *Integration `json:"integration,omitempty"`
}

func (j job) key() propKey {
	if j.Integ != nil {
		return propKey{j.Integ.Platform, j.Integ.Property}
	}
	return propKey{j.Event.Platform, j.Event.PropertyID}
}

// queueKey is a property's work-queue key: the platform byte, then the id.
func queueKey(k propKey) string { return string([]byte{byte(k.p)}) + k.id }

// NSBacklog is the store namespace of spilled work.
const NSBacklog = "moderation/backlog"

// dedupeFor is how long a security record suppresses an identical one.
const dedupeFor = 10 * time.Minute

// New validates the defaults, loads the deny-list files and starts the
// engine's timer loop. Close stops it.
func New(opts Options) (*Engine, error) {
	if opts.Settings == nil || opts.Recorder == nil {
		return nil, errors.New("moderation: Settings and Recorder are required")
	}
	if err := opts.Defaults.Validate(); err != nil {
		return nil, fmt.Errorf("moderation defaults: %w", err)
	}
	if opts.Clock == nil {
		opts.Clock = clock.System
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.ActionTimeout <= 0 {
		opts.ActionTimeout = 30 * time.Second
	}
	if opts.ReloadInterval <= 0 {
		opts.ReloadInterval = 30 * time.Second
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = time.Minute
	}
	if opts.JoinHold == 0 {
		opts.JoinHold = 3 * time.Second
	}
	if opts.RaidUpdateInterval <= 0 {
		opts.RaidUpdateInterval = 3 * time.Second
	}
	deny, err := loadDenyFiles(opts.Defaults.LinkFilter.DenylistFiles)
	if err != nil {
		return nil, fmt.Errorf("moderation: %w", err)
	}
	e := &Engine{
		opts:       opts,
		clock:      opts.Clock,
		log:        opts.Logger.With().Str("component", "moderation").Logger(),
		deny:       deny,
		short:      newResolver(opts.Shorteners, opts.Clock),
		platforms:  make(map[audit.Platform]*attached),
		invites:    make(map[propKey]map[string]bool),
		acted:      newRecentSet(4096),
		violations: make(map[userKey][]time.Time),
		seen:       make(map[string]time.Time),
		staff:      make(map[propKey]cached[[]Member]),
		ownInvites: make(map[propKey]cached[[]string]),
		raids:      newRaidGuard(),
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	e.q, err = workqueue.New(workqueue.Options{Size: opts.QueueSize, KV: opts.KV, Namespace: NSBacklog,
		Logger: e.log}, func(_ string, j job) { e.run(j) })
	if err != nil {
		return nil, fmt.Errorf("moderation: %w", err)
	}
	for _, f := range deny.files {
		e.logList(f, "deny list loaded")
	}
	go e.loop()
	return e, nil
}

// Attach registers a platform's actions and directory; the platform is
// a.Platform(). Events of platforms not attached are only counted for
// raids. Work of the platform that spilled before a restart resumes.
func (e *Engine) Attach(a platform.Actions, d Directory) {
	p := a.Platform()
	e.pmu.Lock()
	e.platforms[p] = &attached{actions: a, dir: d}
	e.pmu.Unlock()
	e.q.Resume(string([]byte{byte(p)}))
}

func (e *Engine) platform(p audit.Platform) *attached {
	e.pmu.RLock()
	defer e.pmu.RUnlock()
	return e.platforms[p]
}

// Committed hands a committed batch to Handle; it has the signature of a
// recorder.Recorder subscriber: rec.Subscribe(engine.Committed).
func (e *Engine) Committed(events []*audit.Event) {
	var seq uint64
	for _, ev := range events {
		if err := e.Handle(context.Background(), ev); err != nil && !errors.Is(err, ErrClosed) {
			e.log.Error().Err(err).Msg("handle committed event")
		}
		seq = max(seq, ev.Seq)
	}
	// The raid guard has counted these joins: LogVerdict may decide them.
	e.raids.observe(seq)
}

// Handle looks at one committed event. Cheap bookkeeping happens at once;
// checks and actions are queued for the event's property and run in
// order. Handle returns without waiting for them unless the property's
// queue is full, when it waits for room or for ctx. Events the engines
// recorded themselves (any function but gateway) are ignored, except
// invite records.
func (e *Engine) Handle(ctx context.Context, ev *audit.Event) error {
	if ev == nil || !ev.Platform.Valid() || ev.PropertyID == "" {
		return nil
	}
	switch ev.Type {
	case audit.PropertyInviteCreate, audit.PropertyInviteDelete:
		e.learnInvite(ev)
		return nil
	}
	if ev.Function != audit.FuncGateway {
		return nil
	}
	switch ev.Type {
	case audit.UserJoin:
		if ev.Params.Get(audit.ParamIsBot) == "true" {
			e.raids.noteBot(ev.Seq, e.clock.Now())
		}
		e.observeJoin(ctx, ev)
		return e.enqueue(ctx, job{Event: ev})
	case audit.UserUpdate:
		if IsNameField(ev.Params.Get(audit.ParamField)) {
			return e.enqueue(ctx, job{Event: ev})
		}
	case audit.ChatMessage, audit.ChatMessageEdit:
		if mayHaveLinks(ev) {
			return e.enqueue(ctx, job{Event: ev})
		}
	}
	return nil
}

// enqueue adds a job to its property's queue.
func (e *Engine) enqueue(ctx context.Context, j job) error {
	err := e.q.Push(ctx, queueKey(j.key()), j)
	if errors.Is(err, workqueue.ErrClosed) {
		return ErrClosed
	}
	return err
}

// run does one job; a panic is logged, not fatal.
func (e *Engine) run(j job) {
	k := j.key()
	log := e.log.With().Str("platform", k.p.String()).Str("property", k.id).Logger()
	defer func() {
		if r := recover(); r != nil {
			log.Error().Interface("panic", r).Bytes("stack", debug.Stack()).Msg("moderation job panicked")
		}
	}()
	alerted := false
	if ev := j.Event; ev != nil && ev.Type == audit.UserJoin && ev.Params.Get(audit.ParamIsBot) == "true" {
		// Whatever happens below, the join's log entry stops waiting.
		defer func() { e.raids.decideBot(ev.Seq, alerted) }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.ActionTimeout)
	defer cancel()
	pl := e.platform(k.p)
	if pl == nil {
		log.Debug().Msg("platform not attached; event not moderated")
		return
	}
	cfg := e.resolve(ctx, k)
	if j.Integ != nil {
		e.checkIntegration(ctx, pl, *j.Integ, cfg.IntegrationGuard)
		return
	}
	ev := j.Event
	switch ev.Type {
	case audit.ChatMessage, audit.ChatMessageEdit:
		e.checkLinks(ctx, pl, ev, cfg.LinkFilter)
	case audit.UserJoin:
		if ev.Params.Get(audit.ParamIsBot) == "true" {
			alerted = e.checkIntegration(ctx, pl, Integration{Platform: ev.Platform, Property: ev.PropertyID,
				Kind: IntegrationBot, ID: ev.ActorID, Name: ev.ActorName, AddedBy: ev.Params.Get(paramAddedBy),
				ChannelID: ev.ChannelID, Time: ev.Time}, cfg.IntegrationGuard)
		}
		e.checkImpersonation(ctx, pl, ev, cfg.Impersonation)
	case audit.UserUpdate:
		e.checkImpersonation(ctx, pl, ev, cfg.Impersonation)
	}
}

// resolve returns the settings in force for a property; on a store error
// the defaults, logged.
func (e *Engine) resolve(ctx context.Context, k propKey) Defaults {
	s, err := e.opts.Settings.Settings(ctx, k.p, k.id)
	if err != nil {
		e.log.Error().Err(err).Str("property", k.id).Msg("read settings; using the defaults")
	}
	return e.opts.Defaults.Resolve(s)
}

// Flush waits until every job queued so far has run, or ctx ends.
func (e *Engine) Flush(ctx context.Context) error {
	if err := e.q.Flush(ctx); err != nil {
		return fmt.Errorf("moderation: %w", err)
	}
	return nil
}

// Close stops accepting work, records a JOIN_RAID for every raid still
// under way, stops the timer loop and waits for queued work to finish or
// ctx to end. Close the engine before the recorder.
func (e *Engine) Close(ctx context.Context) error {
	e.once.Do(func() {
		e.q.Close()
		close(e.stop)
	})
	select {
	case <-e.done:
	case <-ctx.Done():
		return fmt.Errorf("moderation close: %w", ctx.Err())
	}
	return e.Flush(ctx)
}

// loop reloads deny lists, prunes idle state and ends raids on time.
func (e *Engine) loop() {
	defer close(e.done)
	next := e.clock.Now().Add(e.opts.ReloadInterval)
	for {
		at := next
		if t, ok := e.raids.nextCheck(e.opts.RaidUpdateInterval); ok && t.Before(at) {
			at = t
		}
		select {
		case <-e.clock.At(at):
		case <-e.wake:
		case <-e.stop:
			e.raidUpdates(e.clock.Now(), true)
			return
		}
		now := e.clock.Now()
		e.raidUpdates(now, false)
		if !now.Before(next) {
			e.reloadDenyFiles()
			e.prune(now)
			next = now.Add(e.opts.ReloadInterval)
		}
	}
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// logList says what a deny-list file gave: domains, pages (URL lines,
// which block that page only) and the lines ignored.
func (e *Engine) logList(f *denyFile, msg string) {
	ev := e.log.Info().Str("file", f.path).Int("domains", f.stats.Domains).Int("urls", f.stats.Pages).
		Int("ignored", f.stats.IgnoredCount)
	if len(f.stats.Ignored) > 0 {
		ev = ev.Strs("ignored_lines", f.stats.Ignored)
	}
	ev.Msg(msg)
}

func (e *Engine) reloadDenyFiles() {
	reloaded, errs := e.deny.refresh()
	for _, f := range reloaded {
		e.logList(f, "deny list reloaded")
	}
	for _, err := range errs {
		e.log.Warn().Err(err).Msg("deny list not reloaded; the previous contents stay in force")
	}
}

// prune forgets expired state.
func (e *Engine) prune(now time.Time) {
	e.smu.Lock()
	defer e.smu.Unlock()
	for k, exp := range e.seen {
		if now.After(exp) {
			delete(e.seen, k)
		}
	}
	for k, c := range e.staff {
		if now.After(c.expires) {
			delete(e.staff, k)
		}
	}
	for k, c := range e.ownInvites {
		if now.After(c.expires) {
			delete(e.ownInvites, k)
		}
	}
	for k, ts := range e.violations {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) > escalateWindowMax {
			delete(e.violations, k)
		}
	}
	e.raids.prune(now, e.opts.JoinHold)
}

// firstSeen reports whether key was not seen within dedupeFor, and
// remembers it.
func (e *Engine) firstSeen(key string) bool {
	now := e.clock.Now()
	e.smu.Lock()
	defer e.smu.Unlock()
	if exp, ok := e.seen[key]; ok && now.Before(exp) {
		return false
	}
	e.seen[key] = now.Add(dedupeFor)
	return true
}

// staffOf returns the property's staff, cached for CacheTTL.
func (e *Engine) staffOf(ctx context.Context, pl *attached, k propKey) []Member {
	now := e.clock.Now()
	e.smu.Lock()
	c, ok := e.staff[k]
	e.smu.Unlock()
	if ok && now.Before(c.expires) {
		return c.v
	}
	staff, err := pl.dir.Staff(ctx, k.id)
	if err != nil {
		e.log.Warn().Err(err).Str("property", k.id).Msg("list staff; checking against the configured names only")
		return c.v // the stale list, if any
	}
	e.smu.Lock()
	e.staff[k] = cached[[]Member]{v: staff, expires: now.Add(e.opts.CacheTTL)}
	e.smu.Unlock()
	return staff
}

// ForgetStaff drops the cached staff list of a property, so that the
// next check asks the Directory again. Platforms call it when an admin is
// promoted, demoted or renamed, so that a new admin's names are protected
// at once rather than after Options.CacheTTL.
func (e *Engine) ForgetStaff(p audit.Platform, property string) {
	e.smu.Lock()
	delete(e.staff, propKey{p, property})
	e.smu.Unlock()
}

// record makes a synthetic event durable, logging failures.
func (e *Engine) record(ctx context.Context, ev *audit.Event) {
	if err := e.opts.Recorder.Record(ctx, ev); err != nil {
		e.log.Error().Err(err).Str("property", ev.PropertyID).Stringer("type", ev.Type).
			Msg("record moderation event")
	}
}

// synthetic starts a record the engine makes, with the bot as actor.
func (e *Engine) synthetic(pl *attached, k propKey, typ audit.EventType, fn audit.Function) *audit.Event {
	ev := &audit.Event{Time: e.clock.Now(), Platform: k.p, PropertyID: k.id, Type: typ,
		PlatformType: fn.String(), Function: fn, ActorType: audit.ActorBot}
	if pl != nil && pl.dir != nil {
		ev.ActorID, ev.ActorName = pl.dir.Self()
	}
	return ev
}

// outcome describes the result of an action for a record's params.
func outcome(err error) string {
	switch {
	case err == nil:
		return OutcomeDone
	case errors.Is(err, platform.ErrNotFound):
		return OutcomeGone
	case errors.Is(err, platform.ErrForbidden):
		return OutcomeForbidden
	case errors.Is(err, platform.ErrUnsupported):
		return OutcomeUnsupported
	}
	return OutcomeFailed
}

// Outcomes of an engine's action, in params.outcome.
const (
	OutcomeDone        = "DONE"
	OutcomeGone        = "ALREADY_GONE" // the message or member was gone
	OutcomeForbidden   = "FORBIDDEN"    // the bot lacks the rights
	OutcomeUnsupported = "UNSUPPORTED"
	OutcomeFailed      = "FAILED"
	OutcomeNone        = "NONE" // no action was configured
)

// Actions an engine took, in params.action.
const (
	ActDelete     = "DELETE"
	ActFlag       = "FLAG"
	ActQuarantine = "QUARANTINE"
	ActKick       = "KICK"
	ActBan        = "BAN"
	ActNone       = "NONE"
)

// Param keys the engines add besides bot's.
const (
	// ParamIntegration says what was added: BOT, WEBHOOK or INTEGRATION.
	ParamIntegration = "integration"
	// ParamTextLinks carries a Telegram message's text_link entity URLs,
	// space-separated (the Telegram handler may also put them in
	// embed_urls).
	ParamTextLinks = "text_links"
	// ParamStartedAt is when a raid began (RFC 3339).
	ParamStartedAt = "started_at"
	// ParamEscalated is set on MODERATION_LINK when the violation timed
	// the member out.
	ParamEscalated = "escalated"
	// ParamResolvedURL is set on MODERATION_LINK when the link was on a
	// URL shortener (link_filter.resolve_shorteners): where it led, the
	// URL that was judged. ParamResolvedVia lists the shortener URLs
	// requested to find it, space-separated, the link first.
	ParamResolvedURL = "resolved_url"
	ParamResolvedVia = "resolved_via"
	// paramAddedBy is the USER_JOIN param naming who added the member
	// (verification.ParamAddedBy): the second target of an unauthorized
	// bot's record.
	paramAddedBy = "added_by"
)

// recentSet remembers the last n keys.
type recentSet struct {
	ring []string
	next int
	set  map[string]struct{}
}

func newRecentSet(n int) *recentSet {
	return &recentSet{ring: make([]string, n), set: make(map[string]struct{}, n)}
}

// add reports whether key is new, remembering it.
func (r *recentSet) add(key string) bool {
	if _, ok := r.set[key]; ok {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = key
	r.next = (r.next + 1) % len(r.ring)
	r.set[key] = struct{}{}
	return true
}
