package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// Audit-log actions chatwarden reads (Discord API documentation).
const (
	auditChannelCreate = discordgo.AuditLogActionChannelCreate // 10
	auditChannelDelete = discordgo.AuditLogActionChannelDelete // 12
	auditMemberKick    = discordgo.AuditLogActionMemberKick    // 20
	auditMemberPrune   = discordgo.AuditLogActionMemberPrune   // 21
	auditMemberBanAdd  = discordgo.AuditLogActionMemberBanAdd  // 22
	auditMemberBanRem  = discordgo.AuditLogActionMemberBanRemove
	auditMemberUpdate  = discordgo.AuditLogActionMemberUpdate      // 24 (nick, timeout)
	auditMemberRoles   = discordgo.AuditLogActionMemberRoleUpdate  // 25
	auditInviteDelete  = discordgo.AuditLogActionInviteDelete      // 42
	auditMessageDelete = discordgo.AuditLogActionMessageDelete     // 72
	auditMessageBulk   = discordgo.AuditLogActionMessageBulkDelete // 73
	auditThreadDelete  = discordgo.AuditLogActionThreadDelete      // 112
)

// addHandlers registers the gateway handlers with discordgo.
func (b *Bot) addHandlers() {
	for _, h := range b.handlers() {
		b.s.AddHandler(h)
	}
}

// handlers are the gateway handlers, each a func(*discordgo.Session, *T)
// for the event T: the member-state ones first, as discordgo runs an
// event's handlers in order (chunks.go). The fuzz target drives the same
// list.
func (b *Bot) handlers() []any {
	return append(b.memberHandlers(),
		on(b, func(r *discordgo.Ready) {
			b.once.Do(func() {
				// Only the first READY sets it (credentials read the same user):
				// a later one, after a new identify, would race the engines
				// reading Self.
				if r.User != nil {
					b.self = r.User
				}
				// The engines are attached here, on the gateway goroutine,
				// before any later dispatch is handled: the events that
				// follow READY (the first messages and joins after a restart)
				// are then moderated, not dropped as "platform not attached".
				b.attachEngines()
				close(b.ready)
			})
		}),
		on(b, func(g *discordgo.GuildCreate) { b.onGuildCreate(g.Guild) }),
		on(b, func(_ *discordgo.Connect) { b.onConnect() }),
		on(b, func(_ *discordgo.Disconnect) { b.onDisconnect() }),
		on(b, func(m *discordgo.GuildMemberAdd) { b.onMemberAdd(m.Member) }),
		on(b, func(m *discordgo.GuildMemberRemove) { b.onMemberRemove(m.Member) }),
		on(b, func(m *discordgo.GuildMemberUpdate) { b.onMemberUpdate(m.Member) }),
		on(b, func(m *discordgo.GuildBanAdd) { b.onBan(m.GuildID, m.User, true) }),
		on(b, func(m *discordgo.GuildBanRemove) { b.onBan(m.GuildID, m.User, false) }),
		on(b, func(m *discordgo.MessageCreate) { b.onMessage(m.Message) }),
		on(b, func(m *discordgo.MessageUpdate) { b.onMessageEdit(m.Message) }),
		on(b, func(m *discordgo.MessageDelete) {
			if m.Message != nil {
				b.onMessageDelete(m.GuildID, m.ChannelID, m.ID)
			}
		}),
		on(b, func(m *discordgo.MessageDeleteBulk) { b.onMessageDeleteBulk(m) }),
		on(b, func(c *discordgo.ChannelCreate) { b.onChannel(c.Channel, true, "CHANNEL_CREATE") }),
		on(b, func(c *discordgo.ChannelDelete) {
			b.onChannel(c.Channel, false, "CHANNEL_DELETE")
		}),
		on(b, func(c *discordgo.ThreadCreate) {
			if c.NewlyCreated {
				b.onChannel(c.Channel, true, "THREAD_CREATE")
			}
		}),
		on(b, func(c *discordgo.ThreadDelete) { b.onChannel(c.Channel, false, "THREAD_DELETE") }),
		on(b, func(c *discordgo.ChannelUpdate) { b.onChannelUpdate(c.Channel, c.BeforeUpdate, "CHANNEL_UPDATE") }),
		on(b, func(c *discordgo.ThreadUpdate) { b.onChannelUpdate(c.Channel, c.BeforeUpdate, "THREAD_UPDATE") }),
		on(b, func(g *discordgo.GuildUpdate) { b.onGuildUpdate(g.Guild) }),
		on(b, func(r *discordgo.GuildRoleCreate) { b.onRole(r.GuildRole, true) }),
		on(b, func(r *discordgo.GuildRoleUpdate) { b.onRole(r.GuildRole, false) }),
		on(b, b.onRoleDelete),
		on(b, b.onVoiceState),
		on(b, b.onAutomodExecution),
		on(b, func(r *discordgo.AutoModerationRuleCreate) { b.onAutomodRule(r.AutoModerationRule, false) }),
		on(b, func(r *discordgo.AutoModerationRuleUpdate) { b.onAutomodRule(r.AutoModerationRule, false) }),
		on(b, func(r *discordgo.AutoModerationRuleDelete) { b.onAutomodRule(r.AutoModerationRule, true) }),
		on(b, func(i *discordgo.InviteCreate) {
			if i.Invite != nil {
				b.onInviteCreate(i)
			}
		}),
		on(b, func(i *discordgo.InviteDelete) { b.onInviteDelete(i) }),
		on(b, func(a *discordgo.GuildAuditLogEntryCreate) { b.onAuditEntry(a) }),
		on(b, func(i *discordgo.InteractionCreate) {
			if i.Interaction == nil {
				return
			}
			// Interactions must be answered within 3 s: off the gateway reader.
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				on(b, b.onInteraction)(nil, i.Interaction) // recovered there too
			}()
		}),
	)
}

