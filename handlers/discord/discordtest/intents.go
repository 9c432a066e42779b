package discordtest

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// Gateway intents as Discord documents them (Gateway, "Gateway Intents"
// and "Message Content Intent"):
//
//   - each dispatch listed under an intent reaches only the sessions that
//     identified with it (dispatchIntent); the message, reaction, typing,
//     pin and poll events of a DM need the DIRECT_MESSAGE_* intent instead
//     of the GUILD_* one (dmIntent); GUILD_MEMBER_UPDATE of the bot's own
//     member reaches a session without GUILD_MEMBERS;
//   - without GUILD_PRESENCES (chatwarden does not ask for it), and in a
//     guild of over 75,000 members whatever the intents, GUILD_CREATE's
//     members and presences hold only the bot and the members in voice
//     channels (member_count still counts them all), so a bot must ask
//     for the rest (op 8, chunks.go, or REST); with GUILD_PRESENCES a
//     guild above the identify's large_threshold ("large": true) lists
//     the members who are online, have a role or a nickname, or are in
//     voice (the fake keeps no presences: none is online), a smaller one
//     every member (shownMembers);
//   - without MESSAGE_CONTENT, the content, embeds, attachments and
//     components of a message are empty and its poll absent, except in
//     DMs, in the bot's own messages and in messages that mention the
//     bot; over REST the same holds for an application without the
//     Message Content flag (blankForApp), whatever its sessions asked for;
//   - an IDENTIFY with unknown intent bits is closed with 4013 "Invalid
//     intent(s).", one with a privileged intent the application has not
//     turned on (GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT) with 4014
//     "Disallowed intent(s)." (checkIntents).

// Application flags that enable GUILD_PRESENCES (the limited one for an
// unverified application in fewer than 100 servers).
const (
	FlagGatewayPresence        = 1 << 12
	FlagGatewayPresenceLimited = 1 << 13
)

// knownIntents are the intent bits Discord documents; any other bit in an
// IDENTIFY is an invalid intent (close 4013).
const knownIntents = discordgo.Intent(1<<17-1) | 1<<20 | 1<<21 | 1<<24 | 1<<25

// Intents Discord documents that discordgo does not name.
const (
	intentGuildMessagePolls  discordgo.Intent = 1 << 24
	intentDirectMessagePolls discordgo.Intent = 1 << 25
)

// dispatchIntent is the gateway intent a dispatch needs (Discord API
// documentation, Gateway: list of intents); a session that did not
// identify with it never receives the event, as with Discord. Events not
// listed (READY, RESUMED, GUILD_MEMBERS_CHUNK, INTERACTION_CREATE...)
// reach every session.
var dispatchIntent = map[string]discordgo.Intent{
	"GUILD_CREATE": discordgo.IntentGuilds, "GUILD_UPDATE": discordgo.IntentGuilds, "GUILD_DELETE": discordgo.IntentGuilds,
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

	"PRESENCE_UPDATE": discordgo.IntentGuildPresences,

	"MESSAGE_CREATE": discordgo.IntentGuildMessages, "MESSAGE_UPDATE": discordgo.IntentGuildMessages,
	"MESSAGE_DELETE": discordgo.IntentGuildMessages, "MESSAGE_DELETE_BULK": discordgo.IntentGuildMessages,

	"MESSAGE_REACTION_ADD": discordgo.IntentGuildMessageReactions, "MESSAGE_REACTION_REMOVE": discordgo.IntentGuildMessageReactions,
	"MESSAGE_REACTION_REMOVE_ALL": discordgo.IntentGuildMessageReactions, "MESSAGE_REACTION_REMOVE_EMOJI": discordgo.IntentGuildMessageReactions,

	"TYPING_START": discordgo.IntentGuildMessageTyping,

	"GUILD_SCHEDULED_EVENT_CREATE": discordgo.IntentGuildScheduledEvents, "GUILD_SCHEDULED_EVENT_UPDATE": discordgo.IntentGuildScheduledEvents,
	"GUILD_SCHEDULED_EVENT_DELETE": discordgo.IntentGuildScheduledEvents, "GUILD_SCHEDULED_EVENT_USER_ADD": discordgo.IntentGuildScheduledEvents,
	"GUILD_SCHEDULED_EVENT_USER_REMOVE": discordgo.IntentGuildScheduledEvents,

	"AUTO_MODERATION_RULE_CREATE": discordgo.IntentAutoModerationConfiguration, "AUTO_MODERATION_RULE_UPDATE": discordgo.IntentAutoModerationConfiguration,
	"AUTO_MODERATION_RULE_DELETE":      discordgo.IntentAutoModerationConfiguration,
	"AUTO_MODERATION_ACTION_EXECUTION": discordgo.IntentAutoModerationExecution,

	"MESSAGE_POLL_VOTE_ADD": intentGuildMessagePolls, "MESSAGE_POLL_VOTE_REMOVE": intentGuildMessagePolls,
}

