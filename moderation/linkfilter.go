package moderation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/moderation/links"
	"github.com/chatwarden/chatwarden/platform"
)

// Rules of the link filter, in MODERATION_LINK's params.rule.
const (
	RuleDenylist       = "DENYLIST"        // the domain is on a deny list
	RuleNotAllowlisted = "NOT_ALLOWLISTED" // allowlist mode: the domain is not listed
	RuleInvite         = "INVITE"          // an invite to another server or group
)

// ParamMatched is MODERATION_LINK's param naming what decided: the list
// entry (domain or page), the protected brand a look-alike imitates, or
// the invite code.
const ParamMatched = audit.ParamMatched

// Verdict is the link filter's decision on one link.
type Verdict struct {
	Blocked bool
	Rule    string // Rule* when blocked
	// Matched is what decided: the list entry (the denied or allowed
	// domain, or the denied page such as bit.ly/2zo2ibr), the protected
	// domain a look-alike imitates, or the invite code.
	Matched string
}

// Policy is the link filter's rules for one property, ready to judge
// links. Build it with NewPolicy.
type Policy struct {
	mode         string
	deny         domainSet
	allow        []string
	files        *denyFiles
	look         *Lookalike // nil: the look-alike rule is off
	blockInvites bool
	platform     string          // "discord" or "telegram": whose invites are own
	own          map[string]bool // own invite codes
}

// NewPolicy returns the policy of cfg on platform p, with own as the
// property's own invite codes.
func NewPolicy(p audit.Platform, cfg LinkFilterConfig, own []string) *Policy {
	pol := &Policy{mode: cfg.Mode, blockInvites: cfg.BlockInvites, platform: p.String(),
		own: make(map[string]bool, len(own)), deny: newDomainSet()}
	for _, d := range cfg.Denylist {
		pol.deny.add(d)
	}
	if cfg.Lookalike {
		pol.look = cachedLookalike(cfg.ProtectedDomains, cfg.BaitWords)
	}
	for _, d := range cfg.Allowlist {
		if d = CanonicalDomain(d); d != "" {
			pol.allow = append(pol.allow, d)
		}
	}
	for _, c := range own {
		pol.own[c] = true
	}
	return pol
}

// Judge decides on one link. Invites come first: the property's own are
// always allowed, others are blocked when invites are blocked. Then the
// deny lists (in both modes): a listed domain covers its subdomains, a
// listed page (bit.ly/2zo2ibr) only itself and what is under it. A name
// that looks like a file name (deploy.pl) and is not listed is left
// alone. In allowlist mode an allowed domain passes. Then the look-alike
// rule (both modes), then, in allowlist mode, everything not allowed but
// bare names (user.name, ctx.app: no scheme, www., port or path), which
// code and prose are full of.
func (p *Policy) Judge(l links.Link) Verdict {
	if inv := l.Invite; inv != nil {
		if inv.Platform == p.platform && p.own[inv.Code] {
			return Verdict{}
		}
		if p.blockInvites {
			return Verdict{Blocked: true, Rule: RuleInvite, Matched: inv.Code}
		}
	}
	path := linkPath(l.URL)
	if m := p.deny.match(l.Host, path); m != "" {
		return Verdict{Blocked: true, Rule: RuleDenylist, Matched: m}
	}
	if m := p.files.match(l.Host, path); m != "" {
		return Verdict{Blocked: true, Rule: RuleDenylist, Matched: m}
	}
	if l.FileName {
		return Verdict{}
	}
	if p.mode == ModeAllowlist {
		for _, d := range p.allow {
			if links.HostMatches(l.Host, d) {
				return Verdict{Matched: d}
			}
		}
	}
	if b := p.look.Match(l.Host); b != "" {
		return Verdict{Blocked: true, Rule: RuleLookalike, Matched: b}
	}
	if p.mode == ModeAllowlist && !l.Bare {
		return Verdict{Blocked: true, Rule: RuleNotAllowlisted}
	}
	return Verdict{}
}