// on adapts fn to a discordgo handler of the events T, one that survives
// a bad event: discordgo dispatches what a payload that failed to decode
// filled in (embedded pointers nil) and calls handlers without recover,
// so a panic would end the process. A nil event is ignored; a panic is
// logged with the event's type and stack and the event skipped.
func on[T any](b *Bot, fn func(*T)) func(*discordgo.Session, *T) {
	return func(_ *discordgo.Session, v *T) {
		if v == nil {
			return
		}
		defer func() {
			if p := recover(); p != nil {
				b.log.Error().Str("event", fmt.Sprintf("%T", v)).Str("panic", fmt.Sprint(p)).
					Str("stack", string(debug.Stack())).Msg("gateway handler panicked; event skipped")
			}
		}()
		fn(v)
	}
}

// event starts a gateway record of a guild.
func (b *Bot) event(guild string, typ audit.EventType, platformType string) *audit.Event {
	return &audit.Event{
		Time:         time.Now(),
		Platform:     audit.Discord,
		PropertyID:   guild,
		Type:         typ,
		PlatformType: platformType,
		Function:     audit.FuncGateway,
		ActorType:    audit.ActorSystem,
	}
}

// setActor names the actor and classifies it: a bot account, an admin (the
// owner or a member whose roles grant Administrator, Manage Server, Ban or
// Kick Members), or a member.
func (b *Bot) setActor(e *audit.Event, u *discordgo.User, m *discordgo.Member) {
	if u == nil {
		return
	}
	e.ActorID, e.ActorName = u.ID, displayName(u, m)
	e.ActorType = b.actorType(e.PropertyID, u, m)
}

func (b *Bot) actorType(guild string, u *discordgo.User, m *discordgo.Member) audit.ActorType {
	switch {
	case u == nil:
		return audit.ActorSystem
	case u.Bot:
		return audit.ActorBot
	case b.isStaff(guild, u.ID, m):
		return audit.ActorAdmin
	}
	return audit.ActorNonAdmin
}

// staffPerms are the permissions that make a member staff.
const staffPerms = discordgo.PermissionAdministrator | discordgo.PermissionManageGuild |
	discordgo.PermissionBanMembers | discordgo.PermissionKickMembers

