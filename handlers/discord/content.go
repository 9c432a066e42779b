package discord

import (
	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
)

// Message content. MESSAGE_CONTENT is a privileged intent: without it
// Discord sends guild messages with their content, embeds, attachments
// and components empty and their poll left out, except the bot's own
// messages, DMs and messages that mention the bot (Discord API
// documentation, Gateway: Message Content Intent). chatwarden asks for it
// when the application has it turned on (the full or the limited flag)
// and discord.message_content is not false; otherwise it runs without:
// every message is still recorded, with who wrote it where and when, but
// its text is marked withheld (audit.ParamContentUnavailable) so that no
// surface shows an empty message as if it said nothing, an edit is not
// an edit to nothing, and the link filter, which has no text to read,
// is known to be blind (a warning at start, and in the doctor).

// Application flags that turn the privileged intents on.
const (
	appMembers    = 1 << 14 // GATEWAY_GUILD_MEMBERS
	appMembersLtd = 1 << 15 // GATEWAY_GUILD_MEMBERS_LIMITED
	appContent    = 1 << 18 // GATEWAY_MESSAGE_CONTENT
	appContentLtd = 1 << 19 // GATEWAY_MESSAGE_CONTENT_LIMITED
)

// contentEnabled reports whether an application may ask for
// MESSAGE_CONTENT.
func contentEnabled(app *discordgo.Application) bool {
	return app != nil && app.Flags&(appContent|appContentLtd) != 0
}

// chooseIntents sets the intents the next IDENTIFY asks for: Intents,
// without MESSAGE_CONTENT when the options or the application rule it
// out. It logs a warning when content is lost (at start, or after the
// intent was turned off in the portal) and when it comes back.
func (b *Bot) chooseIntents(app *discordgo.Application) {
	want := !b.opts.WithoutMessageContent && contentEnabled(app)
	intents := Intents
	if !want {
		intents &^= discordgo.IntentMessageContent
	}
	b.s.Identify.Intents = intents
	was, seen := b.content.Load(), b.contentSeen.Swap(true)
	b.content.Store(want)
	switch {
	case !want && (!seen || was):
		why := "MESSAGE CONTENT INTENT is off for the application in the developer portal"
		if b.opts.WithoutMessageContent {
			why = "discord.message_content is false"
		}
		b.log.Warn().Str("reason", why).
			Msg("discord: running without the Message Content intent: messages are recorded without their text (except those that mention the bot), and the link filter cannot see links in them")
	case want && seen && !was:
		b.log.Info().Msg("discord: the Message Content intent is back: messages are recorded with their text again")
	}
}

// withheld reports whether Discord left a guild message's content out
// because the session lacks MESSAGE_CONTENT: not for the bot's own
// messages (skipped anyway) nor for those that mention it, nor when text
// arrived all the same (a session resumed from before the intent was
// turned off).
func (b *Bot) withheld(m *discordgo.Message) bool {
	if b.content.Load() || m.GuildID == "" || m.Content != "" {
		return false
	}
	if b.self != nil {
		if m.Author != nil && m.Author.ID == b.self.ID {
			return false
		}
		for _, u := range m.Mentions {
			if u != nil && u.ID == b.self.ID {
				return false
			}
		}
	}
	return true
}

// markWithheld records that an event's message text was not available.
func markWithheld(e *audit.Event) {
	e.Params.Set(audit.ParamContentUnavailable, "true")
}

// contentLines are what /config show says first when the session runs
// without MESSAGE_CONTENT: moderators would otherwise take a quiet link
// filter for a clean server.
func (b *Bot) contentLines() []string {
	if b.content.Load() {
		return nil
	}
	return []string{"chatwarden runs without the Message Content intent: messages are recorded without their text " +
		"(except those that mention it), and the link filter cannot see links. Ask the bot's operator to turn it on: " +
		"chatwarden doctor says how."}
}
