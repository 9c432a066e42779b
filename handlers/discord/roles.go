package discord

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
)

// Roles: ROLE_CREATE, ROLE_UPDATE and ROLE_DELETE from GUILD_ROLE_*,
// diffed against the role the bot last saw (GUILD_CREATE, then each role
// event), the moderator and reason from the ROLE_* audit entry. The
// roles are kept here, not in discordgo's state: the state replaces a
// role before the handlers run and forgets a deleted one.

const (
	auditRoleCreate = discordgo.AuditLogActionRoleCreate // 30
	auditRoleUpdate = discordgo.AuditLogActionRoleUpdate // 31
	auditRoleDelete = discordgo.AuditLogActionRoleDelete // 32
)

// roleState is what ROLE_UPDATE diffs.
type roleState struct {
	name, icon, emoji  string
	color, position    int
	hoist, mentionable bool
	perms              uint64
}

func roleOf(r *discordgo.Role) roleState {
	return roleState{name: r.Name, icon: r.Icon, emoji: r.UnicodeEmoji, color: r.Color, position: r.Position,
		hoist: r.Hoist, mentionable: r.Mentionable, perms: uint64(r.Permissions)}
}

// fields are the role's attributes as params show them, by Discord's
// field names; permissions is the decimal bit set.
func (r roleState) fields() map[string]string {
	return map[string]string{
		"name": r.name, "color": colorHex(r.color), "hoist": strconv.FormatBool(r.hoist),
		"mentionable": strconv.FormatBool(r.mentionable), "icon": r.icon, "unicode_emoji": r.emoji,
		"position": strconv.Itoa(r.position), "permissions": strconv.FormatUint(r.perms, 10),
	}
}

func colorHex(c int) string {
	if c == 0 {
		return "" // Discord's "no colour"
	}
	return fmt.Sprintf("#%06X", c&0xFFFFFF)
}

// roleCache holds each guild's roles as last seen.
type roleCache struct {
	mu sync.Mutex
	m  map[string]map[string]roleState
}

func (c *roleCache) put(guild, id string, r roleState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]map[string]roleState{}
	}
	if c.m[guild] == nil {
		c.m[guild] = map[string]roleState{}
	}
	c.m[guild][id] = r
}

func (c *roleCache) get(guild, id string) (roleState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[guild][id]
	return r, ok
}

func (c *roleCache) remove(guild, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m[guild], id)
}

// seeRoles remembers a guild's roles (GUILD_CREATE): later updates are
// diffed against them.
func (b *Bot) seeRoles(guild string, roles []*discordgo.Role) {
	for _, r := range roles {
		if r != nil && r.ID != "" {
			b.roles.put(guild, r.ID, roleOf(r))
		}
	}
}

// onRole records a role created or updated.
func (b *Bot) onRole(r *discordgo.GuildRole, created bool) {
	if r == nil || r.Role == nil || r.GuildID == "" || r.Role.ID == "" {
		return
	}
	now := roleOf(r.Role)
	old, known := b.roles.get(r.GuildID, r.Role.ID)
	b.roles.put(r.GuildID, r.Role.ID, now)
	typ, pt, action := audit.RoleUpdate, "GUILD_ROLE_UPDATE", auditRoleUpdate
	if created {
		typ, pt, action, old, known = audit.RoleCreate, "GUILD_ROLE_CREATE", auditRoleCreate, roleState{}, true
	}
	e := b.event(r.GuildID, typ, pt)
	e.Params.Set(audit.ParamName, now.name)
	e.Params.Set(audit.ParamObjectID, r.Role.ID)
	if !known {
		e.Params.Set(audit.ParamUnknownBefore, "true")
		old = roleState{}
	}
	changed := setDiff(e, old.fields(), now.fields())
	if !created && known && (len(changed) == 0 || slices.Equal(changed, []string{"position"})) {
		// Nothing visible changed, or only the position: moving one role
		// shifts every role below it, one GUILD_ROLE_UPDATE each.
		return
	}
	setPermDiff(e, old.perms, now.perms)
	b.awaitModerator(e, b.roleBy, corrKey{r.GuildID, action, r.Role.ID})
}

