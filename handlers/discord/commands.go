package discord

import (
	"fmt"
	"slices"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/logentry"
)

// Permissions the commands require; Discord hides the commands from other
// members, and every interaction is checked again here.
const (
	permAudit  = discordgo.PermissionViewAuditLogs
	permConfig = discordgo.PermissionManageGuild
)

// ReportCommand is the message command members use to report a message.
const ReportCommand = "Report to moderators"

func int64p(v int64) *int64 { return &v }

// commandSet is what the bot registers with one bulk overwrite.
func commandSet() []*discordgo.ApplicationCommand {
	guildOnly := &[]discordgo.InteractionContextType{discordgo.InteractionContextGuild}
	str := func(name, desc string) *discordgo.ApplicationCommandOption {
		return &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: name, Description: desc}
	}
	filters := []*discordgo.ApplicationCommandOption{
		str("type", "event types or a preset (members, messages, moderation, server, roles, permissions, voice, automod)"),
		{Type: discordgo.ApplicationCommandOptionUser, Name: "user", Description: "actor or target"},
		{Type: discordgo.ApplicationCommandOptionChannel, Name: "channel", Description: "where it happened"},
		str("since", "24h, 7d or a date"),
		str("until", "24h, 7d or a date"),
	}
	limit := &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionInteger, Name: "limit",
		Description: "entries per page (1-25)", MinValue: ptrFloat(1), MaxValue: 25}
	locales := []*discordgo.ApplicationCommandOptionChoice{}
	for _, l := range logentry.Locales() {
		locales = append(locales, &discordgo.ApplicationCommandOptionChoice{Name: l, Value: l})
	}
	return []*discordgo.ApplicationCommand{
		{Name: "audit", Description: "Search the audit log", DefaultMemberPermissions: int64p(permAudit), Contexts: guildOnly,
			Options: []*discordgo.ApplicationCommandOption{
				{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "search", Description: "Search entries", Options: append(slices.Clone(filters), limit)},
				{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "user", Description: "A member's timeline",
					Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionUser, Name: "user", Description: "the member", Required: true}}},
				{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "stats", Description: "Counts per type",
					Options: []*discordgo.ApplicationCommandOption{str("since", "24h, 7d or a date")}},
				{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "viewer", Description: "A one-time link to the web viewer (only you see it)"},
				{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "erase", Description: "Erase a member's personal data (owner or Administrator; asks to confirm)",
					Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionUser, Name: "member", Description: "the member", Required: true}}},
				{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "export", Description: "Export entries as a file",
					Options: append([]*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionString, Name: "format",
						Description: "ndjson or csv", Choices: []*discordgo.ApplicationCommandOptionChoice{{Name: "ndjson", Value: "ndjson"}, {Name: "csv", Value: "csv"}}}},
						filters...)},
			}},
		{Name: "config", Description: "Configure chatwarden", DefaultMemberPermissions: int64p(permConfig), Contexts: guildOnly,
			Options: []*discordgo.ApplicationCommandOption{
				{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "log-channel", Description: "Send entries to a channel",
					Options: []*discordgo.ApplicationCommandOption{
						{Type: discordgo.ApplicationCommandOptionChannel, Name: "channel", Description: "the log channel", Required: true,
							ChannelTypes: []discordgo.ChannelType{discordgo.ChannelTypeGuildText, discordgo.ChannelTypeGuildNews}},
						str("types", "types or presets: all, members, messages, moderation, server, permissions, ...")}},
				{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "log-channel-remove", Description: "Stop sending entries to a channel",
					Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionChannel, Name: "channel", Description: "the log channel", Required: true}}},
				{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "locale", Description: "Language of log entries",
					Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionString, Name: "locale", Description: "en, fr or hi", Required: true, Choices: locales}}},
				{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "show", Description: "Show the settings"},
				{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "doctor", Description: "Check the bot's permissions, roles and log channels here"},
				{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "set", Description: "Change a moderation or verification setting",
					Options: []*discordgo.ApplicationCommandOption{
						{Type: discordgo.ApplicationCommandOptionString, Name: "key", Description: "the setting, e.g. link_filter.denylist", Required: true, Autocomplete: true},
						{Type: discordgo.ApplicationCommandOptionString, Name: "value", Description: "the new value; default returns it to the bot's default", Required: true}}},
				{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "verification", Description: "Turn on member verification and post the Verify button",
					Options: []*discordgo.ApplicationCommandOption{
						{Type: discordgo.ApplicationCommandOptionChannel, Name: "channel", Description: "where members press Verify",
							ChannelTypes: []discordgo.ChannelType{discordgo.ChannelTypeGuildText, discordgo.ChannelTypeGuildNews}},
						{Type: discordgo.ApplicationCommandOptionRole, Name: "role", Description: "the role members get when they pass"},
						{Type: discordgo.ApplicationCommandOptionString, Name: "kind", Description: "button or math",
							Choices: []*discordgo.ApplicationCommandOptionChoice{{Name: "button", Value: "button"}, {Name: "math", Value: "math"}}},
						str("timeout", "time to pass, e.g. 5m (30s to 24h)")}},
				{Type: discordgo.ApplicationCommandOptionSubCommandGroup, Name: "api-token", Description: "Tokens of the HTTP API for this server",
					Options: []*discordgo.ApplicationCommandOption{
						{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "create", Description: "Create a token (shown once)",
							Options: []*discordgo.ApplicationCommandOption{str("label", "a note to recognise it by")}},
						{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "list", Description: "List the tokens"},
						{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "revoke", Description: "Revoke a token",
							Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionString, Name: "id", Description: "the token's id, as listed", Required: true}}},
					}},
			}},
		{Name: ReportCommand, Type: discordgo.MessageApplicationCommand, Contexts: guildOnly},
	}
}

