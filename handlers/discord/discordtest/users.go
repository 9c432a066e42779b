package discordtest

import (
	"encoding/json"
	"time"

	"github.com/bwmarrin/discordgo"
)

// AddGuild adds a guild (with its channels, roles and members) before or
// after the bot connects; connected sessions get a GUILD_CREATE.
func (s *Server) AddGuild(g *discordgo.Guild) {
	for _, m := range g.Members {
		m.GuildID = g.ID
	}
	s.mu.Lock()
	s.guilds[g.ID] = g
	raw := s.guildCreateLocked(g)
	s.mu.Unlock()
	s.Dispatch("GUILD_CREATE", json.RawMessage(raw))
}

// Join adds a member and dispatches GUILD_MEMBER_ADD.
func (s *Server) Join(guild string, u *discordgo.User) *discordgo.Member {
	m := &discordgo.Member{GuildID: guild, User: u, JoinedAt: time.Now().UTC(), Roles: []string{}}
	s.mu.Lock()
	s.guilds[guild].Members = append(s.guilds[guild].Members, m)
	raw, _ := json.Marshal(m)
	s.mu.Unlock()
	s.Dispatch("GUILD_MEMBER_ADD", json.RawMessage(raw))
	return m
}

// Leave removes a member as if they left (no audit entry).
func (s *Server) Leave(guild, user string) {
	m := s.member(guild, user)
	s.removeMember(guild, user)
	if m != nil {
		s.Dispatch("GUILD_MEMBER_REMOVE", map[string]any{"guild_id": guild, "user": m.User})
	}
}

// KickBy removes a member as a moderator does: the removal, then the
// audit-log entry naming the moderator.
func (s *Server) KickBy(guild, moderator, user, reason string) {
	s.Leave(guild, user)
	s.AuditEntry(guild, moderator, discordgo.AuditLogActionMemberKick, user, reason, nil)
}

// Rename changes a member's nickname as they would themselves.
func (s *Server) Rename(guild, user, nick string) {
	s.mu.Lock()
	m := s.findMemberLocked(guild, user)
	m.Nick = nick
	cp := *m
	s.mu.Unlock()
	s.Dispatch("GUILD_MEMBER_UPDATE", &cp)
}

// Say posts a message as a member and returns it.
func (s *Server) Say(guild, channel string, u *discordgo.User, content string) *discordgo.Message {
	m := &discordgo.Message{ID: s.Snowflake(), ChannelID: channel, GuildID: guild, Author: u,
		Content: content, Timestamp: time.Now(), Member: &discordgo.Member{Roles: []string{}, JoinedAt: time.Now()}}
	if mem := s.member(guild, u.ID); mem != nil {
		m.Member.Nick, m.Member.Roles = mem.Nick, mem.Roles
	}
	m.Mentions = s.mentions(guild, content)
	s.Dispatch("MESSAGE_CREATE", m)
	return m
}

// Edit edits a message as its author.
func (s *Server) Edit(m *discordgo.Message, content string) {
	now := time.Now()
	cp := *m
	cp.Content, cp.EditedTimestamp = content, &now
	cp.Mentions = s.mentions(m.GuildID, content)
	s.Dispatch("MESSAGE_UPDATE", &cp)
}

// Delete deletes a message as its author does (no audit entry).
func (s *Server) Delete(m *discordgo.Message) {
	s.Dispatch("MESSAGE_DELETE", map[string]any{"id": m.ID, "channel_id": m.ChannelID, "guild_id": m.GuildID})
}

// AuditEntry stores an audit-log entry and dispatches
// GUILD_AUDIT_LOG_ENTRY_CREATE.
func (s *Server) AuditEntry(guild, actor string, action discordgo.AuditLogAction, target, reason string, opts *discordgo.AuditLogOptions) {
	a := action
	e := &discordgo.AuditLogEntry{ID: s.Snowflake(), UserID: actor, ActionType: &a, TargetID: target, Reason: reason, Options: opts}
	s.mu.Lock()
	s.auditLogs[guild] = append(s.auditLogs[guild], e)
	s.mu.Unlock()
	s.Dispatch("GUILD_AUDIT_LOG_ENTRY_CREATE", struct {
		*discordgo.AuditLogEntry
		GuildID string `json:"guild_id"`
	}{e, guild})
}

// BanBy bans a member as a moderator does: the removal, the ban and the
// audit-log entry naming the moderator.
func (s *Server) BanBy(guild, moderator, user, reason string) {
	m := s.member(guild, user)
	u := &discordgo.User{ID: user, Username: "user" + user}
	if m != nil {
		u = m.User
		s.removeMember(guild, user)
		s.Dispatch("GUILD_MEMBER_REMOVE", map[string]any{"guild_id": guild, "user": u})
	}
	s.Dispatch("GUILD_BAN_ADD", map[string]any{"guild_id": guild, "user": u})
	s.AuditEntry(guild, moderator, discordgo.AuditLogActionMemberBanAdd, user, reason, nil)
}

// JoinWithNotice adds a member as Join does, then posts Discord's join
// notice in the guild's system channel: a MESSAGE_CREATE of type 7
// (USER_JOIN) whose author is the member and whose content is empty.
func (s *Server) JoinWithNotice(guild, channel string, u *discordgo.User) *discordgo.Member {
	m := s.Join(guild, u)
	s.Dispatch("MESSAGE_CREATE", map[string]any{"id": s.Snowflake(), "type": int(discordgo.MessageTypeGuildMemberJoin),
		"channel_id": channel, "guild_id": guild, "author": u, "content": "", "timestamp": time.Now().UTC().Format(time.RFC3339),
		"member":      map[string]any{"roles": []string{}, "joined_at": m.JoinedAt.Format(time.RFC3339)},
		"attachments": []any{}, "embeds": []any{}, "mentions": []any{}, "pinned": false, "tts": false})
	return m
}

// SystemMessage posts a system message of a type as Discord does (a
// boost, a raid-protection notice...): author, empty content.
func (s *Server) SystemMessage(guild, channel string, author *discordgo.User, typ int, content string) {
	s.Dispatch("MESSAGE_CREATE", map[string]any{"id": s.Snowflake(), "type": typ, "channel_id": channel, "guild_id": guild,
		"author": author, "content": content, "timestamp": time.Now().UTC().Format(time.RFC3339),
		"member": map[string]any{"roles": []string{}}, "attachments": []any{}, "embeds": []any{}, "mentions": []any{}})
}