// mayHaveLinks is Handle's cheap test of whether a message is worth
// queueing for the link filter.
func mayHaveLinks(ev *audit.Event) bool {
	return ev.Params.Get(audit.ParamEmbedURLs) != "" || ev.Params.Get(ParamTextLinks) != "" ||
		links.HasAll(messageText(ev))
}

// messageText is a message's text: its content, or, in a property that does not
// store content, the text withheld from the store. (Work that spills to
// the store during a flood carries no withheld text.)
func messageText(ev *audit.Event) string {
	if ev.Content != "" {
		return ev.Content
	}
	return ev.Withheld
}

// MessageLinks returns the links of a CHAT_MESSAGE or CHAT_MESSAGE_EDIT:
// in its content (text or caption), its embeds (params embed_urls) and its
// Telegram text_link entities (params text_links), without duplicates.
// Names that look like file names are included, with FileName set (see
// links.FindAll), so that listed ones are caught.
func MessageLinks(ev *audit.Event) []links.Link {
	out := links.FindAll(messageText(ev))
	for _, key := range []string{audit.ParamEmbedURLs, ParamTextLinks} {
		for _, u := range strings.Fields(ev.Params.Get(key)) {
			for _, l := range links.FindAll(u) {
				if !slices.ContainsFunc(out, func(o links.Link) bool { return o.URL == l.URL }) {
					out = append(out, l)
				}
			}
		}
	}
	return out
}

// checkLinks runs the link filter on a message.
func (e *Engine) checkLinks(ctx context.Context, pl *attached, ev *audit.Event, cfg LinkFilterConfig) {
	if !cfg.Enabled || ev.MessageID == "" {
		return
	}
	if self, _ := pl.dir.Self(); ev.ActorID != "" && ev.ActorID == self {
		return
	}
	found := MessageLinks(ev)
	if len(found) == 0 {
		return
	}
	k := propKey{ev.Platform, ev.PropertyID}
	var own []string
	if slices.ContainsFunc(found, func(l links.Link) bool { return l.Invite != nil }) {
		own = e.ownInviteCodes(ctx, pl, k, cfg)
	}
	pol := NewPolicy(ev.Platform, cfg, own)
	pol.files = e.deny
	var bad links.Link
	var v Verdict
	for _, l := range found {
		if v = pol.Judge(l); v.Blocked {
			bad = l
			break
		}
	}
	var res *shortened
	if !v.Blocked && cfg.ResolveShorteners {
		bad, v, res = e.judgeShortened(ctx, k, ev, pol, found)
	}
	if !v.Blocked {
		return
	}
	judged := bad.Host
	if res != nil {
		judged = res.host
	}
	log := e.log.With().Str("platform", k.p.String()).Str("property", k.id).
		Str("message", ev.MessageID).Str("domain", judged).Str("rule", v.Rule).Str("matched", v.Matched).Logger()
	if why := e.exempt(ctx, pl, ev, cfg); why != "" {
		log.Debug().Str("exempt", why).Msg("blocked link in an exempt message")
		return
	}
	e.smu.Lock()
	first := e.acted.add(k.p.String() + "\x00" + k.id + "\x00" + ev.MessageID)
	e.smu.Unlock()
	if !first {
		return // the same message seen again (an edit, a redelivery)
	}
	// The deletion and the escalation's timeout are details of the
	// MODERATION_LINK record (action, outcome, escalated).
	cause := platform.Cause{Function: audit.FuncLinkFilter, Quiet: audit.QuietDetail,
		Reason: fmt.Sprintf("link filter: %s %s", strings.ToLower(v.Rule), judged)}
	err := pl.actions.DeleteMessage(ctx, k.id, ev.ChannelID, ev.MessageID, cause)
	if err != nil {
		log.Warn().Err(err).Msg("delete a message with a blocked link")
	}
	escalate := e.violation(ev, cfg)

	rec := e.synthetic(pl, k, audit.ModerationLink, audit.FuncLinkFilter)
	rec.ChannelID, rec.MessageID = ev.ChannelID, ev.MessageID
	rec.Params.Set(audit.ParamChannelName, ev.Params.Get(audit.ParamChannelName))
	// What was removed, so that the one log entry of the removal shows it
	// (RaidFilter keeps the deletion's own record out of log channels).
	rec.Content, rec.Attachments = ev.Content, ev.Attachments
	if ev.ActorID != "" {
		rec.TargetIDs = []string{ev.ActorID}
	}
	rec.Params.Set(audit.ParamTargetName, ev.ActorName)
	rec.Params.Set(audit.ParamURL, bad.URL)
	rec.Params.Set(audit.ParamDomain, judged)
	if res != nil {
		rec.Params.Set(ParamResolvedURL, res.Final)
		rec.Params.Set(ParamResolvedVia, strings.Join(res.Via, " "))
	}
	rec.Params.Set(audit.ParamRule, v.Rule)
	if v.Matched != "" {
		rec.Params.Set(ParamMatched, v.Matched)
	}
	rec.Params.Set(audit.ParamMode, strings.ToUpper(cfg.Mode))
	rec.Params.Set(audit.ParamAction, ActDelete)
	rec.Params.Set(audit.ParamOutcome, outcome(err))
	if escalate {
		rec.Params.Set(ParamEscalated, "true")
	}
	e.record(ctx, rec)

	if escalate {
		until := e.clock.Now().Add(cfg.EscalateTimeout)
		cause.Reason = fmt.Sprintf("link filter: %d blocked links within %s", cfg.EscalateAfter, cfg.EscalateWindow)
		if err := pl.actions.Timeout(ctx, k.id, ev.ActorID, until, cause); err != nil {
			log.Warn().Err(err).Str("user", ev.ActorID).Msg("time out a member for repeated blocked links")
		}
	}
}

