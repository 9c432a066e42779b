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

// UpdateChannelBy edits a channel as a moderator does: fn changes it
// (its fields and its permission overwrites), CHANNEL_UPDATE carries the
// whole channel, then the CHANNEL_UPDATE entry names the changed fields
// and one CHANNEL_OVERWRITE_CREATE/_UPDATE/_DELETE entry each overwrite
// (target the channel; options id, type, role_name).
func (s *Server) UpdateChannelBy(guild, channel, moderator, reason string, fn func(c *discordgo.Channel)) {
	s.mu.Lock()
	var old, now discordgo.Channel
	found := false
	if g := s.guilds[guild]; g != nil {
		for _, c := range g.Channels {
			if c.ID == channel {
				old = *c
				old.PermissionOverwrites = clonePOs(c.PermissionOverwrites)
				fn(c)
				if c.PermissionOverwrites == nil {
					c.PermissionOverwrites = []*discordgo.PermissionOverwrite{}
				}
				now, found = *c, true
				now.PermissionOverwrites = clonePOs(c.PermissionOverwrites)
			}
		}
	}
	roleNames := map[string]string{}
	if g := s.guilds[guild]; g != nil {
		for _, r := range g.Roles {
			roleNames[r.ID] = r.Name
		}
	}
	s.mu.Unlock()
	if !found {
		return
	}
	s.Dispatch("CHANNEL_UPDATE", &now)
	var changes []change
	add := func(key string, o, n any) {
		if o != n {
			changes = append(changes, change{key: key, old: o, new: n})
		}
	}
	add("name", old.Name, now.Name)
	add("topic", old.Topic, now.Topic)
	add("nsfw", old.NSFW, now.NSFW)
	add("rate_limit_per_user", old.RateLimitPerUser, now.RateLimitPerUser)
	if len(changes) > 0 {
		s.auditChanges(guild, moderator, discordgo.AuditLogActionChannelUpdate, channel, reason, nil, changes...)
	}
	byID := func(list []*discordgo.PermissionOverwrite) map[string]*discordgo.PermissionOverwrite {
		m := map[string]*discordgo.PermissionOverwrite{}
		for _, o := range list {
			m[o.ID] = o
		}
		return m
	}
	before, after := byID(old.PermissionOverwrites), byID(now.PermissionOverwrites)
	entry := func(action discordgo.AuditLogAction, o *discordgo.PermissionOverwrite, changes ...change) {
		typ := discordgo.AuditLogOptionsTypeRole
		opts := &discordgo.AuditLogOptions{ID: o.ID, Type: &typ, RoleName: roleNames[o.ID]}
		if o.Type == discordgo.PermissionOverwriteTypeMember {
			t := discordgo.AuditLogOptionsTypeMember
			opts.Type, opts.RoleName = &t, ""
		}
		s.auditChanges(guild, moderator, action, channel, reason, opts, changes...)
	}
	for id, n := range after {
		o := before[id]
		switch {
		case o == nil:
			entry(discordgo.AuditLogActionChannelOverwriteCreate, n, change{key: "id", new: n.ID}, change{key: "type", new: int(n.Type)},
				change{key: "allow", new: perms(n.Allow)}, change{key: "deny", new: perms(n.Deny)})
		case o.Allow != n.Allow || o.Deny != n.Deny:
			entry(discordgo.AuditLogActionChannelOverwriteUpdate, n, change{key: "allow", old: perms(o.Allow), new: perms(n.Allow)},
				change{key: "deny", old: perms(o.Deny), new: perms(n.Deny)})
		}
	}
	for id, o := range before {
		if after[id] == nil {
			entry(discordgo.AuditLogActionChannelOverwriteDelete, o, change{key: "id", old: o.ID}, change{key: "type", old: int(o.Type)},
				change{key: "allow", old: perms(o.Allow)}, change{key: "deny", old: perms(o.Deny)})
		}
	}
}

func clonePOs(list []*discordgo.PermissionOverwrite) []*discordgo.PermissionOverwrite {
	out := make([]*discordgo.PermissionOverwrite, 0, len(list))
	for _, o := range list {
		cp := *o
		out = append(out, &cp)
	}
	return out
}

// UpdateThreadBy archives, locks or renames a thread as a moderator
// does: THREAD_UPDATE with the thread (and its thread_metadata), then
// the THREAD_UPDATE entry.
func (s *Server) UpdateThreadBy(th *discordgo.Channel, moderator, reason string, fn func(th *discordgo.Channel)) {
	old := *th
	if th.ThreadMetadata != nil {
		m := *th.ThreadMetadata
		old.ThreadMetadata = &m
	}
	fn(th)
	s.Dispatch("THREAD_UPDATE", th)
	var changes []change
	if old.Name != th.Name {
		changes = append(changes, change{key: "name", old: old.Name, new: th.Name})
	}
	if o, n := old.ThreadMetadata, th.ThreadMetadata; o != nil && n != nil {
		if o.Archived != n.Archived {
			changes = append(changes, change{key: "archived", old: o.Archived, new: n.Archived})
		}
		if o.Locked != n.Locked {
			changes = append(changes, change{key: "locked", old: o.Locked, new: n.Locked})
		}
	}
	s.auditChanges(th.GuildID, moderator, discordgo.AuditLogActionThreadUpdate, th.ID, reason, nil, changes...)
}

// AuditOnly stores an audit-log entry with changes and dispatches it, for
// what the gateway reports without an author (webhooks, integrations,
// emojis, stickers, pins, scheduled events): pairs are key, old, new.
func (s *Server) AuditOnly(guild, moderator string, action discordgo.AuditLogAction, target, reason string,
	opts *discordgo.AuditLogOptions, pairs ...any) {
	var changes []change
	for i := 0; i+2 < len(pairs); i += 3 {
		key, _ := pairs[i].(string)
		changes = append(changes, change{key: key, old: pairs[i+1], new: pairs[i+2]})
	}
	s.auditChanges(guild, moderator, action, target, reason, opts, changes...)
}