// isStaff reports whether a member holds any staff permission, from the
// state's copy of the guild's roles.
func (b *Bot) isStaff(guild, user string, m *discordgo.Member) bool {
	g, err := b.s.State.Guild(guild)
	if err != nil {
		return false
	}
	if m == nil {
		m = b.stateMember(guild, user)
	}
	// The guild's roles and owner change in place on the gateway goroutine.
	b.s.State.RLock()
	defer b.s.State.RUnlock()
	if g.OwnerID == user {
		return true
	}
	if m == nil {
		return false
	}
	for _, r := range g.Roles {
		if r != nil && (r.ID == guild || slices.Contains(m.Roles, r.ID)) && r.Permissions&staffPerms != 0 {
			return true
		}
	}
	return false
}

func displayName(u *discordgo.User, m *discordgo.Member) string {
	switch {
	case m != nil && m.Nick != "":
		return m.Nick
	case u.GlobalName != "":
		return u.GlobalName
	}
	return u.Username
}

func (b *Bot) onGuildCreate(g *discordgo.Guild) {
	if g == nil || g.Unavailable {
		return
	}
	// Remember the guild's settings and members so that later updates can
	// be diffed; a first sight records nothing.
	if _, err := b.loadGuild(g.ID); errors.Is(err, store.ErrNotFound) {
		b.saveGuild(guildSnapshot(g))
	}
	if err := b.opts.Store.SetPropertyName(audit.Discord, g.ID, g.Name); err != nil {
		b.log.Error().Err(err).Str("guild", g.ID).Msg("save the guild's name")
	}
	b.seeRoles(g.ID, g.Roles)
	b.checkPermissions(g)
	// The state holds these same members (discordgo keeps the payload's
	// pointers) and actions read them under its lock: write under it.
	b.s.State.Lock()
	for _, m := range g.Members {
		if m != nil {
			m.GuildID = g.ID
		}
	}
	b.s.State.Unlock()
	for _, m := range g.Members {
		if m == nil || m.User == nil {
			continue // hostile or truncated payload: nothing to key a profile on
		}
		if _, err := b.loadProfile(g.ID, m.User.ID); errors.Is(err, store.ErrNotFound) {
			b.saveProfile(g.ID, profileOf(m))
		}
	}
}

func (b *Bot) onMemberAdd(m *discordgo.Member) {
	if m == nil || m.User == nil || m.GuildID == "" {
		return
	}
	e := b.event(m.GuildID, audit.UserJoin, "GUILD_MEMBER_ADD")
	if !m.JoinedAt.IsZero() {
		e.Time = m.JoinedAt
	}
	b.setActor(e, m.User, m)
	e.Params.Set(audit.ParamAccountCreated, accountCreated(m.User.ID))
	b.saveProfile(m.GuildID, profileOf(m))
	if m.User.Bot {
		// A bot is added by someone: its BOT_ADD audit entry names them.
		e.Params.Set(audit.ParamIsBot, "true")
		b.corr.await(e, func(e *audit.Event, a auditEntry) {
			if a.actor != "" && a.actor != m.User.ID {
				e.Params.Set(paramAddedBy, a.actor)
				if name := b.memberName(m.GuildID, a.actor); name != "" {
					e.Params.Set(paramAddedByName, name) // the entry's "Added by: name (id)"
				}
			}
		}, corrKey{m.GuildID, auditBotAdd, m.User.ID})
		return
	}
	b.submit(e)
}

