package discord

import (
	"slices"
	"strconv"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
)

// Channel and thread updates: CHANNEL_UPDATE for the channel's own
// fields, one CHANNEL_PERMISSION_UPDATE per permission overwrite created,
// changed or deleted, each diffed against the channel as the bot last saw
// it (discordgo's state hands the copy from before the update as
// BeforeUpdate). The CHANNEL_UPDATE / THREAD_UPDATE and
// CHANNEL_OVERWRITE_* audit entries name the moderator; without a copy
// from before, their changes give the old values.

const (
	auditChannelUpdate    = discordgo.AuditLogActionChannelUpdate          // 11
	auditOverwriteCreate  = discordgo.AuditLogActionChannelOverwriteCreate // 13
	auditOverwriteUpdate  = discordgo.AuditLogActionChannelOverwriteUpdate // 14
	auditOverwriteDelete  = discordgo.AuditLogActionChannelOverwriteDelete // 15
	auditThreadUpdate     = discordgo.AuditLogActionThreadUpdate           // 111
	overwriteAction       = "CREATE"
	overwriteActionUpdate = "UPDATE"
	overwriteActionDelete = "DELETE"
)

// channelFields are a channel's settings as params show them, by
// Discord's field names. The position is left out: moving one channel
// renumbers its neighbours, one CHANNEL_UPDATE each.
func channelFields(c *discordgo.Channel) map[string]string {
	f := map[string]string{
		"name": c.Name, "topic": c.Topic, "nsfw": strconv.FormatBool(c.NSFW),
		"rate_limit_per_user": strconv.Itoa(c.RateLimitPerUser), "bitrate": strconv.Itoa(c.Bitrate),
		"user_limit": strconv.Itoa(c.UserLimit), "parent_id": c.ParentID, "type": channelKind(c.Type),
		"flags": strconv.Itoa(int(c.Flags)), "default_thread_rate_limit_per_user": strconv.Itoa(c.DefaultThreadRateLimitPerUser),
	}
	if m := c.ThreadMetadata; m != nil {
		f["archived"] = strconv.FormatBool(m.Archived)
		f["locked"] = strconv.FormatBool(m.Locked)
		f["auto_archive_duration"] = strconv.Itoa(m.AutoArchiveDuration)
		f["invitable"] = strconv.FormatBool(m.Invitable)
	}
	return f
}

// onChannelUpdate records what a CHANNEL_UPDATE or THREAD_UPDATE changed.
func (b *Bot) onChannelUpdate(c, before *discordgo.Channel, platformType string) {
	if c == nil || c.GuildID == "" || c.ID == "" {
		return
	}
	thread := platformType == "THREAD_UPDATE"
	action := auditChannelUpdate
	if thread {
		action = auditThreadUpdate
	}
	e := b.event(c.GuildID, audit.ChannelUpdate, platformType)
	e.ChannelID = c.ID
	e.Params.Set(audit.ParamChannelName, c.Name)
	e.Params.Set(audit.ParamChannelKind, channelKind(c.Type))
	if before == nil {
		// Not seen before (a thread the state never held): what changed
		// comes from the audit entry, if any.
		e.Params.Set(audit.ParamUnknownBefore, "true")
		b.awaitModerator(e, b.channelBy, corrKey{c.GuildID, action, c.ID})
		return
	}
	old := channelFields(before)
	if before.ThreadMetadata == nil {
		for _, k := range []string{"archived", "locked", "auto_archive_duration", "invitable"} {
			delete(old, k)
		}
	}
	now := channelFields(c)
	if c.ThreadMetadata == nil { // a partial update keeps what the state had
		for _, k := range []string{"archived", "locked", "auto_archive_duration", "invitable"} {
			delete(now, k)
			delete(old, k)
		}
	}
	if len(setDiff(e, old, now)) > 0 {
		b.awaitModerator(e, b.channelBy, corrKey{c.GuildID, action, c.ID})
	}
	if !thread {
		b.diffOverwrites(c, before)
	}
}

