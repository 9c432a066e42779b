package discordtest

import (
	"slices"
	"strconv"

	"github.com/bwmarrin/discordgo"
)

// Administration as Discord reports it: roles, channels and their
// permission overwrites. Each helper changes the fake's guild, sends the
// gateway event with the payload the documentation shows, then the audit
// entry whose changes hold the old and new values of what changed.

func perms(p int64) string { return strconv.FormatInt(p, 10) }

// roleChanges are the audit changes between two roles (old nil: created;
// now nil: deleted), keys as Discord names the role's fields.
func roleChanges(old, now *discordgo.Role) []change {
	var zero discordgo.Role
	o, n := &zero, &zero
	if old != nil {
		o = old
	}
	if now != nil {
		n = now
	}
	var out []change
	add := func(key string, ov, nv any, same bool) {
		if same {
			return
		}
		c := change{key: key}
		if old != nil {
			c.old = ov
		}
		if now != nil {
			c.new = nv
		}
		out = append(out, c)
	}
	add("name", o.Name, n.Name, o.Name == n.Name && old != nil && now != nil)
	add("permissions", perms(o.Permissions), perms(n.Permissions), o.Permissions == n.Permissions && old != nil && now != nil)
	add("color", o.Color, n.Color, o.Color == n.Color)
	add("hoist", o.Hoist, n.Hoist, o.Hoist == n.Hoist)
	add("mentionable", o.Mentionable, n.Mentionable, o.Mentionable == n.Mentionable)
	return out
}

// CreateRoleBy creates a role as a moderator does: GUILD_ROLE_CREATE,
// then the ROLE_CREATE entry. The role gets a new id, which it returns.
func (s *Server) CreateRoleBy(guild, moderator string, r discordgo.Role, reason string) string {
	r.ID = s.Snowflake()
	s.mu.Lock()
	if g := s.guilds[guild]; g != nil {
		cp := r
		g.Roles = append(g.Roles, &cp)
	}
	s.mu.Unlock()
	s.Dispatch("GUILD_ROLE_CREATE", map[string]any{"guild_id": guild, "role": &r})
	s.auditChanges(guild, moderator, discordgo.AuditLogActionRoleCreate, r.ID, reason, nil, roleChanges(nil, &r)...)
	return r.ID
}

// UpdateRoleBy edits a role as a moderator does: fn changes it,
// GUILD_ROLE_UPDATE carries the whole role, the ROLE_UPDATE entry the
// changed keys with old and new values.
func (s *Server) UpdateRoleBy(guild, moderator, role, reason string, fn func(r *discordgo.Role)) {
	s.mu.Lock()
	var old, now discordgo.Role
	found := false
	if g := s.guilds[guild]; g != nil {
		for _, r := range g.Roles {
			if r.ID == role {
				old = *r
				fn(r)
				now, found = *r, true
			}
		}
	}
	s.mu.Unlock()
	if !found {
		return
	}
	s.Dispatch("GUILD_ROLE_UPDATE", map[string]any{"guild_id": guild, "role": &now})
	s.auditChanges(guild, moderator, discordgo.AuditLogActionRoleUpdate, role, reason, nil, roleChanges(&old, &now)...)
}

// DeleteRoleBy deletes a role as a moderator does: GUILD_ROLE_DELETE
// (only the ids), then the ROLE_DELETE entry with the role's old values.
func (s *Server) DeleteRoleBy(guild, moderator, role, reason string) {
	s.mu.Lock()
	var old *discordgo.Role
	if g := s.guilds[guild]; g != nil {
		for _, r := range g.Roles {
			if r.ID == role {
				cp := *r
				old = &cp
			}
		}
		g.Roles = slices.DeleteFunc(g.Roles, func(r *discordgo.Role) bool { return r.ID == role })
	}
	s.mu.Unlock()
	if old == nil {
		return
	}
	s.Dispatch("GUILD_ROLE_DELETE", map[string]any{"guild_id": guild, "role_id": role})
	s.auditChanges(guild, moderator, discordgo.AuditLogActionRoleDelete, role, reason, nil, roleChanges(old, nil)...)
}