// dmIntent is the intent a dispatch needs when it happens in a DM (no
// guild_id): Discord lists these events under DIRECT_MESSAGES,
// DIRECT_MESSAGE_REACTIONS, DIRECT_MESSAGE_TYPING and DIRECT_MESSAGE_POLLS.
var dmIntent = map[string]discordgo.Intent{
	"MESSAGE_CREATE": discordgo.IntentDirectMessages, "MESSAGE_UPDATE": discordgo.IntentDirectMessages,
	"MESSAGE_DELETE": discordgo.IntentDirectMessages, "CHANNEL_PINS_UPDATE": discordgo.IntentDirectMessages,

	"MESSAGE_REACTION_ADD": discordgo.IntentDirectMessageReactions, "MESSAGE_REACTION_REMOVE": discordgo.IntentDirectMessageReactions,
	"MESSAGE_REACTION_REMOVE_ALL": discordgo.IntentDirectMessageReactions, "MESSAGE_REACTION_REMOVE_EMOJI": discordgo.IntentDirectMessageReactions,

	"TYPING_START": discordgo.IntentDirectMessageTyping,

	"MESSAGE_POLL_VOTE_ADD": intentDirectMessagePolls, "MESSAGE_POLL_VOTE_REMOVE": intentDirectMessagePolls,
}

// checkIntents is the close code and text Discord ends an IDENTIFY with
// for its intents given the application's flags, or 0.
func checkIntents(intents discordgo.Intent, flags int) (int, string) {
	if intents&^knownIntents != 0 || intents < 0 {
		return 4013, "Invalid intent(s)."
	}
	for _, p := range []struct {
		intent discordgo.Intent
		flags  int
	}{
		{discordgo.IntentGuildMembers, FlagGuildMembers | FlagGuildMembersLimited},
		{discordgo.IntentGuildPresences, FlagGatewayPresence | FlagGatewayPresenceLimited},
		{discordgo.IntentMessageContent, FlagMessageContent | FlagMessageContentLimited},
	} {
		if intents&p.intent != 0 && flags&p.flags == 0 {
			return 4014, "Disallowed intent(s)."
		}
	}
	return 0, ""
}

// payload is what shaping reads of a dispatch's data.
type payload struct {
	GuildID *string `json:"guild_id"`
	User    *struct {
		ID string `json:"id"`
	} `json:"user"`
}

// shape is a dispatch as one session receives it: ok is false when the
// session lacks the intent the event needs; the data is changed where the
// session's intents change what Discord sends (message content, GUILD_CREATE's
// members).
func (s *Server) shape(sess *session, name string, raw json.RawMessage) (json.RawMessage, bool) {
	need, gated := dispatchIntent[name]
	_, dm := dmIntent[name]
	if !gated && !dm {
		return raw, true
	}
	var p payload
	if (dm || name == "GUILD_MEMBER_UPDATE") && json.Unmarshal(raw, &p) != nil {
		return raw, sess.intent&need != 0
	}
	if dm && (p.GuildID == nil || *p.GuildID == "") {
		need = dmIntent[name]
	}
	if sess.intent&need == 0 {
		// The bot's own member update is sent regardless of GUILD_MEMBERS.
		own := name == "GUILD_MEMBER_UPDATE" && p.User != nil && p.User.ID == s.opts.AppID
		if !own {
			return raw, false
		}
	}
	switch name {
	case "MESSAGE_CREATE", "MESSAGE_UPDATE":
		if sess.intent&discordgo.IntentMessageContent == 0 {
			return s.withholdContent(raw), true
		}
	case "GUILD_CREATE":
		return s.guildMembersFor(sess, raw), true
	}
	return raw, true
}

// contentFields are the message fields the Message Content intent
// governs: emptied without it, poll left out.
var contentFields = map[string]json.RawMessage{
	"content": json.RawMessage(`""`), "embeds": json.RawMessage(`[]`),
	"attachments": json.RawMessage(`[]`), "components": json.RawMessage(`[]`),
}