// onRoleDelete records a role deleted, with what the bot knew of it.
func (b *Bot) onRoleDelete(d *discordgo.GuildRoleDelete) {
	if d == nil || d.GuildID == "" || d.RoleID == "" {
		return
	}
	e := b.event(d.GuildID, audit.RoleDelete, "GUILD_ROLE_DELETE")
	e.Params.Set(audit.ParamObjectID, d.RoleID)
	if old, ok := b.roles.get(d.GuildID, d.RoleID); ok {
		b.roles.remove(d.GuildID, d.RoleID)
		e.Params.Set(audit.ParamName, old.name)
		setPermDiff(e, old.perms, 0)
		e.Params.Set("old_permissions", strconv.FormatUint(old.perms, 10))
		e.Params.Set("old_color", colorHex(old.color))
	} else {
		e.Params.Set(audit.ParamUnknownBefore, "true")
	}
	b.awaitModerator(e, b.roleBy, corrKey{d.GuildID, auditRoleDelete, d.RoleID})
}

// roleBy completes a role's record from its audit entry: the moderator,
// the reason, and what the entry's changes say that the bot did not know.
func (b *Bot) roleBy(e *audit.Event, a auditEntry) {
	b.setModerator(e, a)
	applyChanges(e, a.changes) // keys the record already has are kept
}

// setDiff sets old_x and new_x for every field that differs, and
// "changed"; it returns the changed fields in order.
func setDiff(e *audit.Event, old, now map[string]string) []string {
	var changed []string
	for _, k := range sortedKeys(now) {
		if old[k] == now[k] {
			continue
		}
		changed = append(changed, k)
		e.Params.Set("old_"+k, old[k])
		e.Params.Set("new_"+k, now[k])
	}
	e.Params.Set(audit.ParamChanged, strings.Join(changed, ","))
	return changed
}

// setPermDiff names the permissions a change granted and revoked, and
// flags the dangerous ones granted.
func setPermDiff(e *audit.Event, old, now uint64) {
	d := diffPerms(old, now)
	e.Params.Set(audit.ParamPermissionsAdded, d.added)
	e.Params.Set(audit.ParamPermissionsRemoved, d.removed)
	e.Params.Set(audit.ParamDangerousGranted, d.dangerous)
}

// applyChanges fills old_x and new_x from an audit entry's changes where
// the record has none of its own (the bot had not seen the object
// before), and the permissions they granted and revoked.
func applyChanges(e *audit.Event, changes []*discordgo.AuditLogChange) {
	changed := strings.Split(e.Params[audit.ParamChanged], ",")
	for _, c := range changes {
		if c == nil || c.Key == nil || *c.Key == "" || strings.HasPrefix(string(*c.Key), "$") {
			continue
		}
		k := string(*c.Key)
		if e.Params["old_"+k] != "" || e.Params["new_"+k] != "" && e.Params[audit.ParamUnknownBefore] == "" {
			continue
		}
		e.Params.Set("old_"+k, changeValue(c.OldValue))
		e.Params.Set("new_"+k, changeValue(c.NewValue))
		if !slices.Contains(changed, k) {
			changed = append(changed, k)
		}
		if k == "permissions" || k == "allow" || k == "deny" {
			o, _ := parsePerms(c.OldValue)
			n, _ := parsePerms(c.NewValue)
			if k == "permissions" {
				setPermDiff(e, o, n)
			}
		}
	}
	e.Params.Set(audit.ParamChanged, strings.Trim(strings.Join(changed, ","), ","))
}

// changeValue shows an audit change's value in params: strings as they
// are, numbers without exponent, other values as JSON.
func changeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(raw)
}
