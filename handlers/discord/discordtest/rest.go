package discordtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
)

// rest serves the REST routes; path is after /api/v{N}.
func (s *Server) rest(w http.ResponseWriter, r *http.Request, path string) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	reason, err := auditReason(r.Header.Get("X-Audit-Log-Reason"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, 50035, "Invalid Form Body: X-Audit-Log-Reason: "+err.Error())
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: r.Method, Path: path, Reason: reason, Query: r.URL.Query(), Body: body})
	var delay time.Duration
	for prefix, d := range s.delays {
		if strings.HasPrefix(path, prefix) {
			delay = max(delay, d)
		}
	}
	if delay > 0 {
		s.mu.Unlock()
		time.Sleep(delay)
		s.mu.Lock()
	}
	if s.injected429(w, path) {
		s.mu.Unlock()
		return
	}
	for prefix, n := range s.fail {
		if n > 0 && strings.HasPrefix(path, prefix) {
			s.fail[prefix] = n - 1
			s.mu.Unlock()
			writeErr(w, http.StatusBadGateway, 0, "502: Bad Gateway")
			return
		}
	}
	s.mu.Unlock()
	if s.oauthRoute(w, r, path, body) {
		return
	}
	if token, _ := s.credentials(); r.Header.Get("Authorization") != "Bot "+token {
		writeErr(w, http.StatusUnauthorized, 0, "401: Unauthorized")
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	route := r.Method + " " + pattern(parts)
	switch route {
	case "GET gateway", "GET gateway/bot":
		writeJSON(w, map[string]any{"url": "ws" + strings.TrimPrefix(s.URL, "http") + "/gateway", "shards": 1,
			"session_start_limit": map[string]int{"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": s.opts.MaxConcurrency}})
	case "GET users/@me":
		writeJSON(w, s.botUser())
	case "GET oauth2/applications/@me", "GET applications/@me":
		_, flags := s.credentials()
		writeJSON(w, map[string]any{"id": s.opts.AppID, "name": s.opts.BotName, "flags": flags,
			"bot": s.botUser()})
	case "DELETE channels/:/messages/:":
		s.deleteMessage(w, parts[1], parts[3], reason)
	case "POST channels/:/messages":
		if s.take(w, "messages:"+parts[1]) {
			s.postMessage(w, parts[1], body)
		}
	case "GET guilds/:/members/:":
		s.mu.Lock()
		var cp *discordgo.Member
		if m := s.findMemberLocked(parts[1], parts[3]); m != nil {
			c := *m
			c.Roles = append([]string{}, m.Roles...)
			cp = &c
		}
		s.mu.Unlock()
		if cp == nil {
			writeErr(w, http.StatusNotFound, 10007, "Unknown Member")
			return
		}
		writeJSON(w, cp)
	case "DELETE guilds/:/members/:":
		s.kick(w, parts[1], parts[3], reason)
	case "PATCH guilds/:/members/:":
		s.patchMember(w, parts[1], parts[3], body, reason)
	case "PUT guilds/:/bans/:":
		s.ban(w, parts[1], parts[3], reason, true)
	case "DELETE guilds/:/bans/:":
		s.ban(w, parts[1], parts[3], reason, false)
	case "PUT guilds/:/members/:/roles/:", "DELETE guilds/:/members/:/roles/:":
		s.role(w, parts[1], parts[3], parts[5], r.Method == "PUT", reason)
	case "PUT applications/:/commands", "PUT applications/:/guilds/:/commands":
		scope := ""
		if len(parts) == 5 {
			scope = parts[3]
		}
		var cmds []map[string]any
		if json.Unmarshal(body, &cmds) != nil {
			writeErr(w, http.StatusBadRequest, 50035, "Invalid Form Body")
			return
		}
		var saved []json.RawMessage
		for _, c := range cmds {
			c["id"], c["application_id"], c["version"] = s.Snowflake(), s.opts.AppID, s.Snowflake()
			raw, _ := json.Marshal(c)
			saved = append(saved, raw)
		}
		s.mu.Lock()
		s.commands[scope] = saved
		s.mu.Unlock()
		writeJSON(w, saved)
	case "POST interactions/:/:/callback":
		s.addReply(parts[2], Reply{Kind: "callback", Body: body})
		writeJSON(w, nil)
	case "PATCH webhooks/:/:/messages/@original":
		rep := Reply{Kind: "edit", Body: body}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			rep = multipartReply(r, body)
		}
		s.addReply(parts[2], rep)
		writeJSON(w, map[string]any{"id": s.Snowflake(), "channel_id": "0", "content": ""})
	case "GET guilds/:/auto-moderation/rules":
		// Discord answers 403 without Manage Server; the fake serves any.
		writeJSON(w, s.automodRulesOf(parts[1]))
	case "GET guilds/:/audit-logs":
		s.auditLog(w, parts[1], r.URL.Query())
	default:
		if !s.extraRoute(w, route, parts, body, reason) && !s.reads(w, route, parts) && !s.messageReads(w, route, parts, r.URL.Query()) {
			writeErr(w, http.StatusNotFound, 0, "404: Not Found")
		}
	}
}

