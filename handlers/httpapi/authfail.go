package httpapi

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// Failed authentications are counted one by one (the metric
// chatwarden_api_auth_failures_total{surface,reason}) and logged at debug
// level, but recorded in aggregate: per target and interval, one
// SECURITY_EVENT API_AUTH_FAILURE with the count, the addresses seen and
// the reasons and surfaces. The target is the community that was asked
// for when the store knows it, else the community of the token that was
// used; a failure that names no known community (no token, an unknown
// token against an unknown property, `all`, the viewer's login form, a
// stale cookie, the backup) goes to the operator: one warning line in the
// process log per interval, since there is no community to record it in.
//
// Each target has its own aggregate, so failures against one community
// are always recorded in that community whatever happens elsewhere.
// Records in all are bounded by a budget per minute; a target over it
// keeps aggregating (nothing is dropped) and is written, oldest first, as
// the budget refills.
const (
	// Surfaces of a failure (the surface label and param).
	SurfaceAPI    = "api"    // the /v1 property endpoints
	SurfaceBackup = "backup" // /v1/backup
	SurfaceLogin  = "login"  // the viewer's token form (POST /login)
	SurfaceCookie = "cookie" // the viewer's session cookie
	SurfaceLink   = "link"   // taking a login link (POST /login/link)

	// ReasonUnknownSession is a viewer cookie that names no live session.
	ReasonUnknownSession = "UNKNOWN_SESSION"
	// ReasonUnknownLink is a login link that is not one, used, or expired.
	ReasonUnknownLink = "UNKNOWN_LINK"

	// Params of an aggregate record.
	ParamCount    = "count"     // failures the record stands for
	ParamSources  = "sources"   // the addresses seen, with counts, at most maxListedSources, then "and N more"
	ParamReasons  = "reasons"   // each reason with its count
	ParamSurfaces = "surfaces"  // each surface with its count
	ParamFirstAt  = "first_at"  // the first failure's time (RFC 3339)
	ParamTokenIDs = "token_ids" // ids of the tokens used, at most maxListedTokens

	// DefaultAuthFailureBudget is the default bound on failure records per
	// minute, all communities together.
	DefaultAuthFailureBudget = 30

	maxListedSources  = 10   // addresses named in a record
	maxTrackedSources = 1000 // further distinct addresses counted per aggregate
	maxListedTokens   = 5
	maxLogField       = 256 // bytes of a path, user agent or value in a log line or param
)

// failure is one failed authentication.
type failure struct {
	surface, reason string
	ip              string
	method, path    string // path already cut to maxLogField
	tokenID         string
	target          Property // zero Platform: the operator
}

// aggregate is the failures against one target not yet written.
type aggregate struct {
	target   Property
	first    failure
	firstAt  time.Time
	count    int
	sources  map[string]int      // at most maxListedSources, in arrival order below
	order    []string            // sources' keys in arrival order
	others   map[string]struct{} // distinct further addresses, at most maxTrackedSources
	overflow bool                // more than maxTrackedSources further addresses
	reasons  map[string]int
	surfaces map[string]int
	tokenIDs []string
}

func (a *aggregate) add(f failure) {
	a.count++
	a.reasons[f.reason]++
	a.surfaces[f.surface]++
	if f.tokenID != "" && len(a.tokenIDs) < maxListedTokens && !slices.Contains(a.tokenIDs, f.tokenID) {
		a.tokenIDs = append(a.tokenIDs, f.tokenID)
	}
	if _, ok := a.sources[f.ip]; ok || len(a.sources) < maxListedSources {
		if !ok {
			a.order = append(a.order, f.ip)
		}
		a.sources[f.ip]++
		return
	}
	if _, ok := a.others[f.ip]; !ok {
		if len(a.others) < maxTrackedSources {
			a.others[f.ip] = struct{}{}
		} else {
			a.overflow = true
		}
	}
}

// sourcesText is e.g. "203.0.113.7 ×3, 198.51.100.2 ×1 and 4,990 more".
func (a *aggregate) sourcesText() string {
	var b strings.Builder
	for i, ip := range a.order {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s ×%d", ip, a.sources[ip])
	}
	if n := len(a.others); n > 0 {
		more := strconv.Itoa(n)
		if a.overflow {
			more = "over " + more
		}
		fmt.Fprintf(&b, " and %s more", more)
	}
	return b.String()
}

// counts renders a reason or surface tally, most frequent first.
func counts(m map[string]int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(x, y string) int {
		if m[x] != m[y] {
			return m[y] - m[x]
		}
		return strings.Compare(x, y)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " ×" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, ", ")
}

// targetState is one target's aggregate and when it may next be written.
type targetState struct {
	pending *aggregate
	next    time.Time // no record for this target before then
}

// failureAggregator holds the aggregates. It is safe for concurrent use.
type failureAggregator struct {
	interval time.Duration
	budget   int // records per minute

	mu      sync.Mutex
	targets map[Property]*targetState
	tokens  float64 // records that may be written now
	refill  time.Time
	kick    chan struct{}
}