// shortened is where a blocked shortened link led.
type shortened struct {
	Resolution
	host string // the host judged: Final's
}

// maxShortenedPerMessage bounds the shortened links of one message that
// are followed.
const maxShortenedPerMessage = 10

// judgeShortened follows the links on URL shorteners that the rules let
// pass and judges where they lead by the same rules; the first blocked
// decides, and is returned with where it led. The links are followed
// together, so that a message waits for one resolution's time at most
// (ShortenerOptions.Timeout). A link that cannot be resolved (time out,
// error, too many redirects, an address refused) is left alone, which the
// debug log says. It runs on the property's work queue: other properties'
// work goes on meanwhile.
func (e *Engine) judgeShortened(ctx context.Context, k propKey, ev *audit.Event, pol *Policy,
	found []links.Link) (links.Link, Verdict, *shortened) {
	var todo []links.Link
	for _, l := range found {
		if p := linkPath(l.URL); l.Invite != nil || !IsShortener(l.Host) || p == "" || p == "/" ||
			slices.ContainsFunc(todo, func(t links.Link) bool { return t.URL == l.URL }) {
			continue
		}
		todo = append(todo, l)
	}
	debug := func(l links.Link) *zerolog.Event {
		return e.log.Debug().Str("platform", k.p.String()).Str("property", k.id).Str("message", ev.MessageID).
			Str("url", l.URL)
	}
	if len(todo) > maxShortenedPerMessage {
		for _, l := range todo[maxShortenedPerMessage:] {
			debug(l).Int("max", maxShortenedPerMessage).Msg("shortened link not resolved: too many in the message; left alone")
		}
		todo = todo[:maxShortenedPerMessage]
	}
	type result struct {
		res Resolution
		err error
	}
	results := make([]result, len(todo))
	var wg sync.WaitGroup
	for i, l := range todo {
		wg.Go(func() {
			results[i].res, results[i].err = e.short.resolve(ctx, l.URL)
		})
	}
	wg.Wait()
	for i, l := range todo {
		res, err := results[i].res, results[i].err
		if err != nil {
			debug(l).Err(err).Msg("shortened link not resolved; left alone")
			continue
		}
		for _, f := range links.FindAll(res.Final) {
			if v := pol.Judge(f); v.Blocked {
				return l, v, &shortened{Resolution: res, host: f.Host}
			}
		}
		debug(l).Str("resolved_url", res.Final).Msg("shortened link resolved; allowed")
	}
	return links.Link{}, Verdict{}, nil
}

