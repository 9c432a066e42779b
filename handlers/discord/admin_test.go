package discord_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

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

	// The member's overwrite changes: one permission less, one denied.
	h.fake.UpdateChannelBy(guildID, channelID, mod.ID, "too loud", func(c *discordgo.Channel) {
		for _, o := range c.PermissionOverwrites {
			if o.ID == member.ID {
				o.Allow &^= discordgo.PermissionMentionEveryone
				o.Deny |= discordgo.PermissionAttachFiles
			}
		}
	})
	upd2 := h.wait(store.Query{Types: []audit.EventType{audit.ChannelPermissionUpdate}}, 3)[0]
	h.verify(upd2, check{typ: audit.ChannelPermissionUpdate, platformType: "CHANNEL_UPDATE", actor: mod.ID, actorType: audit.ActorAdmin,
		target: member.ID, channel: channelID, params: map[string]string{audit.ParamAction: "UPDATE", audit.ParamAllowRemoved: "MENTION_EVERYONE",
			audit.ParamDenyAdded: "ATTACH_FILES", audit.ParamDangerousGranted: "", "old_allow": "133120 (SEND_MESSAGES,MENTION_EVERYONE)",
			"new_allow": "2048 (SEND_MESSAGES)", audit.ParamReason: "too loud"},
		summary: "mod changed the permissions of #general-slow.",
		fields:  map[string]string{"No longer allowed": "MENTION_EVERYONE", "Now denied": "ATTACH_FILES"}})

	// Lifting the lock: the @everyone overwrite is deleted.
	h.fake.UpdateChannelBy(guildID, channelID, owner.ID, "", func(c *discordgo.Channel) {
		c.PermissionOverwrites = c.PermissionOverwrites[1:]
	})
	del := h.wait(store.Query{Types: []audit.EventType{audit.ChannelPermissionUpdate}}, 4)[0]
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