func (b *Bot) onMemberRemove(m *discordgo.Member) {
	if m == nil || m.User == nil || m.GuildID == "" {
		return
	}
	if b.self != nil && m.User.ID == b.self.ID {
		return
	}
	b.members.forget(m.GuildID, m.User.ID) // gone: a REST copy would say otherwise for a while
	if b.echo.Take("kick", m.GuildID, m.User.ID) || b.echo.Take("ban-remove", m.GuildID, m.User.ID) {
		return // the bot's own kick or ban, recorded by the action
	}
	if b.banned.Take("ban", m.GuildID, m.User.ID) {
		return // removed by a ban already seen: the USER_BAN says it
	}
	e := b.event(m.GuildID, audit.UserRemove, "GUILD_MEMBER_REMOVE")
	b.setActor(e, m.User, m)
	e.TargetIDs = []string{m.User.ID}
	e.Params.Set(audit.ParamTargetName, displayName(m.User, m))
	e.Params.Set(audit.ParamRemoval, audit.RemovalLeft)
	// A kick's or a prune's entry names the moderator. A ban's does not
	// complete the removal: the ban (GUILD_BAN_ADD or its entry, in any
	// order) drops it (onBan, onAuditEntry), and the USER_BAN is the
	// one record.
	keys := []corrKey{{m.GuildID, auditMemberKick, m.User.ID}, {m.GuildID, auditMemberPrune, anyTarget}}
	b.corr.awaitLate([]*audit.Event{e}, b.removedBy, func(p *pending) []*audit.Event {
		// No entry within the window: the audit log over REST may have
		// it. A ban found there, or seen meanwhile, is the ban's story.
		if b.banned.Take("ban", m.GuildID, m.User.ID) {
			return nil
		}
		a, k, ok := b.lookupEntry(p.start, append(keys, corrKey{m.GuildID, auditMemberBanAdd, m.User.ID}))
		if ok && k.action == auditMemberBanAdd || b.banned.Take("ban", m.GuildID, m.User.ID) {
			return nil
		}
		if ok {
			b.removedBy(e, a)
		}
		return p.events
	}, keys...)
}

// removedBy completes a member's removal from the kick's or the prune's
// audit entry: the moderator is the actor.
func (b *Bot) removedBy(e *audit.Event, a auditEntry) {
	b.setModerator(e, a)
	e.Params.Set(audit.ParamRemoval, audit.RemovalKicked)
	if a.action == auditMemberPrune {
		e.Params.Set(audit.ParamRemoval, audit.RemovalPruned)
		if a.options != nil {
			e.Params.Set(audit.ParamPruneDays, a.options.DeleteMemberDays)
		}
	}
}

// banSeen notes that a member was banned (GUILD_BAN_ADD or its audit
// entry, whichever comes first): their removal, before or after, is part
// of the ban and not recorded on its own.
func (b *Bot) banSeen(guild, user string) {
	if b.corr.suppress(corrKey{guild, auditMemberKick, user}) {
		return // the removal was waiting: dropped
	}
	b.banned.Expect("ban", guild, user)
}

// setModerator makes the audit entry's user the actor of e.
func (b *Bot) setModerator(e *audit.Event, a auditEntry) {
	if a.actor == "" {
		return
	}
	m := b.knownMember(e.PropertyID, a.actor) // the state lacks most members (directory.go)
	var u *discordgo.User
	if m != nil {
		u = m.User
	}
	if u == nil {
		u = &discordgo.User{ID: a.actor, Username: a.actor}
	}
	b.setActor(e, u, m)
	e.Params.Set(audit.ParamReason, a.reason)
}

func (b *Bot) onBan(guild string, u *discordgo.User, added bool) {
	if u == nil || guild == "" {
		return
	}
	kind, typ, pt, action := "ban", audit.UserBan, "GUILD_BAN_ADD", auditMemberBanAdd
	if !added {
		kind, typ, pt, action = "unban", audit.UserBanRemove, "GUILD_BAN_REMOVE", auditMemberBanRem
	}
	if b.echo.Take(kind, guild, u.ID) {
		return
	}
	e := b.event(guild, typ, pt)
	e.TargetIDs = []string{u.ID}
	e.Params.Set(audit.ParamTargetName, displayName(u, nil))
	if added {
		// The member removal the ban causes is not a second story.
		b.banSeen(guild, u.ID)
	}
	b.awaitModerator(e, b.setModerator, corrKey{guild, action, u.ID})
}

func (b *Bot) onMessage(m *discordgo.Message) {
	if m == nil || m.GuildID == "" || m.Author == nil {
		return
	}
	if b.self != nil && m.Author.ID == b.self.ID {
		return // the bot's own posts: log entries, prompts, replies
	}
	if !isChat(m.Type) {
		b.onSystemMessage(m)
		return
	}
	e := b.event(m.GuildID, audit.ChatMessage, "MESSAGE_CREATE")
	e.Time = snowflakeTime(m.ID, e.Time)
	b.setActor(e, m.Author, m.Member)
	e.ChannelID, e.MessageID = m.ChannelID, m.ID
	e.Content = m.Content
	fillMessage(e, m)
	if b.withheld(m) {
		markWithheld(e) // content.go
	}
	if m.WebhookID != "" {
		e.ActorType = audit.ActorBot
		e.Params.Set(audit.ParamWebhookID, m.WebhookID)
	}
	b.submit(e)
	b.maybeRenamed(m)
}

