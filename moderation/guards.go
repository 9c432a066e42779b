package moderation

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/recorder"
)

// What an Integration is, in params.integration.
const (
	IntegrationBot     = "BOT"         // a bot account joined or was added
	IntegrationWebhook = "WEBHOOK"     // a webhook was created (Discord)
	IntegrationApp     = "INTEGRATION" // an integration or app was added (Discord)
)

// Integration is a bot, webhook or integration added to a property, as a
// platform reports it outside USER_JOIN (the Discord audit log's
// WEBHOOK_CREATE, INTEGRATION_CREATE, BOT_ADD; Telegram's "bot added"
// service message if the handler does not record it as USER_JOIN).
type Integration struct {
	Platform audit.Platform
	Property string
	Kind     string // Integration*
	ID       string // the bot's user id, the webhook's or integration's id
	Name     string
	// AddedBy and AddedByName name who added it, when known.
	AddedBy, AddedByName string
	ChannelID            string
	Time                 time.Time
}

// OnIntegration reports a bot, webhook or integration added to a
// property. The check is queued like Handle's; a bot reported both here
// and by a USER_JOIN is recorded once.
func (e *Engine) OnIntegration(ctx context.Context, in Integration) error {
	if !in.Platform.Valid() || in.Property == "" || in.ID == "" {
		return fmt.Errorf("moderation: integration without platform, property or id")
	}
	return e.enqueue(ctx, job{Integ: &in})
}

// checkIntegration records (and optionally kicks) an integration that is
// not on the allowlist.
func (e *Engine) checkIntegration(ctx context.Context, pl *attached, in Integration, cfg IntegrationGuardConfig) {
	if !cfg.Enabled || in.ID == "" || slices.Contains(cfg.Allowlist, in.ID) {
		return
	}
	if self, _ := pl.dir.Self(); in.ID == self {
		return
	}
	k := propKey{in.Platform, in.Property}
	if !e.firstSeen(fmt.Sprintf("int\x00%s\x00%s\x00%s", k.p, k.id, in.ID)) {
		return
	}
	log := e.log.With().Str("platform", k.p.String()).Str("property", k.id).
		Str("integration", in.ID).Str("kind", in.Kind).Logger()
	log.Info().Msg("unauthorized integration")
	act, res := ActNone, OutcomeNone
	if cfg.Kick && in.Kind == IntegrationBot {
		act = ActKick
		err := pl.actions.Kick(ctx, k.id, in.ID, platform.Cause{Function: audit.FuncIntegrationGuard,
			Reason: "integration guard: bot not on the allowlist"})
		res = outcome(err)
		if err != nil {
			log.Warn().Err(err).Msg("kick an unauthorized bot")
		}
	}
	rec := e.synthetic(pl, k, audit.SecurityEvent, audit.FuncIntegrationGuard)
	rec.ChannelID = in.ChannelID
	rec.TargetIDs = []string{in.ID}
	if in.AddedBy != "" {
		rec.TargetIDs = append(rec.TargetIDs, in.AddedBy)
	}
	rec.Params.Set(audit.ParamKind, audit.KindUnauthorizedIntegration)
	rec.Params.Set(ParamIntegration, in.Kind)
	rec.Params.Set(audit.ParamTargetName, in.Name)
	if in.Kind == IntegrationWebhook {
		rec.Params.Set(audit.ParamWebhookID, in.ID)
	}
	rec.Params.Set(audit.ParamAction, act)
	rec.Params.Set(audit.ParamOutcome, res)
	e.record(ctx, rec)
}

// raidGuard counts joins per property.
type raidGuard struct {
	mu sync.Mutex
	m  map[propKey]*RaidDetector
}

func newRaidGuard() *raidGuard { return &raidGuard{m: make(map[propKey]*RaidDetector)} }

