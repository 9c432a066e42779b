package discord

import (
	"strconv"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
)

// Records made from the audit log alone: what the gateway reports
// without its author (GUILD_EMOJIS_UPDATE, WEBHOOKS_UPDATE,
// INTEGRATION_*, CHANNEL_PINS_UPDATE name no one) or not at all. The
// GUILD_AUDIT_LOG_ENTRY_CREATE (intent GUILD_MODERATION, View Audit Log)
// names the moderator, the object, and the changes with old and new
// values. EVENTS.md lists every audit-log event and where it goes.

// auditActionNames are Discord's names of its audit-log events (Discord
// API documentation, Audit Log Events).
var auditActionNames = map[discordgo.AuditLogAction]string{
	1: "GUILD_UPDATE", 10: "CHANNEL_CREATE", 11: "CHANNEL_UPDATE", 12: "CHANNEL_DELETE",
	13: "CHANNEL_OVERWRITE_CREATE", 14: "CHANNEL_OVERWRITE_UPDATE", 15: "CHANNEL_OVERWRITE_DELETE",
	20: "MEMBER_KICK", 21: "MEMBER_PRUNE", 22: "MEMBER_BAN_ADD", 23: "MEMBER_BAN_REMOVE", 24: "MEMBER_UPDATE",
	25: "MEMBER_ROLE_UPDATE", 26: "MEMBER_MOVE", 27: "MEMBER_DISCONNECT", 28: "BOT_ADD",
	30: "ROLE_CREATE", 31: "ROLE_UPDATE", 32: "ROLE_DELETE", 40: "INVITE_CREATE", 41: "INVITE_UPDATE", 42: "INVITE_DELETE",
	50: "WEBHOOK_CREATE", 51: "WEBHOOK_UPDATE", 52: "WEBHOOK_DELETE", 60: "EMOJI_CREATE", 61: "EMOJI_UPDATE", 62: "EMOJI_DELETE",
	72: "MESSAGE_DELETE", 73: "MESSAGE_BULK_DELETE", 74: "MESSAGE_PIN", 75: "MESSAGE_UNPIN",
	80: "INTEGRATION_CREATE", 81: "INTEGRATION_UPDATE", 82: "INTEGRATION_DELETE",
	83: "STAGE_INSTANCE_CREATE", 84: "STAGE_INSTANCE_UPDATE", 85: "STAGE_INSTANCE_DELETE",
	90: "STICKER_CREATE", 91: "STICKER_UPDATE", 92: "STICKER_DELETE",
	100: "GUILD_SCHEDULED_EVENT_CREATE", 101: "GUILD_SCHEDULED_EVENT_UPDATE", 102: "GUILD_SCHEDULED_EVENT_DELETE",
	110: "THREAD_CREATE", 111: "THREAD_UPDATE", 112: "THREAD_DELETE", 121: "APPLICATION_COMMAND_PERMISSION_UPDATE",
	130: "SOUNDBOARD_SOUND_CREATE", 131: "SOUNDBOARD_SOUND_UPDATE", 132: "SOUNDBOARD_SOUND_DELETE",
	140: "AUTO_MODERATION_RULE_CREATE", 141: "AUTO_MODERATION_RULE_UPDATE", 142: "AUTO_MODERATION_RULE_DELETE",
	143: "AUTO_MODERATION_BLOCK_MESSAGE", 144: "AUTO_MODERATION_FLAG_TO_CHANNEL", 145: "AUTO_MODERATION_USER_COMMUNICATION_DISABLED",
	150: "CREATOR_MONETIZATION_REQUEST_CREATED", 151: "CREATOR_MONETIZATION_TERMS_ACCEPTED",
	163: "ONBOARDING_PROMPT_CREATE", 164: "ONBOARDING_PROMPT_UPDATE", 165: "ONBOARDING_PROMPT_DELETE",
	166: "ONBOARDING_CREATE", 167: "ONBOARDING_UPDATE", 190: "HOME_SETTINGS_CREATE", 191: "HOME_SETTINGS_UPDATE",
}

// fromAuditLog is what an entry recorded from the audit log alone
// becomes: its type and the kind param that says what the object is.
type fromAuditLog struct {
	typ        audit.EventType
	kind, what string // a param and its value, e.g. integration WEBHOOK
}