// isChat reports whether a message type is something someone wrote: a
// message, a reply, or an app's answer to a command. Every other type is
// a system message Discord posts about something that happened.
func isChat(t discordgo.MessageType) bool {
	switch t {
	case discordgo.MessageTypeDefault, discordgo.MessageTypeReply,
		discordgo.MessageTypeChatInputCommand, discordgo.MessageTypeContextMenuCommand:
		return true
	}
	return false
}

// Discord's system message types chatwarden maps (Discord API
// documentation, message types); discordgo names only some.
const (
	msgBoost                   = 8 // 9, 10, 11: the boost reached tier 1, 2, 3
	msgBoostTier3              = 11
	msgIncidentAlertEnabled    = 36
	msgIncidentAlertDisabled   = 37
	msgIncidentRaidReport      = 38
	msgIncidentFalseAlarmTaken = 39
)

// onSystemMessage records what a system message means, when no other
// record says it: a member's boost (USER_UPDATE field boost) and the
// security actions of Discord's raid protection (PROPERTY_UPDATE field
// incident). Every other one is skipped: the join notice (type 7) is the
// join's USER_JOIN, a pin notice (6) the audit log's CHAT_MESSAGE_PIN, a
// thread's notices (18, 21) its CHANNEL_CREATE, AutoMod's alert (24) its
// MODERATION_AUTOMOD; the rest (stage, purchase, discovery, poll, follow
// and invite reminders, group-DM notices) say nothing a moderator acts on.
// EVENTS.md lists them.
func (b *Bot) onSystemMessage(m *discordgo.Message) {
	t := int(m.Type)
	switch {
	case t >= msgBoost && t <= msgBoostTier3:
		e := b.event(m.GuildID, audit.UserUpdate, "MESSAGE_CREATE")
		e.Time = snowflakeTime(m.ID, e.Time)
		b.setActor(e, m.Author, m.Member)
		e.TargetIDs = []string{m.Author.ID}
		e.Params.Set(audit.ParamTargetName, displayName(m.Author, m.Member))
		e.ChannelID = m.ChannelID
		e.Params.Set(audit.ParamField, "boost")
		e.Params.Set(audit.ParamNewValue, fmt.Sprintf("BOOST_%d", t-msgBoost))
		if t == msgBoost {
			e.Params.Set(audit.ParamNewValue, "BOOST")
		}
		b.submit(e)
	case t >= msgIncidentAlertEnabled && t <= msgIncidentFalseAlarmTaken:
		e := b.event(m.GuildID, audit.PropertyUpdate, "MESSAGE_CREATE")
		e.Time = snowflakeTime(m.ID, e.Time)
		b.setActor(e, m.Author, m.Member)
		e.ChannelID = m.ChannelID
		e.Params.Set(audit.ParamField, "incident")
		e.Params.Set(audit.ParamNewValue, map[int]string{msgIncidentAlertEnabled: "ALERT_MODE_ENABLED",
			msgIncidentAlertDisabled: "ALERT_MODE_DISABLED", msgIncidentRaidReport: "RAID_REPORTED",
			msgIncidentFalseAlarmTaken: "FALSE_ALARM"}[t])
		e.Content = m.Content
		b.submit(e)
	default:
		b.log.Debug().Str("guild", m.GuildID).Int("type", t).Msg("system message skipped")
	}
}

