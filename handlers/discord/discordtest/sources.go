package discordtest

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/bwmarrin/discordgo"
)

// What a moderator or a member does in the client, as Discord reports it:
// the gateway event first, then (for a moderator's action) the
// GUILD_AUDIT_LOG_ENTRY_CREATE naming them, the order Discord usually
// uses. Payloads follow the Discord API documentation: string snowflakes,
// ISO 8601 timestamps, string permissions.

// change is one audit-log change; a nil value is left out.
type change struct {
	key      string
	old, new any
}

// auditChanges stores an audit-log entry with old and new values and
// dispatches GUILD_AUDIT_LOG_ENTRY_CREATE.
func (s *Server) auditChanges(guild, actor string, action discordgo.AuditLogAction, target, reason string,
	opts *discordgo.AuditLogOptions, changes ...change) {
	a := action
	e := &discordgo.AuditLogEntry{ID: s.Snowflake(), UserID: actor, ActionType: &a, TargetID: target, Reason: reason, Options: opts}
	for _, c := range changes {
		key := discordgo.AuditLogChangeKey(c.key)
		e.Changes = append(e.Changes, &discordgo.AuditLogChange{Key: &key, OldValue: c.old, NewValue: c.new})
	}
	s.mu.Lock()
	s.auditLogs[guild] = append(s.auditLogs[guild], e)
	s.mu.Unlock()
	s.Dispatch("GUILD_AUDIT_LOG_ENTRY_CREATE", struct {
		*discordgo.AuditLogEntry
		GuildID string `json:"guild_id"`
	}{e, guild})
}

// updateMember changes a member under the lock and dispatches
// GUILD_MEMBER_UPDATE with a copy; it reports false for an unknown member.
func (s *Server) updateMember(guild, user string, fn func(m *discordgo.Member)) bool {
	s.mu.Lock()
	m := s.findMemberLocked(guild, user)
	if m == nil {
		s.mu.Unlock()
		return false
	}
	fn(m)
	cp := *m
	cp.Roles = slices.Clone(m.Roles)
	if cp.Roles == nil {
		cp.Roles = []string{}
	}
	s.mu.Unlock()
	s.Dispatch("GUILD_MEMBER_UPDATE", &cp)
	return true
}

// NickBy changes a member's nickname as a moderator does: the update,
// then the MEMBER_UPDATE audit entry with the nick change.
func (s *Server) NickBy(guild, moderator, user, nick, reason string) {
	var old string
	if !s.updateMember(guild, user, func(m *discordgo.Member) { old, m.Nick = m.Nick, nick }) {
		return
	}
	s.auditChanges(guild, moderator, discordgo.AuditLogActionMemberUpdate, user, reason, nil,
		change{key: string(discordgo.AuditLogChangeKeyNick), old: nilIfEmpty(old), new: nilIfEmpty(nick)})
}

// SetAvatar changes a member's avatar as they would themselves (a new
// user avatar hash); there is no audit entry. The member's user is
// copied, so the caller's *discordgo.User is not changed.
func (s *Server) SetAvatar(guild, user, hash string) {
	s.updateMember(guild, user, func(m *discordgo.Member) {
		u := *m.User
		u.Avatar = hash
		m.User = &u
	})
}

// RoleBy adds or removes a role as a moderator does: the update, then
// the MEMBER_ROLE_UPDATE audit entry with a $add or $remove change.
func (s *Server) RoleBy(guild, moderator, user, role string, add bool, reason string) {
	name := role
	s.mu.Lock()
	if g := s.guilds[guild]; g != nil {
		for _, r := range g.Roles {
			if r.ID == role {
				name = r.Name
			}
		}
	}
	s.mu.Unlock()
	ok := s.updateMember(guild, user, func(m *discordgo.Member) {
		m.Roles = slices.DeleteFunc(slices.Clone(m.Roles), func(r string) bool { return r == role })
		if add {
			m.Roles = append(m.Roles, role)
		}
	})
	if !ok {
		return
	}
	key := discordgo.AuditLogChangeKeyRoleAdd
	if !add {
		key = discordgo.AuditLogChangeKeyRoleRemove
	}
	s.auditChanges(guild, moderator, discordgo.AuditLogActionMemberRoleUpdate, user, reason, nil,
		change{key: string(key), new: []map[string]string{{"id": role, "name": name}}})
}