// Webhooks, integrations, emojis, stickers, pins and scheduled events
// come from their audit entries: the moderator, the object, old and new.
func TestAuditLogOnlySources(t *testing.T) {
	h, err := startWith(t, manyPosts, logged())
	if err != nil {
		t.Fatal(err)
	}
	at := func(typ audit.EventType) *audit.Event {
		t.Helper()
		return h.wait(store.Query{Types: []audit.EventType{typ}}, 1)[0]
	}
	h.fake.AuditOnly(guildID, mod.ID, discordgo.AuditLogActionWebhookCreate, "600000000000000001", "", nil,
		"name", nil, "Captain Hook", "channel_id", nil, channelID, "type", nil, 1)
	h.verify(at(audit.IntegrationCreate), check{typ: audit.IntegrationCreate, platformType: "GUILD_AUDIT_LOG_ENTRY_CREATE", actor: mod.ID,
		actorType: audit.ActorAdmin, channel: channelID, params: map[string]string{audit.ParamIntegration: "WEBHOOK", audit.ParamName: "Captain Hook",
			audit.ParamObjectID: "600000000000000001"},
		summary: "mod added the integration Captain Hook.", fields: map[string]string{"Integration": "WEBHOOK"}})
	h.fake.AuditOnly(guildID, owner.ID, discordgo.AuditLogActionEmojiUpdate, "600000000000000002", "clearer", nil, "name", "kek", "laugh")
	h.verify(at(audit.ExpressionUpdate), check{typ: audit.ExpressionUpdate, platformType: "GUILD_AUDIT_LOG_ENTRY_CREATE", actor: owner.ID,
		actorType: audit.ActorAdmin, params: map[string]string{audit.ParamExpression: "EMOJI", "old_name": "kek", "new_name": "laugh", audit.ParamReason: "clearer"},
		summary: "owner updated laugh.", fields: map[string]string{"Old value (name)": "kek", "New value (name)": "laugh"}})
	h.fake.AuditOnly(guildID, mod.ID, discordgo.AuditLogActionStickerDelete, "600000000000000003", "", nil, "name", "wave", nil)
	h.verify(at(audit.ExpressionDelete), check{typ: audit.ExpressionDelete, platformType: "GUILD_AUDIT_LOG_ENTRY_CREATE", actor: mod.ID,
		actorType: audit.ActorAdmin, params: map[string]string{audit.ParamExpression: "STICKER", "old_name": "wave"},
		summary: "mod removed wave.", fields: map[string]string{"Expression": "STICKER"}})
	h.fake.AuditOnly(guildID, mod.ID, discordgo.AuditLogActionMessagePin, member.ID, "", &discordgo.AuditLogOptions{ChannelID: channelID, MessageID: "700000000000000001"})
	pin := at(audit.ChatMessagePin)
	h.verify(pin, check{typ: audit.ChatMessagePin, platformType: "GUILD_AUDIT_LOG_ENTRY_CREATE", actor: mod.ID, actorType: audit.ActorAdmin,
		target: member.ID, channel: channelID, summary: "mod pinned a message by Ann.", fields: map[string]string{"Message": "700000000000000001"}})
	h.fake.AuditOnly(guildID, owner.ID, discordgo.AuditLogGuildScheduledEventUpdate, "600000000000000004", "", nil,
		"name", "Game night", "Movie night", "scheduled_start_time", "2026-12-10T20:00:00+00:00", "2026-12-11T20:00:00+00:00")
	h.verify(at(audit.ScheduledEventUpdate), check{typ: audit.ScheduledEventUpdate, platformType: "GUILD_AUDIT_LOG_ENTRY_CREATE", actor: owner.ID,
		actorType: audit.ActorAdmin, params: map[string]string{"old_scheduled_start_time": "2026-12-10T20:00:00+00:00", "new_scheduled_start_time": "2026-12-11T20:00:00+00:00"},
		summary: "owner updated the event Movie night.", fields: map[string]string{"Old value (name)": "Game night"}})
	h.fake.AuditOnly(guildID, mod.ID, discordgo.AuditLogActionIntegrationDelete, "600000000000000005", "", nil, "name", "Twitch", nil, "type", "twitch", nil)
	h.verify(at(audit.IntegrationDelete), check{typ: audit.IntegrationDelete, platformType: "GUILD_AUDIT_LOG_ENTRY_CREATE", actor: mod.ID,
		actorType: audit.ActorAdmin, params: map[string]string{audit.ParamIntegration: "INTEGRATION", "old_type": "twitch"},
		summary: "mod removed the integration Twitch.", fields: map[string]string{"Old value (type)": "twitch"}})
}

// What AutoMod blocked: one record per action, the rule by name, the
// keyword, the blocked text.
func TestAutomodSources(t *testing.T) {
	h, err := startWith(t, manyPosts, logged())
	if err != nil {
		t.Fatal(err)
	}
	rule := h.fake.CreateAutomodRuleBy(guildID, owner.ID, "no scams", []string{"free nitro*"})
	h.verify(h.wait(store.Query{Types: []audit.EventType{audit.AutomodRuleCreate}}, 1)[0], check{typ: audit.AutomodRuleCreate,
		platformType: "GUILD_AUDIT_LOG_ENTRY_CREATE", actor: owner.ID, actorType: audit.ActorAdmin,
		params:  map[string]string{audit.ParamName: "no scams", audit.ParamObjectID: rule, "new_enabled": "true", audit.ParamAuditAction: "AUTO_MODERATION_RULE_CREATE"},
		summary: "owner created the AutoMod rule no scams.", fields: map[string]string{"Name": "no scams", "New value (trigger_type)": "1"}})
	h.fake.AutomodBlock(guildID, channelID, member.ID, rule, "free nitro*", "get free nitroooo here", "free nitroooo")
	evs := h.wait(store.Query{Types: []audit.EventType{audit.ModerationAutomod}}, 2)
	byAction := map[string]*audit.Event{}
	for _, e := range evs {
		byAction[e.Params[audit.ParamAction]] = e
	}
	block := byAction[audit.AutomodBlock]
	if block == nil || block.Content != "get free nitroooo here" {
		t.Fatalf("the blocked message's record: %+v", block)
	}
	h.verify(block, check{typ: audit.ModerationAutomod, platformType: "AUTO_MODERATION_ACTION_EXECUTION", actorType: audit.ActorSystem,
		target: member.ID, channel: channelID, params: map[string]string{audit.ParamRule: "no scams", audit.ParamRuleID: rule,
			audit.ParamTrigger: "KEYWORD", audit.ParamMatchedKeyword: "free nitro*"},
		summary: "AutoMod blocked a message by Ann.", fields: map[string]string{"Rule": "no scams", "Matched keyword": "free nitro*", "Trigger": "KEYWORD"}})
	if byAction[audit.AutomodAlert] == nil {
		t.Fatalf("no record of the alert action: %v", byAction)
	}
}