// fillMessage adds attachments, embeds' links and the reply reference.
func fillMessage(e *audit.Event, m *discordgo.Message) {
	for _, a := range m.Attachments {
		if a == nil {
			continue // a null in a hostile payload
		}
		e.Attachments = append(e.Attachments, audit.Attachment{Name: a.Filename, URL: a.URL, Size: int64(a.Size)})
	}
	if len(e.Attachments) > 0 {
		e.Params.Set(audit.ParamAttachmentStatus, audit.HasAttachment)
	}
	var links []string
	for _, em := range m.Embeds {
		if em != nil && em.URL != "" {
			links = append(links, em.URL)
		}
	}
	if len(links) > 0 {
		e.Params.Set(audit.ParamEmbedURLs, strings.Join(links, " "))
	}
	if m.MessageReference != nil && m.MessageReference.MessageID != "" {
		e.Params.Set(audit.ParamReplyTo, m.MessageReference.MessageID)
	}
}

// maybeRenamed records a USER_UPDATE when a message shows a member whose
// names differ from the stored profile (a missed GUILD_MEMBER_UPDATE).
func (b *Bot) maybeRenamed(m *discordgo.Message) {
	if m.Member == nil {
		return
	}
	mem := *m.Member
	mem.User, mem.GuildID = m.Author, m.GuildID
	old, err := b.loadProfile(m.GuildID, m.Author.ID)
	if err != nil {
		b.saveProfile(m.GuildID, profileOf(&mem))
		return
	}
	now := profileOf(&mem)
	now.Roles, now.Timeout = old.Roles, old.Timeout // a message does not carry all of these reliably
	if now.Avatar == "" {
		now.Avatar = old.Avatar
	}
	b.diffProfile(m.GuildID, &mem, old, now, "MESSAGE_CREATE")
}

func (b *Bot) onMessageEdit(m *discordgo.Message) {
	if m == nil || m.GuildID == "" || m.EditedTimestamp == nil {
		return // embed unfurls and other updates without an edit
	}
	if m.Author != nil && b.self != nil && m.Author.ID == b.self.ID {
		return
	}
	if m.Author != nil && !isChat(m.Type) {
		return // a system message's update is no one's edit
	}
	e := b.event(m.GuildID, audit.ChatMessageEdit, "MESSAGE_UPDATE")
	e.Time = *m.EditedTimestamp
	e.ChannelID, e.MessageID = m.ChannelID, m.ID
	e.Content = m.Content
	// Without the Message Content intent the new text is not known: the
	// edit is recorded (it happened) but not as an edit to nothing, and
	// the attachments known before are kept (content.go).
	withheld := b.withheld(m)
	if withheld {
		markWithheld(e)
	}
	prev, err := b.opts.Store.FindMessage(context.Background(), audit.Discord, m.GuildID, m.ID)
	switch {
	case err == nil && prev.Params[audit.ParamContentUnavailable] == "true" && prev.Content == "":
		// Nor was the earlier text known: no "before" to show.
		if withheld && m.Author == nil {
			return
		}
		e.Params.Set(audit.ParamUnknownBefore, "true")
		e.ActorID, e.ActorName, e.ActorType = prev.ActorID, prev.ActorName, prev.ActorType
		e.Attachments = prev.Attachments
	case err == nil:
		if (prev.Content == m.Content || withheld) && m.Author == nil {
			return
		}
		e.Params.Set(audit.ParamOldContent, prev.Content)
		e.ActorID, e.ActorName, e.ActorType = prev.ActorID, prev.ActorName, prev.ActorType
		e.Attachments = prev.Attachments
	default:
		e.Params.Set(audit.ParamOldContent, "")
		e.Params.Set(audit.ParamUnknownBefore, "true")
	}
	if m.Author != nil {
		b.setActor(e, m.Author, m.Member)
		if !withheld {
			e.Attachments = nil
			fillMessage(e, m)
		}
	}
	b.submit(e)
}

