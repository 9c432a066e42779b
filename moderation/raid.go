package moderation

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logchannel"
)

// The raid guard. Joins are counted as they are committed; a raid's story
// reaches log channels as one entry:
//
//   - Joins are held back from log channels for Options.JoinHold after the
//     guard counted them (LogVerdict, asked by the log deliverers), so that
//     the joins that start a raid are known to be raiders before anything
//     is posted. A join that turns out to belong to a raid is dropped from
//     the log channels (its record stays); any other join is posted after
//     the hold.
//   - The raid is recorded when it is detected (JOIN_RAID, raid_status
//     ACTIVE, with the count so far), again at most every
//     Options.RaidUpdateInterval while it grows, and once when it ends
//     (raid_status ENDED). The records share a raid_id, and a log channel
//     shows them as one entry, edited in place.
//   - Every account that joined during the raid is kept with the raid in
//     the store (namespace NSRaids), not only the first targets of its
//     records, for the raid actions (RaidMembers).

// Raid params and statuses.
const (
	// ParamRaidID is the id shared by the records of one raid.
	ParamRaidID = "raid_id"
	// ParamRaidStatus is RaidActive or RaidEnded.
	ParamRaidStatus = "raid_status"

	RaidActive = "ACTIVE"
	RaidEnded  = "ENDED"
)

// NSRaids is the store namespace of the raids' member lists.
const NSRaids = "moderation/raids"

// keepSpans is how long an ended raid's joins are still recognised as its
// own (a join held by a slow deliverer is still dropped).
const keepSpans = 10 * time.Minute

// raidGuard counts joins per property.
type raidGuard struct {
	mu       sync.Mutex
	m        map[propKey]*raidState
	observed uint64               // the newest commit sequence the engine has seen
	held     map[uint64]time.Time // joins held from log channels: seq -> counted at
	spans    map[propKey][]raidSpan
	members  map[string][]string // member lists, when the engine has no KV
	// bots are the joins of bot accounts, held from log channels until the
	// integration guard has looked at them: its alert tells such a join,
	// so the join itself is dropped (one bot added, one entry).
	bots map[uint64]botJoin
}

// botJoin is what the integration guard made of a bot's join.
type botJoin struct {
	at               time.Time
	decided, alerted bool
}

// noteBot holds a bot's join until decideBot.
func (g *raidGuard) noteBot(seq uint64, now time.Time) {
	if seq == 0 {
		return
	}
	g.mu.Lock()
	g.bots[seq] = botJoin{at: now}
	g.mu.Unlock()
}

// decideBot says whether the integration guard alerted on a bot's join.
func (g *raidGuard) decideBot(seq uint64, alerted bool) {
	g.mu.Lock()
	if b, ok := g.bots[seq]; ok {
		b.decided, b.alerted = true, alerted
		g.bots[seq] = b
	}
	g.mu.Unlock()
}

// raidState is one property's detector and what has been recorded of its
// running raid.
type raidState struct {
	d          *RaidDetector
	id         string
	announced  bool
	reported   int // members already stored and in records
	chunks     int // member chunks stored
	lastUpdate time.Time
}

// raidSpan is the commit sequences of a raid's joins: first..last, or
// first and on while it runs.
type raidSpan struct {
	first, last uint64
	open        bool
	ended       time.Time
}

func newRaidGuard() *raidGuard {
	return &raidGuard{m: make(map[propKey]*raidState), held: make(map[uint64]time.Time), bots: make(map[uint64]botJoin),
		spans: make(map[propKey][]raidSpan), members: make(map[string][]string)}
}

// observe notes that every event up to seq has been counted.
func (g *raidGuard) observe(seq uint64) {
	g.mu.Lock()
	if seq > g.observed {
		g.observed = seq
	}
	g.mu.Unlock()
}