var auditRecords = map[discordgo.AuditLogAction]fromAuditLog{
	50:  {audit.IntegrationCreate, audit.ParamIntegration, "WEBHOOK"},
	51:  {audit.IntegrationUpdate, audit.ParamIntegration, "WEBHOOK"},
	52:  {audit.IntegrationDelete, audit.ParamIntegration, "WEBHOOK"},
	80:  {audit.IntegrationCreate, audit.ParamIntegration, "INTEGRATION"},
	81:  {audit.IntegrationUpdate, audit.ParamIntegration, "INTEGRATION"},
	82:  {audit.IntegrationDelete, audit.ParamIntegration, "INTEGRATION"},
	121: {audit.IntegrationUpdate, audit.ParamIntegration, "COMMAND_PERMISSIONS"},
	60:  {audit.ExpressionCreate, audit.ParamExpression, "EMOJI"},
	61:  {audit.ExpressionUpdate, audit.ParamExpression, "EMOJI"},
	62:  {audit.ExpressionDelete, audit.ParamExpression, "EMOJI"},
	90:  {audit.ExpressionCreate, audit.ParamExpression, "STICKER"},
	91:  {audit.ExpressionUpdate, audit.ParamExpression, "STICKER"},
	92:  {audit.ExpressionDelete, audit.ParamExpression, "STICKER"},
	130: {audit.ExpressionCreate, audit.ParamExpression, "SOUNDBOARD_SOUND"},
	131: {audit.ExpressionUpdate, audit.ParamExpression, "SOUNDBOARD_SOUND"},
	132: {audit.ExpressionDelete, audit.ParamExpression, "SOUNDBOARD_SOUND"},
	140: {typ: audit.AutomodRuleCreate},
	141: {typ: audit.AutomodRuleUpdate},
	142: {typ: audit.AutomodRuleDelete},
	74:  {typ: audit.ChatMessagePin},
	75:  {typ: audit.ChatMessageUnpin},
	100: {typ: audit.ScheduledEventCreate},
	101: {typ: audit.ScheduledEventUpdate},
	102: {typ: audit.ScheduledEventDelete},
	163: {audit.PropertyUpdate, audit.ParamField, "onboarding_prompt"},
	164: {audit.PropertyUpdate, audit.ParamField, "onboarding_prompt"},
	165: {audit.PropertyUpdate, audit.ParamField, "onboarding_prompt"},
	166: {audit.PropertyUpdate, audit.ParamField, "onboarding"},
	167: {audit.PropertyUpdate, audit.ParamField, "onboarding"},
	190: {audit.PropertyUpdate, audit.ParamField, "home_settings"},
	191: {audit.PropertyUpdate, audit.ParamField, "home_settings"},
}

// recordAuditEntry records an entry that is its own record; it reports
// false for the entries that complete a gateway record instead.
func (b *Bot) recordAuditEntry(a *discordgo.GuildAuditLogEntryCreate) bool {
	r, ok := auditRecords[*a.ActionType]
	if !ok || a.GuildID == "" {
		return false
	}
	e := b.event(a.GuildID, r.typ, "GUILD_AUDIT_LOG_ENTRY_CREATE")
	e.Time = snowflakeTime(a.ID, time.Now())
	e.Params.Set(audit.ParamAuditAction, auditActionName(*a.ActionType))
	if r.kind != "" {
		e.Params.Set(r.kind, r.what)
	}
	switch r.typ {
	case audit.ChatMessagePin, audit.ChatMessageUnpin:
		// The target is the message's author; the options name it.
		if a.TargetID != "" {
			b.nameTarget(e, a.GuildID, a.TargetID)
		}
		if a.Options != nil {
			e.ChannelID, e.MessageID = a.Options.ChannelID, a.Options.MessageID
		}
	default:
		e.Params.Set(audit.ParamObjectID, a.TargetID)
		name := auditChange(a.Changes, discordgo.AuditLogChangeKeyName)
		if name == "" && r.typ == audit.IntegrationUpdate && a.Options != nil {
			name = a.Options.ApplicationID
		}
		e.Params.Set(audit.ParamName, name)
		if ch := auditChange(a.Changes, discordgo.AuditLogChangeKeyChannelID); ch != "" {
			e.ChannelID = ch
		}
		applyChanges(e, a.Changes)
	}
	entry := entryOf(a.AuditLogEntry)
	if a.UserID == "" {
		e.ActorType = audit.ActorSystem
	} else {
		b.setModerator(e, entry)
	}
	e.Params.Set(audit.ParamReason, a.Reason)
	b.submit(e)
	return true
}

// auditActionName is Discord's name of an audit-log action, or its number.
func auditActionName(a discordgo.AuditLogAction) string {
	if n, ok := auditActionNames[a]; ok {
		return n
	}
	return strconv.Itoa(int(a))
}