// deletion starts the record of a deleted message with what the store
// knew of it: its author (actor and target), content and attachments.
// known is false when the store never saw the message; e is nil for the
// echo of the bot's own deletion, recorded with its reason already.
func (b *Bot) deletion(guild, channel, id, platformType string) (e *audit.Event, known bool) {
	if b.echo.Take("delete", guild, id) {
		return nil, false
	}
	e = b.event(guild, audit.ChatMessageDelete, platformType)
	e.ChannelID, e.MessageID = channel, id
	prev, err := b.opts.Store.FindMessage(context.Background(), audit.Discord, guild, id)
	if err != nil {
		e.Params.Set(audit.ParamUnknownBefore, "true")
		return e, false
	}
	e.Content, e.Attachments = prev.Content, prev.Attachments
	if prev.Params[audit.ParamContentUnavailable] == "true" && prev.Content == "" {
		markWithheld(e) // what it said was never known (content.go)
	}
	e.ActorID, e.ActorName, e.ActorType = prev.ActorID, prev.ActorName, prev.ActorType
	if prev.ActorID != "" {
		e.TargetIDs = []string{prev.ActorID}
	}
	e.Params.Set(audit.ParamTargetName, prev.ActorName)
	e.Params.Set(audit.ParamPostedAt, prev.Time.Format(time.RFC3339))
	return e, true
}

func (b *Bot) onMessageDelete(guild, channel, id string) {
	if guild == "" {
		return
	}
	e, known := b.deletion(guild, channel, id, "MESSAGE_DELETE")
	switch {
	case e == nil:
	case known:
		// A moderator's deletion shows in the audit log against the author.
		b.corr.await(e, b.setModerator, corrKey{guild, auditMessageDelete, e.ActorID + "/" + channel})
	default:
		b.submit(e)
	}
}

// onMessageDeleteBulk records one deletion per message. Members cannot
// bulk-delete, a moderator or a bot does: the one MESSAGE_BULK_DELETE
// audit entry (its target is the channel) names them as the actor of
// every record, the author staying the target. Without the entry the
// actor is an unnamed moderator ("Someone deleted…"), never the author.
func (b *Bot) onMessageDeleteBulk(m *discordgo.MessageDeleteBulk) {
	if m == nil || m.GuildID == "" {
		return
	}
	var evs []*audit.Event
	for _, id := range m.Messages {
		if e, _ := b.deletion(m.GuildID, m.ChannelID, id, "MESSAGE_DELETE_BULK"); e != nil {
			e.ActorID, e.ActorName, e.ActorType = "", "", audit.ActorAdmin
			evs = append(evs, e)
		}
	}
	b.corr.awaitAll(evs, b.setModerator, corrKey{m.GuildID, auditMessageBulk, m.ChannelID})
}

func (b *Bot) onChannel(c *discordgo.Channel, created bool, platformType string) {
	if c == nil || c.GuildID == "" {
		return
	}
	typ, action := audit.ChannelCreate, auditChannelCreate
	if !created {
		typ, action = audit.ChannelDelete, auditChannelDelete
		if strings.HasPrefix(platformType, "THREAD") {
			action = auditThreadDelete
		}
	}
	e := b.event(c.GuildID, typ, platformType)
	e.ChannelID = c.ID
	name := c.Name
	if name == "" && !created {
		// THREAD_DELETE carries no name, and the state forgot the thread
		// before this handler ran: the store's last record there knows it.
		name = b.lastChannelName(c.GuildID, c.ID)
	}
	e.Params.Set(audit.ParamChannelName, name)
	e.Params.Set(audit.ParamChannelKind, channelKind(c.Type))
	if c.ParentID != "" {
		e.Params.Set(audit.ParamParentID, c.ParentID)
	}
	if created && c.OwnerID != "" { // threads name their creator
		m := b.knownMember(c.GuildID, c.OwnerID)
		u := &discordgo.User{ID: c.OwnerID, Username: c.OwnerID}
		if m != nil && m.User != nil {
			u = m.User
		}
		b.setActor(e, u, m)
		b.submit(e)
		return
	}
	b.corr.await(e, b.setModerator, corrKey{c.GuildID, action, c.ID})
}

// lastChannelName is the channel name of the newest record in a channel
// (its creation, a message there), or "".
func (b *Bot) lastChannelName(guild, channel string) string {
	page, err := b.opts.Store.Query(context.Background(), store.Query{Platform: audit.Discord, Property: guild, Channel: channel, Limit: 1})
	if err != nil || len(page.Events) == 0 {
		return ""
	}
	return page.Events[0].Params[audit.ParamChannelName]
}

