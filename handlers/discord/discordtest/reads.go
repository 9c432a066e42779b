package discordtest

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/bwmarrin/discordgo"
)

// The limited privileged-intent flags: Discord sets these instead of
// FlagGuildMembers and FlagMessageContent for an unverified application
// in fewer than 100 servers whose intents are turned on.
const (
	FlagGuildMembersLimited   = 1 << 15
	FlagMessageContentLimited = 1 << 19
)

// reads serves the REST reads of guilds, roles and channels that
// `chatwarden doctor` makes, shaped as Discord's: the bot's guilds
// (GET /users/@me/guilds), a guild with its roles (GET /guilds/{id}), its
// roles (GET /guilds/{id}/roles) and a channel with its permission
// overwrites (GET /channels/{id}). It reports whether route was one.
func (s *Server) reads(w http.ResponseWriter, route string, parts []string) bool {
	switch route {
	case "GET users/@me/guilds":
		s.mu.Lock()
		var out []map[string]any
		for _, g := range s.guilds {
			out = append(out, map[string]any{"id": g.ID, "name": g.Name, "owner": g.OwnerID == s.opts.AppID,
				"permissions": strconv.FormatInt(s.permissionsLocked(g, s.opts.AppID), 10)})
		}
		s.mu.Unlock()
		slices.SortFunc(out, func(a, b map[string]any) int { return cmpID(a["id"].(string), b["id"].(string)) })
		writeJSON(w, out)
	case "GET guilds/:":
		s.mu.Lock()
		g := s.guilds[parts[1]]
		var cp map[string]any
		if g != nil {
			cp = map[string]any{"id": g.ID, "name": g.Name, "owner_id": g.OwnerID, "roles": slices.Clone(g.Roles)}
		}
		s.mu.Unlock()
		if cp == nil {
			writeErr(w, http.StatusNotFound, 10004, "Unknown Guild")
			return true
		}
		writeJSON(w, cp)
	case "GET guilds/:/roles":
		s.mu.Lock()
		g := s.guilds[parts[1]]
		var roles []*discordgo.Role
		if g != nil {
			roles = slices.Clone(g.Roles)
		}
		s.mu.Unlock()
		if g == nil {
			writeErr(w, http.StatusNotFound, 10004, "Unknown Guild")
			return true
		}
		writeJSON(w, roles)
	case "GET channels/:":
		s.mu.Lock()
		var found *discordgo.Channel
		for _, g := range s.guilds {
			for _, c := range g.Channels {
				if c.ID == parts[1] {
					cp := *c
					cp.GuildID = g.ID
					found = &cp
				}
			}
		}
		denied := s.denied[parts[1]]
		s.mu.Unlock()
		switch {
		case found == nil:
			writeErr(w, http.StatusNotFound, 10003, "Unknown Channel")
			return true
		case denied:
			writeErr(w, http.StatusForbidden, 50001, "Missing Access")
			return true
		}
		writeJSON(w, found)
	default:
		return false
	}
	return true
}

// permissionsLocked is a member's guild-wide permissions (Discord's
// base permissions): the owner has all; else @everyone and the member's
// roles, Administrator implying all.
func (s *Server) permissionsLocked(g *discordgo.Guild, user string) int64 {
	if g.OwnerID == user {
		return discordgo.PermissionAll
	}
	m := s.findMemberLocked(g.ID, user)
	var perms int64
	for _, r := range g.Roles {
		if r.ID == g.ID || (m != nil && slices.Contains(m.Roles, r.ID)) {
			perms |= r.Permissions
		}
	}
	if perms&discordgo.PermissionAdministrator != 0 {
		return discordgo.PermissionAll
	}
	return perms
}

func cmpID(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
