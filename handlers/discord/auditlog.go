package discord

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
)

// Reading the audit log over REST, when a gateway entry did not come.
//
// Discord sends GUILD_AUDIT_LOG_ENTRY_CREATE separately from the event it
// explains, in no documented order, and sometimes late or not at all. A
// removal, ban or permission change whose entry has not come when its
// correlation window ends is looked up with GET
// /guilds/{id}/audit-logs?action_type=N (the newest 50 entries of that
// action) before it is recorded with an unknown moderator; a kick whose
// entry is late is then still a kick, not a leave.
//
// Cost. Only with View Audit Log (asking without it answers 403 and
// teaches nothing); one page per guild and action serves every lookup
// that ends after it was read, so a wave of leaves reads a page per
// action, not one per member; and a token bucket (auditReadBurst, then
// one every auditReadEvery) bounds the reads of the whole bot, far below
// Discord's limits: a lookup without a token records what the gateway
// said.

const (
	auditReadBurst = 5
	auditReadEvery = time.Second
	auditReadLimit = 50
	// auditEntrySlack is how long before a gateway event its entry may
	// have been written and still be taken as its own.
	auditEntrySlack = 30 * time.Second
)

// auditReader reads audit-log pages over REST for the late lookups.
type auditReader struct {
	mu     sync.Mutex
	pages  map[auditPageKey]auditPage
	tokens float64
	last   time.Time
}

type auditPageKey struct {
	guild  string
	action discordgo.AuditLogAction
}

type auditPage struct {
	at      time.Time
	entries []*discordgo.AuditLogEntry
}

func newAuditReader() *auditReader {
	return &auditReader{pages: map[auditPageKey]auditPage{}, tokens: auditReadBurst}
}

// take spends a read token; false when none is left.
func (r *auditReader) take(now time.Time) bool {
	if !r.last.IsZero() {
		r.tokens = min(auditReadBurst, r.tokens+now.Sub(r.last).Seconds()/auditReadEvery.Seconds())
	}
	r.last = now
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}

// page returns the newest entries of an action in a guild read at or
// after notBefore: a cached page, or a new read. ok is false when there
// is none and no read was allowed.
func (b *Bot) auditPage(guild string, action discordgo.AuditLogAction, notBefore time.Time) ([]*discordgo.AuditLogEntry, bool) {
	r := b.auditLog
	r.mu.Lock()
	defer r.mu.Unlock() // one read at a time: a second lookup waits for the page the first reads
	k := auditPageKey{guild, action}
	if p, ok := r.pages[k]; ok && !p.at.Before(notBefore) {
		return p.entries, true
	}
	now := time.Now()
	if !r.take(now) {
		b.log.Debug().Str("guild", guild).Int("action", int(action)).Msg("audit-log read skipped: over the bot's read budget")
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	log, err := b.s.GuildAuditLog(guild, "", "", int(action), auditReadLimit, discordgo.WithContext(ctx))
	if err != nil {
		b.log.Warn().Err(fmt.Errorf("read the audit log of %s (action %d): %w", guild, action, err)).
			Str("guild", guild).Msg("audit-log read failed; recording without the moderator")
		return nil, false
	}
	var entries []*discordgo.AuditLogEntry
	if log != nil {
		entries = log.AuditLogEntries
	}
	for key, p := range r.pages {
		if now.Sub(p.at) > time.Minute {
			delete(r.pages, key)
		}
	}
	r.pages[k] = auditPage{at: now, entries: entries}
	return entries, true
}

// canViewAuditLog reports whether the bot may read a guild's audit log,
// from the state; true when the state cannot tell (the read then says).
func (b *Bot) canViewAuditLog(guild string) bool {
	g, err := b.s.State.Guild(guild)
	if err != nil || b.self == nil {
		return true
	}
	m, err := b.s.State.Member(guild, b.self.ID)
	if err != nil || m == nil {
		return true
	}
	b.s.State.RLock()
	defer b.s.State.RUnlock()
	return permsOf(g, m)&discordgo.PermissionViewAuditLogs != 0
}

// lookupEntry finds, in the audit log read over REST, the entry of one of
// keys for an event first seen at start: an entry of the key's action
// whose key (auditKey) matches, written no sooner than auditEntrySlack
// before it. Pages read before the event's window ended are not trusted
// to hold it.
func (b *Bot) lookupEntry(start time.Time, keys []corrKey) (auditEntry, corrKey, bool) {
	if len(keys) == 0 || !b.canViewAuditLog(keys[0].guild) {
		return auditEntry{}, corrKey{}, false
	}
	notBefore := start.Add(b.opts.CorrelationWindow)
	for _, k := range keys {
		entries, ok := b.auditPage(k.guild, k.action, notBefore)
		if !ok {
			continue
		}
		for _, a := range entries { // newest first
			if a == nil || a.ActionType == nil || *a.ActionType != k.action {
				continue
			}
			at := snowflakeTime(a.ID, time.Time{})
			if at.IsZero() || at.Before(start.Add(-auditEntrySlack)) {
				continue
			}
			if b.self != nil && a.UserID == b.self.ID {
				continue // the bot's own actions are recorded by the actions
			}
			if auditKey(k.guild, a) == k {
				return entryOf(a), k, true
			}
		}
	}
	return auditEntry{}, corrKey{}, false
}

// lateLookup is the late hook of events a moderator may have caused: it
// completes them from the audit log read over REST.
func (b *Bot) lateLookup(p *pending) []*audit.Event {
	if a, _, ok := b.lookupEntry(p.start, p.keys); ok {
		p.applyAll(a)
	}
	return p.events
}

// awaitModerator records e when its audit entry (one of keys) names the
// moderator, or when the window ends and a REST read of the audit log
// found it or not.
func (b *Bot) awaitModerator(e *audit.Event, apply func(*audit.Event, auditEntry), keys ...corrKey) {
	b.corr.awaitLate([]*audit.Event{e}, apply, b.lateLookup, keys...)
}

// entryOf is what the correlator keeps of an audit-log entry.
func entryOf(a *discordgo.AuditLogEntry) auditEntry {
	e := auditEntry{actor: a.UserID, reason: a.Reason, at: time.Now(), changes: a.Changes, options: a.Options}
	if a.ActionType != nil {
		e.action = *a.ActionType
	}
	return e
}

// auditKey is the correlation key of an audit-log entry: its action and
// what it is about, as the gateway handlers await it (a deleted message's
// author and channel, an invite's code, a prune's whole guild).
func auditKey(guild string, a *discordgo.AuditLogEntry) corrKey {
	if a == nil || a.ActionType == nil {
		return corrKey{}
	}
	target := a.TargetID
	switch *a.ActionType {
	case auditMessageDelete:
		if a.Options != nil {
			target = a.TargetID + "/" + a.Options.ChannelID
		}
	case auditInviteDelete:
		target = auditCode(a.Changes)
	case auditMemberPrune:
		target = anyTarget
	case auditMemberDisconnect, auditMemberMove, auditMemberUpdate:
		if t, ok := voiceKey(a); ok {
			target = t
		}
	case auditOverwriteCreate, auditOverwriteUpdate, auditOverwriteDelete:
		if a.Options != nil {
			target = a.TargetID + "/" + a.Options.ID
		}
	}
	return corrKey{guild, *a.ActionType, target}
}
