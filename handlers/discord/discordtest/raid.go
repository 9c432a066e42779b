package discordtest

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// Message edits and bulk bans: what a raid's log entry and its "Ban all"
// need.

// maxBulkBan is Discord's limit on the user_ids of one bulk ban.
const maxBulkBan = 200

// extraRoute serves the routes of this file; it reports false for others.
func (s *Server) extraRoute(w http.ResponseWriter, route string, parts []string, body []byte, reason string) bool {
	switch route {
	case "PATCH channels/:/messages/:":
		s.editMessage(w, parts[1], parts[3], body)
	case "DELETE webhooks/:", "DELETE guilds/:/integrations/:":
		s.mu.Lock()
		s.deleted = append(s.deleted, strings.Join(parts, "/"))
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case "POST guilds/:/bulk-ban":
		if s.take(w, "bulk-ban:"+parts[1]) {
			s.bulkBan(w, parts[1], body, reason)
		}
	default:
		return false
	}
	return true
}

// editMessage replaces what the bot posted: the fields the edit sends
// (content, embeds, components) replace the message's, the rest stay.
func (s *Server) editMessage(w http.ResponseWriter, channel, id string, body []byte) {
	var patch map[string]json.RawMessage
	if json.Unmarshal(body, &patch) != nil {
		writeErr(w, http.StatusBadRequest, 50035, "Invalid Form Body")
		return
	}
	s.mu.Lock()
	ids := s.postIDs[channel]
	i := -1
	for j, pid := range ids {
		if pid == id {
			i = j
		}
	}
	if i < 0 {
		s.mu.Unlock()
		writeErr(w, http.StatusNotFound, 10008, "Unknown Message")
		return
	}
	var cur map[string]json.RawMessage
	_ = json.Unmarshal(s.posts[channel][i], &cur)
	if cur == nil {
		cur = map[string]json.RawMessage{}
	}
	for k, v := range patch {
		cur[k] = v
	}
	merged, _ := json.Marshal(cur)
	s.posts[channel][i] = merged
	s.edits[channel]++
	s.mu.Unlock()
	var m discordgo.Message
	_ = json.Unmarshal(merged, &m)
	m.ID, m.ChannelID, m.Author = id, channel, s.botUser()
	writeJSON(w, &m)
}

// Deleted lists the webhooks and integrations the bot deleted, as paths
// ("webhooks/ID", "guilds/G/integrations/ID").
func (s *Server) Deleted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.deleted...)
}

// Edits counts the bot's edits of its messages in a channel.
func (s *Server) Edits(channel string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.edits[channel]
}

// bulkBan bans up to 200 users in one request, as POST
// /guilds/{guild.id}/bulk-ban does: each ban is dispatched as a single
// ban's would be; users already banned are failed_users.
func (s *Server) bulkBan(w http.ResponseWriter, guild string, body []byte, reason string) {
	var req struct {
		UserIDs              []string `json:"user_ids"`
		DeleteMessageSeconds int      `json:"delete_message_seconds"`
	}
	if json.Unmarshal(body, &req) != nil || len(req.UserIDs) == 0 || len(req.UserIDs) > maxBulkBan {
		writeErr(w, http.StatusBadRequest, 50035, "Invalid Form Body: user_ids: must have between 1 and 200 items")
		return
	}
	banned, failed := []string{}, []string{}
	s.mu.Lock()
	for _, u := range req.UserIDs {
		key := guild + "/" + u
		if s.banned[key] {
			failed = append(failed, u)
			continue
		}
		s.banned[key] = true
		banned = append(banned, u)
	}
	s.bulkBans = append(s.bulkBans, append([]string(nil), req.UserIDs...))
	s.mu.Unlock()
	if len(banned) == 0 {
		writeErr(w, http.StatusInternalServerError, 500000, "Failed to ban users")
		return
	}
	writeJSON(w, map[string]any{"banned_users": banned, "failed_users": failed})
	for _, u := range banned {
		m := s.member(guild, u)
		user := &discordgo.User{ID: u, Username: "user" + u}
		if m != nil {
			user = m.User
			s.removeMember(guild, u)
			s.Dispatch("GUILD_MEMBER_REMOVE", map[string]any{"guild_id": guild, "user": user})
		}
		s.Dispatch("GUILD_BAN_ADD", map[string]any{"guild_id": guild, "user": user})
		s.AuditEntry(guild, s.opts.AppID, discordgo.AuditLogActionMemberBanAdd, u, reason, nil)
	}
}

// BulkBans returns the user_ids of every bulk ban request, in order.
func (s *Server) BulkBans() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.bulkBans...)
}

// Banned reports whether a user is banned from a guild by a bulk ban.
func (s *Server) Banned(guild, user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.banned[guild+"/"+user]
}