func channelKind(t discordgo.ChannelType) string {
	switch t {
	case discordgo.ChannelTypeGuildText:
		return "TEXT"
	case discordgo.ChannelTypeGuildVoice:
		return "VOICE"
	case discordgo.ChannelTypeGuildCategory:
		return "CATEGORY"
	case discordgo.ChannelTypeGuildNews:
		return "ANNOUNCEMENT"
	case discordgo.ChannelTypeGuildPublicThread, discordgo.ChannelTypeGuildPrivateThread, discordgo.ChannelTypeGuildNewsThread:
		return "THREAD"
	case discordgo.ChannelTypeGuildForum:
		return "FORUM"
	case discordgo.ChannelTypeGuildStageVoice:
		return "STAGE"
	}
	return fmt.Sprintf("TYPE_%d", t)
}

func (b *Bot) onInviteCreate(i *discordgo.InviteCreate) {
	if i == nil || i.Invite == nil || i.GuildID == "" {
		return
	}
	e := b.event(i.GuildID, audit.PropertyInviteCreate, "INVITE_CREATE")
	e.ChannelID = i.ChannelID
	if i.Inviter != nil {
		b.setActor(e, i.Inviter, nil)
	}
	e.Params.Set(audit.ParamInviteCode, i.Code)
	if i.MaxUses > 0 {
		e.Params.Set(audit.ParamMaxUses, fmt.Sprint(i.MaxUses))
	}
	if i.MaxAge > 0 {
		e.Params.Set(audit.ParamDuration, (time.Duration(i.MaxAge) * time.Second).String())
	}
	b.submit(e)
}

func (b *Bot) onInviteDelete(i *discordgo.InviteDelete) {
	if i == nil || i.GuildID == "" {
		return
	}
	e := b.event(i.GuildID, audit.PropertyInviteDelete, "INVITE_DELETE")
	e.ChannelID = i.ChannelID
	e.Params.Set(audit.ParamInviteCode, i.Code)
	b.corr.await(e, b.setModerator, corrKey{i.GuildID, auditInviteDelete, i.Code})
}

func (b *Bot) onAuditEntry(a *discordgo.GuildAuditLogEntryCreate) {
	if a == nil || a.AuditLogEntry == nil || a.ActionType == nil {
		return
	}
	if b.self != nil && a.UserID == b.self.ID {
		return // the bot's own actions are recorded by the actions themselves
	}
	switch *a.ActionType {
	case auditBotAdd, auditWebhookCreate, auditIntegrationCreate:
		b.onIntegrationEntry(a) // a BOT_ADD also names the adder of the bot's USER_JOIN
	case auditMemberBanAdd:
		if a.GuildID != "" && a.TargetID != "" {
			b.banSeen(a.GuildID, a.TargetID) // before the ban's GUILD_BAN_ADD, maybe
		}
	}
	if _, known := auditActionNames[*a.ActionType]; !known {
		// Undocumented (EVENTS.md): kept for a gateway record that may
		// want it, never recorded on its own.
		b.log.Debug().Str("guild", a.GuildID).Int("action", int(*a.ActionType)).Msg("undocumented audit-log action")
	}
	if b.recordAuditEntry(a) {
		return
	}
	b.corr.entry(auditKey(a.GuildID, a.AuditLogEntry), entryOf(a.AuditLogEntry))
}

// auditCode finds the invite code among an audit entry's changes.
func auditCode(changes []*discordgo.AuditLogChange) string {
	for _, c := range changes {
		if c != nil && c.Key != nil && *c.Key == discordgo.AuditLogChangeKeyCode {
			if s, ok := c.OldValue.(string); ok {
				return s
			}
			if s, ok := c.NewValue.(string); ok {
				return s
			}
		}
	}
	return ""
}

// snowflakeTime is the creation time encoded in a snowflake id.
func snowflakeTime(id string, fallback time.Time) time.Time {
	t, err := discordgo.SnowflakeTimestamp(id)
	if err != nil || t.Year() < 2015 {
		return fallback
	}
	return t
}

func accountCreated(id string) string {
	t, err := discordgo.SnowflakeTimestamp(id)
	if err != nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// jsonString renders a value for params.
func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}
