package discord_test

import (
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/store"
)

// manyPosts lets the log channel take a post per record without waiting
// for Discord's bucket (5 per 5 s) between them.
var manyPosts = discordtest.Options{MessageLimit: 100}

// Who gave this role Administrator: roles created, edited and deleted,
// each with the moderator, the reason, before and after.
func TestRoleSources(t *testing.T) {
	h, err := startWith(t, manyPosts, logged())
	if err != nil {
		t.Fatal(err)
	}
	roles := func(n int) *audit.Event {
		t.Helper()
		return h.wait(store.Query{Types: []audit.EventType{audit.RoleCreate, audit.RoleUpdate, audit.RoleDelete}}, n)[0]
	}
	modActor := "mod (" + mod.ID + ") · admin"
	id := h.fake.CreateRoleBy(guildID, mod.ID, discordgo.Role{Name: "helpers", Color: 0x3498DB, Hoist: true,
		Permissions: discordgo.PermissionSendMessages | discordgo.PermissionManageMessages}, "new team")
	h.verify(roles(1), check{typ: audit.RoleCreate, platformType: "GUILD_ROLE_CREATE", actor: mod.ID, actorType: audit.ActorAdmin,
		params: map[string]string{audit.ParamName: "helpers", audit.ParamObjectID: id, "new_color": "#3498DB", "new_hoist": "true",
			audit.ParamPermissionsAdded: "SEND_MESSAGES,MANAGE_MESSAGES", audit.ParamDangerousGranted: "", audit.ParamReason: "new team"},
		summary: "mod created the role helpers.",
		fields:  map[string]string{"Actor": modActor, "Name": "helpers", "Permissions added": "SEND_MESSAGES,MANAGE_MESSAGES", "Reason": "new team"}})

	h.fake.UpdateRoleBy(guildID, owner.ID, id, "trust them", func(r *discordgo.Role) {
		r.Permissions = r.Permissions&^discordgo.PermissionManageMessages | discordgo.PermissionAdministrator
		r.Name = "admins"
	})
	h.verify(roles(2), check{typ: audit.RoleUpdate, platformType: "GUILD_ROLE_UPDATE", actor: owner.ID, actorType: audit.ActorAdmin,
		params: map[string]string{audit.ParamName: "admins", "old_name": "helpers", "new_name": "admins", audit.ParamChanged: "name,permissions",
			"old_permissions": "10240", "new_permissions": "2056",
			audit.ParamPermissionsAdded: "ADMINISTRATOR", audit.ParamPermissionsRemoved: "MANAGE_MESSAGES",
			audit.ParamDangerousGranted: "ADMINISTRATOR", audit.ParamReason: "trust them"},
		summary: "owner updated the role admins.",
		fields: map[string]string{"Dangerous permissions granted": "ADMINISTRATOR", "Permissions added": "ADMINISTRATOR",
			"Permissions removed": "MANAGE_MESSAGES", "Old value (name)": "helpers", "New value (name)": "admins"}})

	// Moving a role shifts the others: a position alone is no record.
	h.fake.UpdateRoleBy(guildID, owner.ID, modRole, "", func(r *discordgo.Role) { r.Position = 7 })
	h.fake.DeleteRoleBy(guildID, mod.ID, id, "too much power")
	h.verify(roles(3), check{typ: audit.RoleDelete, platformType: "GUILD_ROLE_DELETE", actor: mod.ID, actorType: audit.ActorAdmin,
		params: map[string]string{audit.ParamName: "admins", "old_permissions": "2056", audit.ParamPermissionsRemoved: "ADMINISTRATOR,SEND_MESSAGES",
			audit.ParamReason: "too much power"},
		summary: "mod deleted the role admins.", fields: map[string]string{"Permissions removed": "ADMINISTRATOR,SEND_MESSAGES"}})
	if n := len(h.wait(store.Query{Types: []audit.EventType{audit.RoleUpdate}}, 1)); n != 1 {
		t.Fatalf("%d ROLE_UPDATE records, want 1 (a position-only move is not recorded)", n)
	}

	// "Who changed permissions": the permissions preset finds them.
	types, _ := audit.Preset("permissions")
	if n := len(h.wait(store.Query{Types: types}, 3)); n != 3 {
		t.Fatalf("the permissions preset finds %d records, want 3", n)
	}
}