// observeJoin counts a join for the raid guard, on the caller's goroutine.
func (e *Engine) observeJoin(ctx context.Context, ev *audit.Event) {
	k := propKey{ev.Platform, ev.PropertyID}
	cfg := e.resolve(ctx, k).RaidGuard
	now := e.clock.Now()
	g := e.raids
	g.mu.Lock()
	st := g.m[k]
	if !cfg.Enabled {
		g.mu.Unlock()
		return
	}
	if st == nil {
		st = &raidState{}
		g.m[k] = st
	}
	if d := st.d; d == nil || d.Joins != cfg.Joins || d.Window != cfg.Window {
		if d != nil && d.Active() {
			// Keep a running raid going under the new thresholds.
			d.Joins, d.Window = cfg.Joins, cfg.Window
		} else {
			st.d = NewRaidDetector(cfg.Joins, cfg.Window)
		}
	}
	if e.opts.JoinHold > 0 && ev.Seq != 0 {
		g.held[ev.Seq] = now
	}
	started := st.d.JoinSeq(now, ev.ActorID, ev.Seq)
	grew := st.d.Active() && len(st.d.raid.Users) == st.reported+1
	if started {
		st.id = raidID(st.d.raid)
		st.announced, st.reported, st.chunks = false, 0, 0
		g.spans[k] = append(g.spans[k], raidSpan{first: st.d.raid.FirstSeq, open: true})
	}
	g.mu.Unlock()
	if started {
		e.log.Warn().Str("platform", k.p.String()).Str("property", k.id).
			Int("joins", cfg.Joins).Dur("window", cfg.Window).Msg("join raid started")
	}
	if started || grew {
		e.poke()
	}
}

// raidID names a raid: its first join's commit sequence, else its start.
func raidID(r Raid) string {
	if r.FirstSeq != 0 {
		return strconv.FormatUint(r.FirstSeq, 36)
	}
	return strconv.FormatInt(r.Start.UnixMilli(), 36)
}

// InRaid reports whether a property is in a join raid. The log router
// consults it so that USER_JOIN records are kept out of log channels
// while a raid lasts (the JOIN_RAID record summarises them).
func (e *Engine) InRaid(p audit.Platform, property string) bool {
	g := e.raids
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.m[propKey{p, property}]
	return st != nil && st.d != nil && st.d.Active()
}

// RaidsInProgress counts the communities in a raid now, by platform.
func (e *Engine) RaidsInProgress() map[audit.Platform]int {
	g := e.raids
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[audit.Platform]int{}
	for k, st := range g.m {
		if st != nil && st.d != nil && st.d.Active() {
			out[k.p]++
		}
	}
	return out
}

// LogVerdict says whether a record may go to log channels yet; it is the
// log deliverers' DelivererOptions.Hold. A join is held until the raid
// guard has counted it and Options.JoinHold has passed since, and dropped
// if it belongs to a raid; a bot's join is held until the integration
// guard has looked at it, and dropped if it raised an alert (which tells
// the join); every other record is posted at once. The deliverer bounds
// every hold (MaxHold).
func (e *Engine) LogVerdict(ev *audit.Event) logchannel.Verdict {
	if ev == nil || ev.Type != audit.UserJoin || ev.Function != audit.FuncGateway || ev.Seq == 0 {
		return logchannel.Post
	}
	k := propKey{ev.Platform, ev.PropertyID}
	now := e.clock.Now()
	g := e.raids
	g.mu.Lock()
	defer g.mu.Unlock()
	if b, ok := g.bots[ev.Seq]; ok {
		switch {
		case !b.decided:
			return logchannel.Hold
		case b.alerted:
			return logchannel.Drop
		}
	}
	for _, s := range g.spans[k] {
		if ev.Seq >= s.first && (s.open || ev.Seq <= s.last) {
			return logchannel.Drop
		}
	}
	if ev.Seq > g.observed {
		return logchannel.Hold
	}
	if at, ok := g.held[ev.Seq]; ok {
		if now.Sub(at) < e.opts.JoinHold {
			return logchannel.Hold
		}
		delete(g.held, ev.Seq)
	}
	return logchannel.Post
}

