package discordtest

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/bwmarrin/discordgo"
)

// The audit log over REST and the orders Discord sends a moderator's
// action in.

// auditLog answers GET /guilds/{id}/audit-logs as Discord documents it:
// the filters user_id, action_type, before and after, limit 1-100
// (default 50); with after the entries come oldest first, else newest
// first.
func (s *Server) auditLog(w http.ResponseWriter, guild string, q url.Values) {
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeErr(w, http.StatusBadRequest, 50035, "Invalid Form Body: limit must be between 1 and 100")
			return
		}
		limit = n
	}
	var action int
	if v := q.Get("action_type"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeErr(w, http.StatusBadRequest, 50035, "Invalid Form Body: action_type is not an integer")
			return
		}
		action = n
	}
	id := func(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }
	before, after := id(q.Get("before")), id(q.Get("after"))
	s.mu.Lock()
	var out []*discordgo.AuditLogEntry
	for _, e := range s.auditLogs[guild] {
		switch {
		case q.Get("user_id") != "" && e.UserID != q.Get("user_id"),
			action != 0 && (e.ActionType == nil || int(*e.ActionType) != action),
			before != 0 && id(e.ID) >= before,
			after != 0 && id(e.ID) <= after:
			continue
		}
		out = append(out, e)
	}
	s.mu.Unlock()
	asc := q.Get("after") != "" && q.Get("before") == ""
	sort.Slice(out, func(i, j int) bool {
		if asc {
			return id(out[i].ID) < id(out[j].ID)
		}
		return id(out[i].ID) > id(out[j].ID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	if out == nil {
		out = []*discordgo.AuditLogEntry{}
	}
	writeJSON(w, map[string]any{"audit_log_entries": out, "users": []any{}, "webhooks": []any{},
		"integrations": []any{}, "threads": []any{}, "guild_scheduled_events": []any{},
		"auto_moderation_rules": []any{}, "application_commands": []any{}})
}

// storeEntry keeps an audit-log entry for the REST route without
// dispatching it, as when GUILD_AUDIT_LOG_ENTRY_CREATE is late or lost.
func (s *Server) storeEntry(guild, actor string, action discordgo.AuditLogAction, target, reason string, opts *discordgo.AuditLogOptions) *discordgo.AuditLogEntry {
	a := action
	e := &discordgo.AuditLogEntry{ID: s.Snowflake(), UserID: actor, ActionType: &a, TargetID: target, Reason: reason, Options: opts}
	s.mu.Lock()
	s.auditLogs[guild] = append(s.auditLogs[guild], e)
	s.mu.Unlock()
	return e
}

// dispatchEntry sends a stored entry as GUILD_AUDIT_LOG_ENTRY_CREATE.
func (s *Server) dispatchEntry(guild string, e *discordgo.AuditLogEntry) {
	s.Dispatch("GUILD_AUDIT_LOG_ENTRY_CREATE", struct {
		*discordgo.AuditLogEntry
		GuildID string `json:"guild_id"`
	}{e, guild})
}

// BanInOrder bans a member as a moderator does, sending the three
// dispatches of a ban in the order given as a permutation of "RBE":
// R the GUILD_MEMBER_REMOVE, B the GUILD_BAN_ADD, E the MEMBER_BAN_ADD
// GUILD_AUDIT_LOG_ENTRY_CREATE. Discord documents no order among them.
func (s *Server) BanInOrder(guild, moderator, user, reason, order string) {
	m := s.member(guild, user)
	u := &discordgo.User{ID: user, Username: "user" + user}
	if m != nil {
		u = m.User
		s.removeMember(guild, user)
	}
	e := s.storeEntry(guild, moderator, discordgo.AuditLogActionMemberBanAdd, user, reason, nil)
	for _, step := range order {
		switch step {
		case 'R':
			s.Dispatch("GUILD_MEMBER_REMOVE", map[string]any{"guild_id": guild, "user": u})
		case 'B':
			s.Dispatch("GUILD_BAN_ADD", map[string]any{"guild_id": guild, "user": u})
		case 'E':
			s.dispatchEntry(guild, e)
		}
	}
}

// KickLate kicks a member as a moderator does, but the MEMBER_KICK entry
// reaches only the audit log, not the gateway: the bot learns the
// moderator only by reading GET /guilds/{id}/audit-logs.
func (s *Server) KickLate(guild, moderator, user, reason string) {
	s.storeEntry(guild, moderator, discordgo.AuditLogActionMemberKick, user, reason, nil)
	s.Leave(guild, user)
}

// PruneBy prunes members as a moderator does: a GUILD_MEMBER_REMOVE for
// each, then one MEMBER_PRUNE entry (no target; options say the days and
// how many were removed).
func (s *Server) PruneBy(guild, moderator string, days int, users ...string) {
	for _, u := range users {
		s.Leave(guild, u)
	}
	e := s.storeEntry(guild, moderator, discordgo.AuditLogActionMemberPrune, "", "", &discordgo.AuditLogOptions{
		DeleteMemberDays: strconv.Itoa(days), MembersRemoved: strconv.Itoa(len(users))})
	s.dispatchEntry(guild, e)
}

// AuditEntries returns the guild's stored audit-log entries, oldest first.
func (s *Server) AuditEntries(guild string) []*discordgo.AuditLogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*discordgo.AuditLogEntry(nil), s.auditLogs[guild]...)
}