// Who changed #general's permissions, and its settings: every changed
// field old and new, each overwrite with the bits gained and lost.
func TestChannelSources(t *testing.T) {
	h, err := startWith(t, manyPosts, logged())
	if err != nil {
		t.Fatal(err)
	}
	h.fake.UpdateChannelBy(guildID, channelID, mod.ID, "calm down", func(c *discordgo.Channel) {
		c.Name, c.RateLimitPerUser = "general-slow", 30
		c.PermissionOverwrites = append(c.PermissionOverwrites,
			&discordgo.PermissionOverwrite{ID: guildID, Type: discordgo.PermissionOverwriteTypeRole, Deny: discordgo.PermissionSendMessages},
			&discordgo.PermissionOverwrite{ID: member.ID, Type: discordgo.PermissionOverwriteTypeMember,
				Allow: discordgo.PermissionSendMessages | discordgo.PermissionMentionEveryone})
	})
	upd := h.wait(store.Query{Types: []audit.EventType{audit.ChannelUpdate}}, 1)[0]
	h.verify(upd, check{typ: audit.ChannelUpdate, platformType: "CHANNEL_UPDATE", actor: mod.ID, actorType: audit.ActorAdmin, channel: channelID,
		params: map[string]string{audit.ParamChanged: "name,rate_limit_per_user", "old_name": "general", "new_name": "general-slow",
			"old_rate_limit_per_user": "0", "new_rate_limit_per_user": "30", audit.ParamReason: "calm down"},
		summary: "mod updated the channel #general-slow.",
		fields:  map[string]string{"Old value (name)": "general", "New value (name)": "general-slow", "New value (rate_limit_per_user)": "30"}})
	ows := h.wait(store.Query{Types: []audit.EventType{audit.ChannelPermissionUpdate}}, 2)
	byID := map[string]*audit.Event{}
	for _, e := range ows {
		byID[e.Params[audit.ParamOverwriteID]] = e
	}
	h.verify(byID[guildID], check{typ: audit.ChannelPermissionUpdate, platformType: "CHANNEL_UPDATE", actor: mod.ID, actorType: audit.ActorAdmin,
		channel: channelID, params: map[string]string{audit.ParamAction: "CREATE", audit.ParamOverwriteType: audit.OverwriteRole,
			audit.ParamRoleName: "@everyone", audit.ParamDenyAdded: "SEND_MESSAGES", audit.ParamAllowAdded: "", audit.ParamDangerousGranted: "",
			"new_deny": "2048 (SEND_MESSAGES)", "old_deny": "", audit.ParamReason: "calm down"},
		summary: "mod changed the permissions of #general-slow.",
		fields:  map[string]string{"Now denied": "SEND_MESSAGES", "Role": "@everyone", "Overwrite for": "ROLE"}})
	h.verify(byID[member.ID], check{typ: audit.ChannelPermissionUpdate, platformType: "CHANNEL_UPDATE", actor: mod.ID, actorType: audit.ActorAdmin,
		target: member.ID, channel: channelID, params: map[string]string{audit.ParamOverwriteType: audit.OverwriteMember,
			audit.ParamAllowAdded: "SEND_MESSAGES,MENTION_EVERYONE", audit.ParamDangerousGranted: "MENTION_EVERYONE"},
		summary: "mod changed the permissions of #general-slow.",
		fields:  map[string]string{"Dangerous permissions granted": "MENTION_EVERYONE", "Target": "Ann (" + member.ID + ")"}})

	// Lifting the lock: the @everyone overwrite is deleted.
	h.fake.UpdateChannelBy(guildID, channelID, owner.ID, "", func(c *discordgo.Channel) {
		c.PermissionOverwrites = c.PermissionOverwrites[1:]
	})
	del := h.wait(store.Query{Types: []audit.EventType{audit.ChannelPermissionUpdate}}, 3)[0]
	h.verify(del, check{typ: audit.ChannelPermissionUpdate, platformType: "CHANNEL_UPDATE", actor: owner.ID, actorType: audit.ActorAdmin,
		channel: channelID, params: map[string]string{audit.ParamAction: "DELETE", audit.ParamOverwriteID: guildID,
			audit.ParamDenyRemoved: "SEND_MESSAGES", "old_deny": "2048 (SEND_MESSAGES)", "new_deny": ""},
		summary: "owner changed the permissions of #general-slow.", fields: map[string]string{"No longer denied": "SEND_MESSAGES"}})

	th := h.fake.CreateThread(guildID, channelID, member.ID, "off-topic")
	h.wait(store.Query{Types: []audit.EventType{audit.ChannelCreate}}, 1)
	h.fake.UpdateThreadBy(th, mod.ID, "heated", func(th *discordgo.Channel) {
		m := *th.ThreadMetadata
		m.Archived, m.Locked = true, true
		th.ThreadMetadata = &m
	})
	lock := h.wait(store.Query{Types: []audit.EventType{audit.ChannelUpdate}}, 2)[0]
	h.verify(lock, check{typ: audit.ChannelUpdate, platformType: "THREAD_UPDATE", actor: mod.ID, actorType: audit.ActorAdmin, channel: th.ID,
		params:  map[string]string{audit.ParamChanged: "archived,locked", "old_locked": "false", "new_locked": "true", audit.ParamReason: "heated"},
		summary: "mod updated the channel #off-topic.", fields: map[string]string{"New value (locked)": "Yes", "Old value (archived)": "No"}})
}
