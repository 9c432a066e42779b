package discordtest

import "github.com/bwmarrin/discordgo"

// dispatchIntent is the gateway intent a dispatch needs (Discord API
// documentation, Gateway: list of intents); a session that did not
// identify with it never receives the event, as with Discord. Events not
// listed (READY, RESUMED, GUILD_CREATE, GUILD_MEMBERS_CHUNK,
// INTERACTION_CREATE...) reach every session.
var dispatchIntent = map[string]discordgo.Intent{
	"GUILD_UPDATE": discordgo.IntentGuilds, "GUILD_DELETE": discordgo.IntentGuilds,
	"GUILD_ROLE_CREATE": discordgo.IntentGuilds, "GUILD_ROLE_UPDATE": discordgo.IntentGuilds, "GUILD_ROLE_DELETE": discordgo.IntentGuilds,
	"CHANNEL_CREATE": discordgo.IntentGuilds, "CHANNEL_UPDATE": discordgo.IntentGuilds, "CHANNEL_DELETE": discordgo.IntentGuilds,
	"CHANNEL_PINS_UPDATE": discordgo.IntentGuilds, "THREAD_CREATE": discordgo.IntentGuilds, "THREAD_UPDATE": discordgo.IntentGuilds,
	"THREAD_DELETE": discordgo.IntentGuilds, "THREAD_LIST_SYNC": discordgo.IntentGuilds, "THREAD_MEMBER_UPDATE": discordgo.IntentGuilds,
	"STAGE_INSTANCE_CREATE": discordgo.IntentGuilds, "STAGE_INSTANCE_UPDATE": discordgo.IntentGuilds, "STAGE_INSTANCE_DELETE": discordgo.IntentGuilds,

	"GUILD_MEMBER_ADD": discordgo.IntentGuildMembers, "GUILD_MEMBER_UPDATE": discordgo.IntentGuildMembers,
	"GUILD_MEMBER_REMOVE": discordgo.IntentGuildMembers, "THREAD_MEMBERS_UPDATE": discordgo.IntentGuildMembers,

	"GUILD_AUDIT_LOG_ENTRY_CREATE": discordgo.IntentGuildModeration, "GUILD_BAN_ADD": discordgo.IntentGuildModeration,
	"GUILD_BAN_REMOVE": discordgo.IntentGuildModeration,

	"GUILD_EMOJIS_UPDATE": discordgo.IntentGuildEmojis, "GUILD_STICKERS_UPDATE": discordgo.IntentGuildEmojis,
	"GUILD_SOUNDBOARD_SOUND_CREATE": discordgo.IntentGuildEmojis, "GUILD_SOUNDBOARD_SOUND_UPDATE": discordgo.IntentGuildEmojis,
	"GUILD_SOUNDBOARD_SOUND_DELETE": discordgo.IntentGuildEmojis, "GUILD_SOUNDBOARD_SOUNDS_UPDATE": discordgo.IntentGuildEmojis,

	"GUILD_INTEGRATIONS_UPDATE": discordgo.IntentGuildIntegrations, "INTEGRATION_CREATE": discordgo.IntentGuildIntegrations,
	"INTEGRATION_UPDATE": discordgo.IntentGuildIntegrations, "INTEGRATION_DELETE": discordgo.IntentGuildIntegrations,

	"WEBHOOKS_UPDATE": discordgo.IntentGuildWebhooks,

	"INVITE_CREATE": discordgo.IntentGuildInvites, "INVITE_DELETE": discordgo.IntentGuildInvites,

	"VOICE_STATE_UPDATE": discordgo.IntentGuildVoiceStates, "VOICE_CHANNEL_EFFECT_SEND": discordgo.IntentGuildVoiceStates,

	"MESSAGE_CREATE": discordgo.IntentGuildMessages, "MESSAGE_UPDATE": discordgo.IntentGuildMessages,
	"MESSAGE_DELETE": discordgo.IntentGuildMessages, "MESSAGE_DELETE_BULK": discordgo.IntentGuildMessages,

	"GUILD_SCHEDULED_EVENT_CREATE": discordgo.IntentGuildScheduledEvents, "GUILD_SCHEDULED_EVENT_UPDATE": discordgo.IntentGuildScheduledEvents,
	"GUILD_SCHEDULED_EVENT_DELETE": discordgo.IntentGuildScheduledEvents, "GUILD_SCHEDULED_EVENT_USER_ADD": discordgo.IntentGuildScheduledEvents,
	"GUILD_SCHEDULED_EVENT_USER_REMOVE": discordgo.IntentGuildScheduledEvents,

	"AUTO_MODERATION_RULE_CREATE": discordgo.IntentAutoModerationConfiguration, "AUTO_MODERATION_RULE_UPDATE": discordgo.IntentAutoModerationConfiguration,
	"AUTO_MODERATION_RULE_DELETE":      discordgo.IntentAutoModerationConfiguration,
	"AUTO_MODERATION_ACTION_EXECUTION": discordgo.IntentAutoModerationExecution,
}

// wants reports whether a session identified with the intent an event
// needs.
func (sess *session) wants(name string) bool {
	need, ok := dispatchIntent[name]
	return !ok || sess.intent&need != 0
}