// RaidMembers returns every account that joined during a raid, in the
// order they joined, as stored with the raid.
func (e *Engine) RaidMembers(ctx context.Context, p audit.Platform, property, raid string) ([]string, error) {
	prefix := raidKey(propKey{p, property}, raid)
	var out []string
	if e.opts.KV == nil {
		e.raids.mu.Lock()
		out = append(out, e.raids.members[string(prefix)]...)
		e.raids.mu.Unlock()
		return out, nil
	}
	err := e.opts.KV.ScanKV(NSRaids, prefix, func(_, v []byte) error {
		for _, id := range bytes.Split(v, []byte{'\n'}) {
			if len(id) > 0 {
				out = append(out, string(id))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("moderation: members of raid %s: %w", raid, err)
	}
	return out, nil
}

// raidKey is the key prefix of a raid's stored member chunks.
func raidKey(k propKey, raid string) []byte {
	return []byte(queueKey(k) + "\x00" + raid + "\x00")
}

func (g *raidGuard) nextCheck(every time.Duration) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var at time.Time
	earlier := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	for _, st := range g.m {
		if st.d == nil {
			continue
		}
		if t, ok := st.d.EndsAt(); ok {
			earlier(t)
			switch {
			case !st.announced:
				earlier(st.d.raid.Start)
			case len(st.d.raid.Users) > st.reported:
				earlier(st.lastUpdate.Add(every))
			}
		}
	}
	return at, !at.IsZero()
}

func (g *raidGuard) prune(now time.Time, hold time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, st := range g.m {
		if st.d == nil || st.d.Idle(now) {
			delete(g.m, k)
		}
	}
	for seq, at := range g.held {
		if now.Sub(at) >= hold {
			delete(g.held, seq)
		}
	}
	for seq, b := range g.bots {
		if now.Sub(b.at) >= keepSpans {
			delete(g.bots, seq)
		}
	}
	for k, spans := range g.spans {
		var keep []raidSpan
		for _, s := range spans {
			if s.open || now.Sub(s.ended) < keepSpans {
				keep = append(keep, s)
			}
		}
		if len(keep) == 0 {
			delete(g.spans, k)
		} else {
			g.spans[k] = keep
		}
	}
}

// raidNews is one JOIN_RAID record to make: a raid detected, grown or
// ended.
type raidNews struct {
	k      propKey
	id     string
	status string
	r      Raid
	fresh  []string // members not yet stored
	chunk  int
	now    time.Time
}

// raidUpdates records what changed in the raids at now: a raid detected,
// one that grew since its last record (at most every
// RaidUpdateInterval), one that is over; with all (the engine is
// closing), every raid under way ends.
func (e *Engine) raidUpdates(now time.Time, all bool) {
	var news []raidNews
	g := e.raids
	g.mu.Lock()
	for k, st := range g.m {
		if st.d == nil {
			continue
		}
		r, ended := st.d.End(now)
		if !ended && all {
			r, ended = st.d.Stop()
		}
		switch {
		case ended:
			news = append(news, raidNews{k: k, id: st.id, status: RaidEnded, r: r,
				fresh: tail(r.Users, st.reported), chunk: st.chunks, now: now})
			spans := g.spans[k]
			for i := range spans {
				if spans[i].open && spans[i].first == r.FirstSeq {
					spans[i].open, spans[i].last, spans[i].ended = false, r.LastSeq, now
				}
			}
			st.announced, st.reported, st.chunks, st.id = false, 0, 0, ""
		case !st.d.Active():
		case !st.announced || len(st.d.raid.Users) > st.reported && !now.Before(st.lastUpdate.Add(e.opts.RaidUpdateInterval)):
			r := st.d.raid
			r.Users = nil
			news = append(news, raidNews{k: k, id: st.id, status: RaidActive, r: r,
				fresh: tail(st.d.raid.Users, st.reported), chunk: st.chunks, now: now})
			st.announced, st.reported, st.lastUpdate = true, len(st.d.raid.Users), now
			if len(news[len(news)-1].fresh) > 0 {
				st.chunks++
			}
		}
	}
	g.mu.Unlock()
	for _, n := range news {
		e.recordRaid(n)
	}
}

// tail returns a copy of s from i on.
func tail(s []string, i int) []string {
	if i >= len(s) {
		return nil
	}
	return append([]string(nil), s[i:]...)
}

// recordRaid stores a raid's new members and records its news.
func (e *Engine) recordRaid(n raidNews) {
	log := e.log.With().Str("platform", n.k.p.String()).Str("property", n.k.id).Str("raid", n.id).Logger()
	if n.status == RaidEnded {
		log.Warn().Int("joins", n.r.Count).Dur("duration", n.r.End.Sub(n.r.Start)).Msg("join raid ended")
	}
	if len(n.fresh) > 0 {
		key := append(raidKey(n.k, n.id), fmt.Sprintf("%08d", n.chunk)...)
		val := []byte(strings.Join(n.fresh, "\n"))
		if e.opts.KV == nil {
			e.raids.mu.Lock()
			p := string(raidKey(n.k, n.id))
			e.raids.members[p] = append(e.raids.members[p], n.fresh...)
			e.raids.mu.Unlock()
		} else if err := e.opts.KV.Put(NSRaids, key, val); err != nil {
			log.Error().Err(err).Int("members", len(n.fresh)).Msg("store the raid's members")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.ActionTimeout)
	defer cancel()
	rec := e.synthetic(e.platform(n.k.p), n.k, audit.SecurityEvent, audit.FuncRaidGuard)
	rec.Time = n.now
	rec.TargetIDs = n.fresh
	if len(rec.TargetIDs) > audit.MaxTargets {
		rec.TargetIDs = rec.TargetIDs[:audit.MaxTargets]
	}
	end := n.r.End
	if n.status == RaidActive && n.now.After(end) {
		end = n.now
	}
	rec.Params.Set(audit.ParamKind, audit.KindJoinRaid)
	rec.Params.Set(ParamRaidID, n.id)
	rec.Params.Set(ParamRaidStatus, n.status)
	rec.Params.Set(audit.ParamCount, strconv.Itoa(n.r.Count))
	rec.Params.Set(audit.ParamDuration, end.Sub(n.r.Start).Round(time.Second).String())
	rec.Params.Set(ParamStartedAt, n.r.Start.UTC().Format(time.RFC3339))
	rec.Params.Set(audit.ParamRule, fmt.Sprintf("more than %d joins in %s", n.r.Joins, n.r.Window))
	e.record(ctx, rec)
}

// RaidDetector is the raid guard's state machine for one property: more
// than Joins joins within Window start a raid; it ends once the last
// Window holds at most Joins/2 joins. It is not safe for concurrent use.
type RaidDetector struct {
	Joins  int
	Window time.Duration

	times []time.Time // ring of the last Joins+1 join times
	users []string
	seqs  []uint64
	head  int // next slot
	n     int

	active bool
	raid   Raid
}

// Raid summarises a raid.
type Raid struct {
	Start, End time.Time // the first and the last join
	Count      int       // joins during the raid, including those that started it
	// Users are the accounts that joined during the raid, in order.
	Users []string
	// FirstSeq and LastSeq are the commit sequences of the first and the
	// last join, when the joins had one.
	FirstSeq, LastSeq uint64
	Joins             int
	Window            time.Duration
}

// NewRaidDetector returns a detector for more than joins joins in window.
func NewRaidDetector(joins int, window time.Duration) *RaidDetector {
	return &RaidDetector{Joins: joins, Window: window,
		times: make([]time.Time, joins+1), users: make([]string, joins+1), seqs: make([]uint64, joins+1)}
}

// Join counts a join at now and reports whether it started a raid.
func (d *RaidDetector) Join(now time.Time, user string) bool { return d.JoinSeq(now, user, 0) }

// JoinSeq is Join for a join record of commit sequence seq.
//
// The joins that start a raid are those of the window, less the ones
// that came before the burst: leading joins followed by a gap longer than
// twice the raid's average gap (Window/Joins) joined before it began, and
// are not counted as raiders.
func (d *RaidDetector) JoinSeq(now time.Time, user string, seq uint64) bool {
	if len(d.times) != d.Joins+1 || len(d.seqs) != len(d.times) {
		d.resize()
	}
	d.times[d.head], d.users[d.head], d.seqs[d.head] = now, user, seq
	d.head = (d.head + 1) % len(d.times)
	d.n = min(d.n+1, len(d.times))
	if d.active {
		d.raid.Count++
		d.raid.End = now
		d.raid.LastSeq = seq
		if user != "" {
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
	at := func(i int) int { return (oldest + i) % len(d.times) }
	gap := 2 * d.Window / time.Duration(max(d.Joins, 1))
	first := 0
	for first < d.n-1 && d.times[at(first+1)].Sub(d.times[at(first)]) > gap {
		first++
	}
	d.active = true
	d.raid = Raid{Start: d.times[at(first)], End: now, Count: d.n - first, Joins: d.Joins, Window: d.Window,
		FirstSeq: d.seqs[at(first)], LastSeq: seq}
	for i := first; i < d.n; i++ {
		if u := d.users[at(i)]; u != "" {
			d.raid.Users = append(d.raid.Users, u)
		}
	}
	return true
}

// resize keeps the newest joins when Joins changed.
func (d *RaidDetector) resize() {
	size := d.Joins + 1
	times, users, seqs := make([]time.Time, size), make([]string, size), make([]uint64, size)
	if len(d.seqs) != len(d.times) {
		d.seqs = make([]uint64, len(d.times))
	}
	keep := min(d.n, size)
	for i := range keep {
		j := (d.head - keep + i + 2*len(d.times)) % len(d.times)
		times[i], users[i], seqs[i] = d.times[j], d.users[j], d.seqs[j]
	}
	d.times, d.users, d.seqs, d.n, d.head = times, users, seqs, keep, keep%size
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