// observeJoin counts a join for the raid guard, on the caller's goroutine.
func (e *Engine) observeJoin(ctx context.Context, ev *audit.Event) {
	k := propKey{ev.Platform, ev.PropertyID}
	cfg := e.resolve(ctx, k).RaidGuard
	now := e.clock.Now()
	g := e.raids
	g.mu.Lock()
	d := g.m[k]
	if !cfg.Enabled {
		g.mu.Unlock()
		return
	}
	if d == nil || d.Joins != cfg.Joins || d.Window != cfg.Window {
		if d != nil && d.Active() {
			// Keep a running raid going under the new thresholds.
			d.Joins, d.Window = cfg.Joins, cfg.Window
		} else {
			d = NewRaidDetector(cfg.Joins, cfg.Window)
			g.m[k] = d
		}
	}
	started := d.Join(now, ev.ActorID)
	g.mu.Unlock()
	if started {
		e.log.Warn().Str("platform", k.p.String()).Str("property", k.id).
			Int("joins", cfg.Joins).Dur("window", cfg.Window).Msg("join raid started")
		e.poke()
	}
}

// InRaid reports whether a property is in a join raid. The log router
// consults it so that USER_JOIN records are kept out of log channels
// while a raid lasts (the JOIN_RAID record summarises them).
func (e *Engine) InRaid(p audit.Platform, property string) bool {
	g := e.raids
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.m[propKey{p, property}]
	return d != nil && d.Active()
}

// RaidFilter wraps the log router: USER_JOIN records of a property in a
// raid get no log routes; nor does the CHAT_MESSAGE_DELETE of a message
// the link filter removed, whose MODERATION_LINK (with the content) tells
// the removal once. Everything else is routed by next (which may be nil).
// Joins are counted after commit, so the joins committed together with the
// one that starts a raid may still be routed.
func (e *Engine) RaidFilter(next recorder.Router) recorder.Router {
	return recorder.RouterFunc(func(ev *audit.Event) []recorder.Route {
		if ev.Type == audit.UserJoin && e.InRaid(ev.Platform, ev.PropertyID) {
			return nil
		}
		if ev.Type == audit.ChatMessageDelete && ev.Function == audit.FuncLinkFilter {
			return nil
		}
		if next == nil {
			return nil
		}
		return next.Route(ev)
	})
}