// exempt says why a message is exempt from the link filter, or "".
func (e *Engine) exempt(ctx context.Context, pl *attached, ev *audit.Event, cfg LinkFilterConfig) string {
	if ev.ChannelID != "" && slices.Contains(cfg.ExemptChannels, ev.ChannelID) {
		return "channel"
	}
	if ev.ActorID == "" {
		return ""
	}
	if cfg.ExemptAdmins {
		if ev.ActorType == audit.ActorAdmin {
			return "admin"
		}
		if ok, err := pl.dir.IsAdmin(ctx, ev.PropertyID, ev.ActorID); err != nil {
			e.log.Warn().Err(err).Str("user", ev.ActorID).Msg("check admin rights")
		} else if ok {
			return "admin"
		}
	}
	if len(cfg.ExemptRoles) > 0 {
		if rl, ok := pl.dir.(RoleLister); ok {
			roles, err := rl.MemberRoles(ctx, ev.PropertyID, ev.ActorID)
			if err != nil {
				e.log.Warn().Err(err).Str("user", ev.ActorID).Msg("list member roles")
			}
			for _, r := range roles {
				if slices.Contains(cfg.ExemptRoles, r) {
					return "role"
				}
			}
		}
	}
	return ""
}

// violation counts a member's blocked link and reports whether it
// reaches the escalation threshold (which then starts over).
func (e *Engine) violation(ev *audit.Event, cfg LinkFilterConfig) bool {
	if ev.ActorID == "" {
		return false
	}
	now := e.clock.Now()
	k := userKey{propKey{ev.Platform, ev.PropertyID}, ev.ActorID}
	e.smu.Lock()
	defer e.smu.Unlock()
	ts := e.violations[k]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > cfg.EscalateWindow {
		i++
	}
	ts = append(ts[i:], now)
	if cfg.Escalate && len(ts) >= cfg.EscalateAfter {
		delete(e.violations, k)
		return true
	}
	if len(ts) > 100 {
		ts = ts[len(ts)-100:]
	}
	e.violations[k] = ts
	return false
}

// learnInvite remembers invite codes the property creates (and forgets
// deleted ones): links to them are the property's own.
func (e *Engine) learnInvite(ev *audit.Event) {
	code := ev.Params.Get(audit.ParamInviteCode)
	if code == "" {
		return
	}
	k := propKey{ev.Platform, ev.PropertyID}
	e.smu.Lock()
	defer e.smu.Unlock()
	m := e.invites[k]
	if ev.Type == audit.PropertyInviteDelete {
		delete(m, code)
		return
	}
	if m == nil {
		m = make(map[string]bool)
		e.invites[k] = m
	}
	if len(m) < 10000 {
		m[code] = true
	}
}

// ownInviteCodes returns the property's own invite codes: the settings',
// those seen created, and the directory's (cached).
func (e *Engine) ownInviteCodes(ctx context.Context, pl *attached, k propKey, cfg LinkFilterConfig) []string {
	own := slices.Clone(cfg.AllowedInvites)
	now := e.clock.Now()
	e.smu.Lock()
	for c := range e.invites[k] {
		own = append(own, c)
	}
	c, ok := e.ownInvites[k]
	e.smu.Unlock()
	il, lister := pl.dir.(InviteLister)
	if !lister {
		return own
	}
	if !ok || !now.Before(c.expires) {
		codes, err := il.Invites(ctx, k.id)
		if err != nil {
			e.log.Warn().Err(err).Str("property", k.id).Msg("list own invites")
		} else {
			c = cached[[]string]{v: codes, expires: now.Add(e.opts.CacheTTL)}
			e.smu.Lock()
			e.ownInvites[k] = c
			e.smu.Unlock()
		}
	}
	return append(own, c.v...)
}

// escalateWindowMax bounds how long violations are remembered.
const escalateWindowMax = 7 * 24 * time.Hour