// Every audit-log event recorded from its entry alone, one each, shaped
// as the documentation shows it: the type, the moderator, the object,
// the change's old and new value, the log entry.
func TestEveryAuditLogOnlyEvent(t *testing.T) {
	h, err := startWith(t, manyPosts, logged())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		action  discordgo.AuditLogAction
		name    string
		typ     audit.EventType
		kind    string // the kind param's key and value, key=value
		summary string
	}{
		{discordgo.AuditLogActionWebhookCreate, "WEBHOOK_CREATE", audit.IntegrationCreate, "integration=WEBHOOK", "mod added the integration obj50."},
		{discordgo.AuditLogActionWebhookUpdate, "WEBHOOK_UPDATE", audit.IntegrationUpdate, "integration=WEBHOOK", "mod updated the integration obj51."},
		{discordgo.AuditLogActionWebhookDelete, "WEBHOOK_DELETE", audit.IntegrationDelete, "integration=WEBHOOK", "mod removed the integration obj52."},
		{discordgo.AuditLogActionEmojiCreate, "EMOJI_CREATE", audit.ExpressionCreate, "expression=EMOJI", "mod added obj60."},
		{discordgo.AuditLogActionEmojiUpdate, "EMOJI_UPDATE", audit.ExpressionUpdate, "expression=EMOJI", "mod updated obj61."},
		{discordgo.AuditLogActionEmojiDelete, "EMOJI_DELETE", audit.ExpressionDelete, "expression=EMOJI", "mod removed obj62."},
		{discordgo.AuditLogActionIntegrationCreate, "INTEGRATION_CREATE", audit.IntegrationCreate, "integration=INTEGRATION", "mod added the integration obj80."},
		{discordgo.AuditLogActionIntegrationUpdate, "INTEGRATION_UPDATE", audit.IntegrationUpdate, "integration=INTEGRATION", "mod updated the integration obj81."},
		{discordgo.AuditLogActionIntegrationDelete, "INTEGRATION_DELETE", audit.IntegrationDelete, "integration=INTEGRATION", "mod removed the integration obj82."},
		{discordgo.AuditLogActionStickerCreate, "STICKER_CREATE", audit.ExpressionCreate, "expression=STICKER", "mod added obj90."},
		{discordgo.AuditLogActionStickerUpdate, "STICKER_UPDATE", audit.ExpressionUpdate, "expression=STICKER", "mod updated obj91."},
		{discordgo.AuditLogActionStickerDelete, "STICKER_DELETE", audit.ExpressionDelete, "expression=STICKER", "mod removed obj92."},
		{discordgo.AuditLogGuildScheduledEventCreate, "GUILD_SCHEDULED_EVENT_CREATE", audit.ScheduledEventCreate, "", "mod scheduled the event obj100."},
		{discordgo.AuditLogGuildScheduledEventUpdate, "GUILD_SCHEDULED_EVENT_UPDATE", audit.ScheduledEventUpdate, "", "mod updated the event obj101."},
		{discordgo.AuditLogGuildScheduledEventDelete, "GUILD_SCHEDULED_EVENT_DELETE", audit.ScheduledEventDelete, "", "mod cancelled the event obj102."},
		{discordgo.AuditLogActionApplicationCommandPermissionUpdate, "APPLICATION_COMMAND_PERMISSION_UPDATE", audit.IntegrationUpdate, "integration=COMMAND_PERMISSIONS", "mod updated the integration obj121."},
		{130, "SOUNDBOARD_SOUND_CREATE", audit.ExpressionCreate, "expression=SOUNDBOARD_SOUND", "mod added obj130."},
		{131, "SOUNDBOARD_SOUND_UPDATE", audit.ExpressionUpdate, "expression=SOUNDBOARD_SOUND", "mod updated obj131."},
		{132, "SOUNDBOARD_SOUND_DELETE", audit.ExpressionDelete, "expression=SOUNDBOARD_SOUND", "mod removed obj132."},
		{discordgo.AuditLogActionAutoModerationRuleCreate, "AUTO_MODERATION_RULE_CREATE", audit.AutomodRuleCreate, "", "mod created the AutoMod rule obj140."},
		{discordgo.AuditLogActionAutoModerationRuleUpdate, "AUTO_MODERATION_RULE_UPDATE", audit.AutomodRuleUpdate, "", "mod updated the AutoMod rule obj141."},
		{discordgo.AuditLogActionAutoModerationRuleDelete, "AUTO_MODERATION_RULE_DELETE", audit.AutomodRuleDelete, "", "mod deleted the AutoMod rule obj142."},
		{discordgo.AuditLogActionOnboardingPromptCreate, "ONBOARDING_PROMPT_CREATE", audit.PropertyUpdate, "field=onboarding_prompt", "mod updated the server settings."},
		{discordgo.AuditLogActionOnboardingPromptUpdate, "ONBOARDING_PROMPT_UPDATE", audit.PropertyUpdate, "field=onboarding_prompt", "mod updated the server settings."},
		{discordgo.AuditLogActionOnboardingPromptDelete, "ONBOARDING_PROMPT_DELETE", audit.PropertyUpdate, "field=onboarding_prompt", "mod updated the server settings."},
		{discordgo.AuditLogActionOnboardingCreate, "ONBOARDING_CREATE", audit.PropertyUpdate, "field=onboarding", "mod updated the server settings."},
		{discordgo.AuditLogActionOnboardingUpdate, "ONBOARDING_UPDATE", audit.PropertyUpdate, "field=onboarding", "mod updated the server settings."},
		{discordgo.AuditLogActionHomeSettingsCreate, "HOME_SETTINGS_CREATE", audit.PropertyUpdate, "field=home_settings", "mod updated the server settings."},
		{discordgo.AuditLogActionHomeSettingsUpdate, "HOME_SETTINGS_UPDATE", audit.PropertyUpdate, "field=home_settings", "mod updated the server settings."},
	}
	for i, c := range cases {
		name := fmt.Sprintf("obj%d", c.action)
		h.fake.AuditOnly(guildID, mod.ID, c.action, fmt.Sprintf("6100000000000000%02d", i), "case "+c.name, nil,
			"name", "old-"+name, name, "description", nil, "new text")
	}
	byAction := map[string]*audit.Event{}
	for deadline := time.Now().Add(10 * time.Second); len(byAction) < len(cases) && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		page, err := h.s.Query(t.Context(), store.Query{Platform: audit.Discord, Property: guildID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			if a := e.Params[audit.ParamAuditAction]; a != "" {
				byAction[a] = e
			}
		}
	}
	for i, c := range cases {
		e := byAction[c.name]
		if e == nil {
			t.Errorf("%s: no record", c.name)
			continue
		}
		name := fmt.Sprintf("obj%d", c.action)
		params := map[string]string{"old_name": "old-" + name, "new_name": name, "new_description": "new text",
			audit.ParamReason: "case " + c.name}
		if c.typ != audit.PropertyUpdate {
			params[audit.ParamObjectID] = fmt.Sprintf("6100000000000000%02d", i)
		}
		if k, v, ok := strings.Cut(c.kind, "="); ok {
			params[k] = v
		}
		h.verify(e, check{typ: c.typ, platformType: "GUILD_AUDIT_LOG_ENTRY_CREATE", actor: mod.ID, actorType: audit.ActorAdmin,
			params: params, summary: c.summary,
			fields: map[string]string{"Old value (name)": "old-" + name, "New value (name)": name, "Audit log action": c.name}})
	}
}