// TimeoutBy times a member out until a time (nil lifts the timeout) as a
// moderator does: the update, then the MEMBER_UPDATE audit entry with the
// communication_disabled_until change.
func (s *Server) TimeoutBy(guild, moderator, user string, until *time.Time, reason string) {
	var old *time.Time
	ok := s.updateMember(guild, user, func(m *discordgo.Member) {
		old = m.CommunicationDisabledUntil
		if until != nil {
			t := until.UTC()
			m.CommunicationDisabledUntil = &t
		} else {
			m.CommunicationDisabledUntil = nil
		}
	})
	if !ok {
		return
	}
	stamp := func(t *time.Time) any {
		if t == nil {
			return nil
		}
		return t.UTC().Format(time.RFC3339)
	}
	s.auditChanges(guild, moderator, discordgo.AuditLogActionMemberUpdate, user, reason, nil,
		change{key: string(discordgo.AuditLogChangeKeyCommunicationDisabledUntil), old: stamp(old), new: stamp(until)})
}

// UnbanBy lifts a ban as a moderator does: GUILD_BAN_REMOVE, then the
// MEMBER_BAN_REMOVE audit entry naming them.
func (s *Server) UnbanBy(guild, moderator string, u *discordgo.User, reason string) {
	s.Dispatch("GUILD_BAN_REMOVE", map[string]any{"guild_id": guild, "user": u})
	s.AuditEntry(guild, moderator, discordgo.AuditLogActionMemberBanRemove, u.ID, reason, nil)
}

// DeleteBy deletes a member's message as a moderator does: MESSAGE_DELETE,
// then the MESSAGE_DELETE audit entry, whose target is the author and
// whose options name the channel.
func (s *Server) DeleteBy(m *discordgo.Message, moderator, reason string) {
	s.Delete(m)
	s.AuditEntry(m.GuildID, moderator, discordgo.AuditLogActionMessageDelete, m.Author.ID, reason,
		&discordgo.AuditLogOptions{ChannelID: m.ChannelID, Count: "1"})
}

// BulkDeleteBy deletes messages of one channel at once as a moderator (or
// a purge command) does: MESSAGE_DELETE_BULK, then the MESSAGE_BULK_DELETE
// audit entry, whose target is the channel and whose options count the
// messages.
func (s *Server) BulkDeleteBy(guild, moderator, channel string, ids []string, reason string) {
	s.Dispatch("MESSAGE_DELETE_BULK", map[string]any{"ids": ids, "channel_id": channel, "guild_id": guild})
	s.AuditEntry(guild, moderator, discordgo.AuditLogActionMessageBulkDelete, channel, reason,
		&discordgo.AuditLogOptions{Count: strconv.Itoa(len(ids))})
}

// CreateChannelBy creates a channel as a moderator does: CHANNEL_CREATE,
// then the CHANNEL_CREATE audit entry. It returns the channel, with a new
// id.
func (s *Server) CreateChannelBy(guild, moderator, name string, typ discordgo.ChannelType, parent string) *discordgo.Channel {
	c := &discordgo.Channel{ID: s.Snowflake(), GuildID: guild, Name: name, Type: typ, ParentID: parent,
		PermissionOverwrites: []*discordgo.PermissionOverwrite{}}
	s.mu.Lock()
	if g := s.guilds[guild]; g != nil {
		g.Channels = append(g.Channels, c)
	}
	s.mu.Unlock()
	s.Dispatch("CHANNEL_CREATE", c)
	s.auditChanges(guild, moderator, discordgo.AuditLogActionChannelCreate, c.ID, "", nil,
		change{key: string(discordgo.AuditLogChangeKeyName), new: name},
		change{key: string(discordgo.AuditLogChangeKeyType), new: int(typ)})
	return c
}

// DeleteChannelBy deletes a channel as a moderator does: CHANNEL_DELETE
// (the whole channel object), then the CHANNEL_DELETE audit entry.
func (s *Server) DeleteChannelBy(c *discordgo.Channel, moderator, reason string) {
	s.mu.Lock()
	if g := s.guilds[c.GuildID]; g != nil {
		g.Channels = slices.DeleteFunc(g.Channels, func(x *discordgo.Channel) bool { return x.ID == c.ID })
	}
	s.mu.Unlock()
	s.Dispatch("CHANNEL_DELETE", c)
	s.auditChanges(c.GuildID, moderator, discordgo.AuditLogActionChannelDelete, c.ID, reason, nil,
		change{key: string(discordgo.AuditLogChangeKeyName), old: c.Name},
		change{key: string(discordgo.AuditLogChangeKeyType), old: int(c.Type)})
}