// withholdContent empties a message's content fields unless one of the
// documented exceptions holds: a DM, the bot's own message, a message
// that mentions the bot.
func (s *Server) withholdContent(raw json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return raw
	}
	var head struct {
		GuildID  string                 `json:"guild_id"`
		Author   *struct{ ID string }   `json:"author"`
		Mentions []*struct{ ID string } `json:"mentions"`
	}
	if json.Unmarshal(raw, &head) != nil || head.GuildID == "" {
		return raw
	}
	if head.Author != nil && head.Author.ID == s.opts.AppID {
		return raw
	}
	for _, u := range head.Mentions {
		if u != nil && u.ID == s.opts.AppID {
			return raw
		}
	}
	for k, v := range contentFields {
		if _, ok := m[k]; ok || k == "content" {
			m[k] = v
		}
	}
	delete(m, "poll")
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}

// Thresholds of GUILD_CREATE's member list (Gateway Events, Identify
// and Request Guild Members).
const (
	largeThresholdMin = 50    // the identify's default and least large_threshold
	largeThresholdMax = 250   // its greatest
	voiceOnlyAbove    = 75000 // members: over it, only voice members whatever the intents
)

// guildMembersFor trims a GUILD_CREATE dispatched as JSON to the members
// a session gets (shownMembers).
func (s *Server) guildMembersFor(sess *session, raw json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return raw
	}
	var g discordgo.Guild
	if _, ok := m["members"]; !ok || json.Unmarshal(raw, &g) != nil || g.Unavailable || g.ID == "" {
		return raw // a hand-made dispatch without members, or an outage's stub
	}
	kept, count, large := s.shownMembers(sess, &g)
	m["members"], _ = json.Marshal(kept)
	m["member_count"], _ = json.Marshal(count)
	m["large"], _ = json.Marshal(large)
	m["presences"] = json.RawMessage(`[]`)
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}

// guildCreateFor is a guild's GUILD_CREATE as a session gets it, made
// from the fake's own copy (cheaper than trimming the JSON of every
// member at each identify). The caller holds s.mu.
func (s *Server) guildCreateFor(sess *session, g *discordgo.Guild) json.RawMessage {
	cp := *g
	cp.Large = g.Large || s.opts.LargeGuilds
	cp.Members, cp.MemberCount, cp.Large = s.shownMembers(sess, &cp)
	cp.Presences = []*discordgo.Presence{}
	raw, _ := json.Marshal(&cp)
	return raw
}

// shownMembers are the members of a guild's GUILD_CREATE to a session,
// as Discord documents them: "large" when member_count is above the
// session's large_threshold (or g.Large, Options.LargeGuilds); without
// GUILD_PRESENCES, or above 75,000 members, only the bot's member and
// those in voice channels; with it, in a large guild only the members
// who are online (none: the fake keeps no presences), have a role or a
// nickname, or are in voice, in a small one every member. count is the
// guild's member_count: every member.
func (s *Server) shownMembers(sess *session, g *discordgo.Guild) (kept []*discordgo.Member, count int, large bool) {
	count = max(g.MemberCount, len(g.Members))
	large = g.Large || count > sess.large
	inVoice := map[string]bool{s.opts.AppID: true}
	for _, v := range g.VoiceStates {
		if v != nil && v.ChannelID != "" {
			inVoice[v.UserID] = true
		}
	}
	x := s.voice()
	x.mu.Lock()
	for k, v := range x.states {
		if strings.HasPrefix(k, g.ID+"/") && v.ChannelID != "" {
			inVoice[v.UserID] = true
		}
	}
	x.mu.Unlock()
	presences := sess.intent&discordgo.IntentGuildPresences != 0 && count <= voiceOnlyAbove
	kept = []*discordgo.Member{}
	for _, mem := range g.Members {
		switch {
		case mem == nil || mem.User == nil:
		case inVoice[mem.User.ID], presences && !large, presences && (len(mem.Roles) > 0 || mem.Nick != ""):
			kept = append(kept, mem)
		}
	}
	return kept, count, large
}

// userMention is a user mention in message content: <@id> or <@!id>.
var userMention = regexp.MustCompile(`<@!?([0-9]{1,20})>`)

// mentions are the users a message's content mentions, as Discord fills
// a message's mentions: the bot's own user, a member's, or a bare user.
func (s *Server) mentions(guild, content string) []*discordgo.User {
	out := []*discordgo.User{}
	seen := map[string]bool{}
	for _, m := range userMention.FindAllStringSubmatch(content, -1) {
		id := m[1]
		if seen[id] {
			continue
		}
		seen[id] = true
		switch mem := s.member(guild, id); {
		case id == s.opts.AppID:
			out = append(out, s.botUser())
		case mem != nil && mem.User != nil:
			s.mu.Lock()
			u := *mem.User
			s.mu.Unlock()
			out = append(out, &u)
		default:
			out = append(out, &discordgo.User{ID: id})
		}
	}
	return out
}