func newFailureAggregator(interval time.Duration, budget int, now time.Time) *failureAggregator {
	return &failureAggregator{interval: interval, budget: budget, targets: make(map[Property]*targetState),
		tokens: float64(budget), refill: now, kick: make(chan struct{}, 1)}
}

// add counts f in its target's aggregate and wakes the writer.
func (g *failureAggregator) add(f failure, now time.Time) {
	g.mu.Lock()
	st := g.targets[f.target]
	if st == nil {
		st = &targetState{}
		g.targets[f.target] = st
	}
	if st.pending == nil {
		st.pending = &aggregate{target: f.target, first: f, firstAt: now, sources: make(map[string]int),
			others: make(map[string]struct{}), reasons: make(map[string]int), surfaces: make(map[string]int)}
	}
	st.pending.add(f)
	g.mu.Unlock()
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// due takes the aggregates that may be written at now: each target at
// most once per interval, community records within the budget, oldest
// first. With all set it takes every aggregate (at shutdown).
func (g *failureAggregator) due(now time.Time, all bool) []*aggregate {
	g.mu.Lock()
	defer g.mu.Unlock()
	if el := now.Sub(g.refill); el > 0 {
		g.tokens = min(float64(g.budget), g.tokens+el.Minutes()*float64(g.budget))
		g.refill = now
	}
	var ready []*aggregate
	for key, st := range g.targets {
		switch {
		case st.pending != nil && (all || !now.Before(st.next)):
			ready = append(ready, st.pending)
		case st.pending == nil && now.Sub(st.next) > g.interval:
			delete(g.targets, key) // quiet for an interval: forget it
		}
	}
	slices.SortFunc(ready, func(x, y *aggregate) int { return x.firstAt.Compare(y.firstAt) })
	out := ready[:0]
	for _, a := range ready {
		if a.target.Platform != 0 && !all {
			if g.tokens < 1 {
				continue
			}
			g.tokens--
		}
		st := g.targets[a.target]
		st.pending, st.next = nil, now.Add(g.interval)
		out = append(out, a)
	}
	return out
}

// runFailureWriter writes aggregates as they come due until the server
// closes.
func (s *Server) runFailureWriter() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.failures.kick:
		case <-tick.C:
		case <-s.done:
			return
		}
		s.flushAuthFailures(false)
	}
}

// flushAuthFailures writes the aggregates that are due (with all, every
// one: at shutdown).
func (s *Server) flushAuthFailures(all bool) {
	for _, a := range s.failures.due(s.now(), all) {
		s.writeFailures(a)
	}
}

// writeFailures records one aggregate in its community, or logs it for the
// operator.
func (s *Server) writeFailures(a *aggregate) {
	f := a.first
	if a.target.Platform == 0 {
		ev := s.log.Warn().Int(ParamCount, a.count).Str(ParamSources, a.sourcesText()).
			Str(ParamReasons, counts(a.reasons)).Str(ParamSurfaces, counts(a.surfaces)).
			Str("first_path", f.path).Time(ParamFirstAt, a.firstAt)
		if len(a.tokenIDs) > 0 {
			ev = ev.Strs(ParamTokenIDs, a.tokenIDs)
		}
		ev.Msg("HTTP authentication failures naming no known community")
		return
	}
	e := &audit.Event{Platform: a.target.Platform, PropertyID: a.target.ID, Type: audit.SecurityEvent,
		PlatformType: "http_api", Function: audit.FuncCommand, ActorType: audit.ActorSystem}
	e.Params.Set(audit.ParamKind, audit.KindAPIAuthFailure)
	e.Params.Set(audit.ParamReason, f.reason)
	e.Params.Set(ParamRemoteAddr, f.ip)
	e.Params.Set(ParamMethod, f.method)
	e.Params.Set(ParamPath, f.path)
	e.Params.Set(ParamCount, strconv.Itoa(a.count))
	e.Params.Set(ParamSources, audit.Cut(a.sourcesText(), 1024))
	e.Params.Set(ParamReasons, counts(a.reasons))
	e.Params.Set(ParamSurfaces, counts(a.surfaces))
	e.Params.Set(ParamFirstAt, a.firstAt.UTC().Format(time.RFC3339))
	if len(a.tokenIDs) > 0 {
		e.Params.Set(ParamTokenID, a.tokenIDs[0])
	}
	if len(a.tokenIDs) > 1 {
		e.Params.Set(ParamTokenIDs, strings.Join(a.tokenIDs, ","))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.rec.Record(ctx, e); err != nil {
		s.log.Error().Err(err).Str("property", a.target.String()).Int(ParamCount, a.count).
			Str(ParamSources, a.sourcesText()).Str(ParamReasons, counts(a.reasons)).
			Msg("record HTTP authentication failures")
	}
}