func (s *Server) addReply(token string, r Reply) {
	s.mu.Lock()
	s.replies[token] = append(s.replies[token], r)
	s.mu.Unlock()
}

// multipartReply reads a multipart edit: payload_json and one file.
func multipartReply(r *http.Request, body []byte) Reply {
	rep := Reply{Kind: "edit"}
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return rep
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return rep
		}
		data, _ := io.ReadAll(part)
		if part.FormName() == "payload_json" {
			rep.Body = data
		} else {
			rep.File, rep.Data = part.FileName(), data
		}
	}
}

// pattern replaces ids in a path with ":".
func pattern(parts []string) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		if p != "" && (p[0] >= '0' && p[0] <= '9' || len(p) > 30) { // ids and interaction tokens
			p = ":"
		}
		out[i] = p
	}
	return strings.Join(out, "/")
}

func (s *Server) guild(id string) *discordgo.Guild {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.guilds[id]
}

func (s *Server) member(guild, user string) *discordgo.Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.guilds[guild]
	if g == nil {
		return nil
	}
	for _, m := range g.Members {
		if m.User.ID == user {
			return m
		}
	}
	return nil
}

func (s *Server) deleteMessage(w http.ResponseWriter, channel, id, reason string) {
	g := s.guildOfChannel(channel)
	if g == "" {
		writeErr(w, http.StatusNotFound, 10003, "Unknown Channel")
		return
	}
	writeJSON(w, nil)
	s.Dispatch("MESSAGE_DELETE", map[string]any{"id": id, "channel_id": channel, "guild_id": g})
}

func (s *Server) postMessage(w http.ResponseWriter, channel string, body []byte) {
	g := s.guildOfChannel(channel)
	if g == "" {
		writeErr(w, http.StatusNotFound, 10003, "Unknown Channel")
		return
	}
	s.mu.Lock()
	denied := s.denied[channel]
	s.mu.Unlock()
	if denied {
		writeErr(w, http.StatusForbidden, 50001, "Missing Access")
		return
	}
	var m discordgo.Message
	if json.Unmarshal(body, &m) != nil {
		writeErr(w, http.StatusBadRequest, 50035, "Invalid Form Body")
		return
	}
	m.ID, m.ChannelID, m.GuildID, m.Author, m.Timestamp = s.Snowflake(), channel, g, s.botUser(), time.Now()
	s.mu.Lock()
	s.posts[channel] = append(s.posts[channel], body)
	s.postIDs[channel] = append(s.postIDs[channel], m.ID)
	s.mu.Unlock()
	writeJSON(w, &m)
	s.Dispatch("MESSAGE_CREATE", &m)
}

func (s *Server) guildOfChannel(channel string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.guilds {
		for _, c := range g.Channels {
			if c.ID == channel {
				return g.ID
			}
		}
	}
	return ""
}

func (s *Server) kick(w http.ResponseWriter, guild, user, reason string) {
	m := s.member(guild, user)
	if m == nil {
		writeErr(w, http.StatusNotFound, 10007, "Unknown Member")
		return
	}
	s.removeMember(guild, user)
	writeJSON(w, nil)
	s.Dispatch("GUILD_MEMBER_REMOVE", map[string]any{"guild_id": guild, "user": m.User})
	s.AuditEntry(guild, s.opts.AppID, discordgo.AuditLogActionMemberKick, user, reason, nil)
}