// channelBy completes a channel's record from its audit entry.
func (b *Bot) channelBy(e *audit.Event, a auditEntry) {
	b.setModerator(e, a)
	applyChanges(e, a.changes) // keys the record already has are kept
}

// diffOverwrites records one CHANNEL_PERMISSION_UPDATE per overwrite
// created, changed or deleted: whose, and the allow and deny bits gained
// and lost by name.
func (b *Bot) diffOverwrites(c, before *discordgo.Channel) {
	if c.PermissionOverwrites == nil {
		return // a payload without the list: nothing known of it
	}
	index := func(list []*discordgo.PermissionOverwrite) map[string]*discordgo.PermissionOverwrite {
		m := map[string]*discordgo.PermissionOverwrite{}
		for _, o := range list {
			if o != nil && o.ID != "" {
				m[o.ID] = o
			}
		}
		return m
	}
	old, now := index(before.PermissionOverwrites), index(c.PermissionOverwrites)
	ids := make([]string, 0, len(old)+len(now))
	for id := range old {
		ids = append(ids, id)
	}
	for id := range now {
		if _, ok := old[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		o, n := old[id], now[id]
		var zero discordgo.PermissionOverwrite
		what, action := overwriteActionUpdate, auditOverwriteUpdate
		switch {
		case o == nil:
			o, what, action = &zero, overwriteAction, auditOverwriteCreate
		case n == nil:
			n, what, action = &zero, overwriteActionDelete, auditOverwriteDelete
		case o.Allow == n.Allow && o.Deny == n.Deny:
			continue
		}
		typ := n.Type
		if what == overwriteActionDelete {
			typ = o.Type
		}
		e := b.event(c.GuildID, audit.ChannelPermissionUpdate, "CHANNEL_UPDATE")
		e.ChannelID = c.ID
		e.Params.Set(audit.ParamChannelName, c.Name)
		e.Params.Set(audit.ParamAction, what)
		e.Params.Set(audit.ParamOverwriteID, id)
		allow, deny := diffPerms(uint64(o.Allow), uint64(n.Allow)), diffPerms(uint64(o.Deny), uint64(n.Deny))
		e.Params.Set(audit.ParamAllowAdded, allow.added)
		e.Params.Set(audit.ParamAllowRemoved, allow.removed)
		e.Params.Set(audit.ParamDenyAdded, deny.added)
		e.Params.Set(audit.ParamDenyRemoved, deny.removed)
		e.Params.Set(audit.ParamDangerousGranted, allow.dangerous)
		e.Params.Set("old_allow", permValue(o.Allow, what == overwriteAction))
		e.Params.Set("new_allow", permValue(n.Allow, what == overwriteActionDelete))
		e.Params.Set("old_deny", permValue(o.Deny, what == overwriteAction))
		e.Params.Set("new_deny", permValue(n.Deny, what == overwriteActionDelete))
		if typ == discordgo.PermissionOverwriteTypeMember {
			e.Params.Set(audit.ParamOverwriteType, audit.OverwriteMember)
			b.nameTarget(e, c.GuildID, id)
		} else {
			e.Params.Set(audit.ParamOverwriteType, audit.OverwriteRole)
			e.Params.Set(audit.ParamRoleName, b.roleName(c.GuildID, id))
		}
		b.awaitModerator(e, b.setModerator, corrKey{c.GuildID, action, c.ID + "/" + id})
	}
}

// permValue shows an overwrite's bits (decimal) and their names; none
// when the overwrite did not exist on that side.
func permValue(p int64, absent bool) string {
	if absent {
		return ""
	}
	if p == 0 {
		return "0"
	}
	return strconv.FormatInt(p, 10) + " (" + permNames(uint64(p)) + ")"
}

// roleName is a role's name as last seen ("@everyone" for the guild's
// own), or "".
func (b *Bot) roleName(guild, id string) string {
	if id == guild {
		return "@everyone"
	}
	r, _ := b.roles.get(guild, id)
	return r.name
}