func ptrFloat(v float64) *float64 { return &v }

// registerCommands replaces the bot's commands with one bulk overwrite.
func (b *Bot) registerCommands() error {
	if _, err := b.s.ApplicationCommandBulkOverwrite(b.self.ID, b.opts.DevGuildID, commandSet()); err != nil {
		if unauthorized(err) { // the token was reset since Run checked it
			return tokenRejected()
		}
		return fmt.Errorf("discord: register commands: %w", err)
	}
	return nil
}

// reply answers an interaction ephemerally with text.
func (b *Bot) reply(i *discordgo.Interaction, text string) {
	err := b.s.InteractionRespond(i, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Content: audit.Cut(text, 2000), Flags: discordgo.MessageFlagsEphemeral,
			AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}},
	})
	if err != nil {
		b.log.Warn().Err(err).Msg("answer interaction")
	}
}

// deferReply acknowledges within Discord's 3 seconds; the answer follows
// with edit.
func (b *Bot) deferReply(i *discordgo.Interaction, update bool) error {
	typ := discordgo.InteractionResponseDeferredChannelMessageWithSource
	if update {
		typ = discordgo.InteractionResponseDeferredMessageUpdate
	}
	return b.s.InteractionRespond(i, &discordgo.InteractionResponse{Type: typ,
		Data: &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral}})
}

func (b *Bot) edit(i *discordgo.Interaction, w *discordgo.WebhookEdit) {
	w.AllowedMentions = &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
	if _, err := b.s.InteractionResponseEdit(i, w); err != nil {
		b.log.Warn().Err(err).Msg("edit interaction response")
	}
}

func (b *Bot) editText(i *discordgo.Interaction, text string) {
	text = audit.Cut(text, 2000)
	b.edit(i, &discordgo.WebhookEdit{Content: &text, Embeds: &[]*discordgo.MessageEmbed{}, Components: &[]discordgo.MessageComponent{}})
}

// allowed reports whether the interaction's member has perm in the guild:
// Discord computes the member's permissions into the interaction itself.
func allowed(i *discordgo.Interaction, perm int64) bool {
	return i.Member != nil && (i.Member.Permissions&perm != 0 || i.Member.Permissions&discordgo.PermissionAdministrator != 0)
}

func (b *Bot) scope(i *discordgo.Interaction) command.Scope {
	return command.Scope{Platform: audit.Discord, Property: i.GuildID}
}

func (b *Bot) admin(i *discordgo.Interaction) command.Admin {
	u := i.Member.User
	return command.Admin{ID: u.ID, Name: displayName(u, i.Member)}
}

func (b *Bot) onInteraction(i *discordgo.Interaction) {
	if i.GuildID == "" || i.Member == nil || i.Member.User == nil {
		b.reply(i, "chatwarden's commands work in servers only.")
		return
	}
	switch i.Type {
	case discordgo.InteractionApplicationCommand:
		data := i.ApplicationCommandData()
		switch data.Name {
		case "audit":
			b.onAudit(i, data)
		case "config":
			b.onConfig(i, data)
		case ReportCommand:
			b.onReport(i, data)
		default:
			b.reply(i, "Unknown command.")
		}
	case discordgo.InteractionApplicationCommandAutocomplete:
		if !allowed(i, permConfig) {
			b.s.InteractionRespond(i, &discordgo.InteractionResponse{Type: discordgo.InteractionApplicationCommandAutocompleteResult,
				Data: &discordgo.InteractionResponseData{Choices: []*discordgo.ApplicationCommandOptionChoice{}}})
			return
		}
		b.onSettingAutocomplete(i)
	case discordgo.InteractionMessageComponent:
		id := i.MessageComponentData().CustomID
		switch kindOf(id) {
		case buttonVerification:
			b.onVerificationPress(i, id)
		case buttonPage:
			b.onPage(i, id)
		case buttonReversal:
			b.onReversal(i, id)
		case buttonRaid:
			b.onRaidPress(i, id)
		case buttonErase:
			b.onErasePress(i, id)
		default:
			b.reply(i, "This button is not chatwarden's, or has expired.")
		}
	}
}

// options flattens a subcommand's options by name.
func options(opts []*discordgo.ApplicationCommandInteractionDataOption) map[string]*discordgo.ApplicationCommandInteractionDataOption {
	m := make(map[string]*discordgo.ApplicationCommandInteractionDataOption, len(opts))
	for _, o := range opts {
		m[o.Name] = o
	}
	return m
}

func optString(m map[string]*discordgo.ApplicationCommandInteractionDataOption, name string) string {
	if o, ok := m[name]; ok {
		switch v := o.Value.(type) {
		case string:
			return v
		case float64:
			return fmt.Sprint(int64(v))
		}
	}
	return ""
}