func (s *Server) ban(w http.ResponseWriter, guild, user, reason string, add bool) {
	m := s.member(guild, user)
	u := &discordgo.User{ID: user, Username: "user" + user}
	if m != nil {
		u = m.User
	}
	writeJSON(w, nil)
	if add {
		if m != nil {
			s.removeMember(guild, user)
			s.Dispatch("GUILD_MEMBER_REMOVE", map[string]any{"guild_id": guild, "user": u})
		}
		s.Dispatch("GUILD_BAN_ADD", map[string]any{"guild_id": guild, "user": u})
		s.AuditEntry(guild, s.opts.AppID, discordgo.AuditLogActionMemberBanAdd, user, reason, nil)
		return
	}
	s.Dispatch("GUILD_BAN_REMOVE", map[string]any{"guild_id": guild, "user": u})
	s.AuditEntry(guild, s.opts.AppID, discordgo.AuditLogActionMemberBanRemove, user, reason, nil)
}

func (s *Server) patchMember(w http.ResponseWriter, guild, user string, body []byte, reason string) {
	var patch struct {
		Nick  *string    `json:"nick"`
		Until *time.Time `json:"communication_disabled_until"`
	}
	raw := map[string]json.RawMessage{}
	if json.Unmarshal(body, &patch) != nil || json.Unmarshal(body, &raw) != nil {
		writeErr(w, http.StatusBadRequest, 50035, "Invalid Form Body")
		return
	}
	s.mu.Lock()
	m := s.findMemberLocked(guild, user)
	if m == nil {
		s.mu.Unlock()
		writeErr(w, http.StatusNotFound, 10007, "Unknown Member")
		return
	}
	if patch.Nick != nil {
		m.Nick = *patch.Nick
	}
	if _, ok := raw["communication_disabled_until"]; ok {
		m.CommunicationDisabledUntil = patch.Until
	}
	cp := *m
	s.mu.Unlock()
	writeJSON(w, &cp)
	s.Dispatch("GUILD_MEMBER_UPDATE", &cp)
	s.AuditEntry(guild, s.opts.AppID, discordgo.AuditLogActionMemberUpdate, user, reason, nil)
}

func (s *Server) role(w http.ResponseWriter, guild, user, role string, add bool, reason string) {
	s.mu.Lock()
	m := s.findMemberLocked(guild, user)
	if m == nil {
		s.mu.Unlock()
		writeErr(w, http.StatusNotFound, 10007, "Unknown Member")
		return
	}
	roles := m.Roles[:0:0]
	for _, r := range m.Roles {
		if r != role {
			roles = append(roles, r)
		}
	}
	if add {
		roles = append(roles, role)
	}
	m.Roles = roles
	cp := *m
	s.mu.Unlock()
	writeJSON(w, nil)
	s.Dispatch("GUILD_MEMBER_UPDATE", &cp)
	s.AuditEntry(guild, s.opts.AppID, discordgo.AuditLogActionMemberRoleUpdate, user, reason, nil)
}

func (s *Server) findMemberLocked(guild, user string) *discordgo.Member {
	if g := s.guilds[guild]; g != nil {
		for _, m := range g.Members {
			if m.User.ID == user {
				return m
			}
		}
	}
	return nil
}

func (s *Server) removeMember(guild, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.guilds[guild]
	for i, m := range g.Members {
		if m.User.ID == user {
			g.Members = append(g.Members[:i], g.Members[i+1:]...)
			return
		}
	}
}

// auditReason decodes an X-Audit-Log-Reason header the way Discord reads
// it: URL-encoded UTF-8 of at most 512 characters. Raw bytes outside
// printable ASCII are refused, so a bot that forgets to encode fails here
// as its reasons would be garbled on Discord.
func auditReason(h string) (string, error) {
	for i := 0; i < len(h); i++ {
		if h[i] < 0x20 || h[i] >= 0x7f {
			return "", fmt.Errorf("byte %#x at %d is not URL-encoded", h[i], i)
		}
	}
	r, err := url.PathUnescape(h)
	if err != nil {
		return "", err
	}
	if !utf8.ValidString(r) {
		return "", errors.New("not UTF-8")
	}
	if n := utf8.RuneCountInString(r); n > 512 {
		return "", fmt.Errorf("%d characters, over 512", n)
	}
	return r, nil
}