// CreateThread starts a public thread in a channel as a member does:
// THREAD_CREATE with newly_created and the owner's id (Discord writes no
// audit entry a bot needs for it). It returns the thread.
func (s *Server) CreateThread(guild, parent, owner, name string) *discordgo.Channel {
	th := &discordgo.Channel{ID: s.Snowflake(), GuildID: guild, Name: name, Type: discordgo.ChannelTypeGuildPublicThread,
		ParentID: parent, OwnerID: owner, MemberCount: 1, MessageCount: 0,
		ThreadMetadata: &discordgo.ThreadMetadata{AutoArchiveDuration: 1440, ArchiveTimestamp: time.Now().UTC()}}
	s.Dispatch("THREAD_CREATE", struct {
		*discordgo.Channel
		NewlyCreated bool `json:"newly_created"`
	}{th, true})
	return th
}

// DeleteThreadBy deletes a thread as a moderator does: THREAD_DELETE,
// which carries only the id, guild_id, parent_id and type, then the
// THREAD_DELETE audit entry.
func (s *Server) DeleteThreadBy(th *discordgo.Channel, moderator, reason string) {
	s.Dispatch("THREAD_DELETE", map[string]any{"id": th.ID, "guild_id": th.GuildID, "parent_id": th.ParentID, "type": th.Type})
	s.auditChanges(th.GuildID, moderator, discordgo.AuditLogActionThreadDelete, th.ID, reason, nil,
		change{key: string(discordgo.AuditLogChangeKeyName), old: th.Name})
}

// UpdateGuildBy changes a guild's settings as a moderator does: fn edits
// the guild, GUILD_UPDATE carries it (without members and channels, as
// Discord sends it), then the GUILD_UPDATE audit entry names the
// moderator.
func (s *Server) UpdateGuildBy(guild, moderator, reason string, fn func(g *discordgo.Guild)) {
	s.mu.Lock()
	g := s.guilds[guild]
	if g == nil {
		s.mu.Unlock()
		return
	}
	old := *g
	fn(g)
	cp := *g
	s.mu.Unlock()
	cp.Members, cp.Channels, cp.Threads = nil, nil, nil
	raw, _ := json.Marshal(&cp)
	s.Dispatch("GUILD_UPDATE", json.RawMessage(raw))
	var changes []change
	if old.Name != cp.Name {
		changes = append(changes, change{key: string(discordgo.AuditLogChangeKeyName), old: old.Name, new: cp.Name})
	}
	if old.VerificationLevel != cp.VerificationLevel {
		changes = append(changes, change{key: string(discordgo.AuditLogChangeKeyVerificationLevel),
			old: int(old.VerificationLevel), new: int(cp.VerificationLevel)})
	}
	if old.MfaLevel != cp.MfaLevel {
		changes = append(changes, change{key: "mfa_level", old: int(old.MfaLevel), new: int(cp.MfaLevel)})
	}
	s.auditChanges(guild, moderator, discordgo.AuditLogActionGuildUpdate, guild, reason, nil, changes...)
}

// CreateInvite creates an invite to a channel as inviter does:
// INVITE_CREATE (the inviter, max_age in seconds, max_uses). It returns
// the invite's code.
func (s *Server) CreateInvite(guild, channel string, inviter *discordgo.User, maxAge, maxUses int) string {
	code := "inv" + strconv.FormatUint(s.nextID.Add(1), 36)
	s.AddInvite(guild, code)
	s.Dispatch("INVITE_CREATE", map[string]any{"channel_id": channel, "guild_id": guild, "code": code,
		"created_at": time.Now().UTC().Format(time.RFC3339), "inviter": inviter, "max_age": maxAge,
		"max_uses": maxUses, "temporary": false, "uses": 0})
	return code
}

// DeleteInviteBy revokes an invite as a moderator does: INVITE_DELETE,
// then the INVITE_DELETE audit entry, which has no target and names the
// code among its changes.
func (s *Server) DeleteInviteBy(guild, channel, code, moderator, reason string) {
	x := s.extras()
	x.mu.Lock()
	x.invites[guild] = slices.DeleteFunc(x.invites[guild], func(c string) bool { return c == code })
	x.mu.Unlock()
	s.Dispatch("INVITE_DELETE", map[string]any{"channel_id": channel, "guild_id": guild, "code": code})
	s.auditChanges(guild, moderator, discordgo.AuditLogActionInviteDelete, "", reason, nil,
		change{key: string(discordgo.AuditLogChangeKeyCode), old: code},
		change{key: string(discordgo.AuditLogChangeKeyChannelID), old: channel})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