func (g *raidGuard) nextCheck() (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var at time.Time
	for _, d := range g.m {
		if t, ok := d.EndsAt(); ok && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	return at, !at.IsZero()
}

func (g *raidGuard) prune(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, d := range g.m {
		if d.Idle(now) {
			delete(g.m, k)
		}
	}
}

// endRaids records a JOIN_RAID for every raid that is over at now, or
// for every raid under way when all is set (the engine is closing).
func (e *Engine) endRaids(now time.Time, all bool) {
	type ended struct {
		k propKey
		r Raid
	}
	var over []ended
	g := e.raids
	g.mu.Lock()
	for k, d := range g.m {
		r, ok := d.End(now)
		if !ok && all {
			r, ok = d.Stop()
		}
		if ok {
			over = append(over, ended{k, r})
		}
	}
	g.mu.Unlock()
	for _, o := range over {
		e.log.Warn().Str("platform", o.k.p.String()).Str("property", o.k.id).Int("joins", o.r.Count).
			Dur("duration", o.r.End.Sub(o.r.Start)).Msg("join raid ended")
		ctx, cancel := context.WithTimeout(context.Background(), e.opts.ActionTimeout)
		rec := e.synthetic(e.platform(o.k.p), o.k, audit.SecurityEvent, audit.FuncRaidGuard)
		rec.TargetIDs = o.r.Users
		rec.Params.Set(audit.ParamKind, audit.KindJoinRaid)
		rec.Params.Set(audit.ParamCount, strconv.Itoa(o.r.Count))
		rec.Params.Set(audit.ParamDuration, o.r.End.Sub(o.r.Start).Round(time.Second).String())
		rec.Params.Set(ParamStartedAt, o.r.Start.UTC().Format(time.RFC3339))
		rec.Params.Set(audit.ParamRule, fmt.Sprintf("more than %d joins in %s", o.r.Joins, o.r.Window))
		e.record(ctx, rec)
		cancel()
	}
}

// RaidDetector is the raid guard's state machine for one property: more
// than Joins joins within Window start a raid; it ends once the last
// Window holds at most Joins/2 joins. It is not safe for concurrent use.
type RaidDetector struct {
	Joins  int
	Window time.Duration

	times []time.Time // ring of the last Joins+1 join times
	users []string
	head  int // next slot
	n     int

	active bool
	raid   Raid
}

// Raid summarises a raid.
type Raid struct {
	Start, End time.Time // the first and the last join
	Count      int       // joins during the raid, including those that started it
	Users      []string  // the first audit.MaxTargets joiners
	Joins      int
	Window     time.Duration
}

// NewRaidDetector returns a detector for more than joins joins in window.
func NewRaidDetector(joins int, window time.Duration) *RaidDetector {
	return &RaidDetector{Joins: joins, Window: window,
		times: make([]time.Time, joins+1), users: make([]string, joins+1)}
}

// Join counts a join at now and reports whether it started a raid.
func (d *RaidDetector) Join(now time.Time, user string) bool {
	if len(d.times) != d.Joins+1 {
		d.resize()
	}
	d.times[d.head], d.users[d.head] = now, user
	d.head = (d.head + 1) % len(d.times)
	d.n = min(d.n+1, len(d.times))
	if d.active {
		d.raid.Count++
		d.raid.End = now
		if user != "" && len(d.raid.Users) < audit.MaxTargets {
			d.raid.Users = append(d.raid.Users, user)
		}
		return false
	}
	if d.n < len(d.times) {
		return false
	}
	oldest := d.head // the ring is full: the next slot holds the oldest
	if now.Sub(d.times[oldest]) > d.Window {
		return false
	}
	d.active = true
	d.raid = Raid{Start: d.times[oldest], End: now, Count: d.n, Joins: d.Joins, Window: d.Window}
	for i := range d.n {
		if u := d.users[(oldest+i)%len(d.users)]; u != "" && len(d.raid.Users) < audit.MaxTargets {
			d.raid.Users = append(d.raid.Users, u)
		}
	}
	return true
}

// resize keeps the newest joins when Joins changed.
func (d *RaidDetector) resize() {
	size := d.Joins + 1
	times, users := make([]time.Time, size), make([]string, size)
	keep := min(d.n, size)
	for i := range keep {
		j := (d.head - keep + i + 2*len(d.times)) % len(d.times)
		times[i], users[i] = d.times[j], d.users[j]
	}
	d.times, d.users, d.n, d.head = times, users, keep, keep%size
}

// Active reports whether a raid is under way.
func (d *RaidDetector) Active() bool { return d.active }

// EndsAt returns when the running raid ends if no one else joins.
func (d *RaidDetector) EndsAt() (time.Time, bool) {
	if !d.active {
		return time.Time{}, false
	}
	// The raid is over once the (Joins/2+1)-th newest join leaves the
	// window.
	k := d.Joins/2 + 1
	if k > d.n {
		k = d.n
	}
	j := (d.head - k + len(d.times)) % len(d.times)
	return d.times[j].Add(d.Window), true
}

// End ends the raid if it is over at now and returns its summary.
func (d *RaidDetector) End(now time.Time) (Raid, bool) {
	at, ok := d.EndsAt()
	if !ok || now.Before(at) {
		return Raid{}, false
	}
	d.active = false
	r := d.raid
	d.raid = Raid{}
	return r, true
}

// Stop ends the running raid now, whatever the rate, and returns its
// summary.
func (d *RaidDetector) Stop() (Raid, bool) {
	if !d.active {
		return Raid{}, false
	}
	d.active = false
	r := d.raid
	d.raid = Raid{}
	return r, true
}

// Idle reports whether the detector holds nothing worth keeping at now.
func (d *RaidDetector) Idle(now time.Time) bool {
	if d.active || d.n == 0 {
		return !d.active
	}
	newest := d.times[(d.head-1+len(d.times))%len(d.times)]
	return now.Sub(newest) > d.Window
}
