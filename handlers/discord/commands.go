package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/store"
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

func (b *Bot) onAudit(i *discordgo.Interaction, data discordgo.ApplicationCommandInteractionData) {
	if !allowed(i, permAudit) {
		b.reply(i, "You need the View Audit Log permission.")
		return
	}
	if len(data.Options) != 1 {
		b.reply(i, "Choose a subcommand.")
		return
	}
	sub := data.Options[0]
	opts := options(sub.Options)
	search := command.Search{Types: optString(opts, "type"), User: optString(opts, "user"),
		Channel: optString(opts, "channel"), Since: optString(opts, "since"), Until: optString(opts, "until")}
	switch sub.Name {
	case "search", "user":
		if n := optString(opts, "limit"); n != "" {
			fmt.Sscan(n, &search.Limit)
		}
		q, err := search.Query(b.scope(i), time.Now())
		if err != nil {
			b.reply(i, err.Error())
			return
		}
		if err := b.deferReply(i, false); err != nil {
			b.log.Warn().Err(err).Msg("defer")
			return
		}
		b.showPage(i, q, "")
	case "stats":
		since, err := command.ParseTime(optString(opts, "since"), time.Now())
		if err != nil {
			b.reply(i, "since: "+err.Error())
			return
		}
		if err := b.deferReply(i, false); err != nil {
			return
		}
		counts, err := b.opts.Store.Counts(context.Background(), audit.Discord, i.GuildID, since, time.Time{})
		if err != nil {
			b.editText(i, "The audit log could not be read; try again.")
			return
		}
		em := &discordgo.MessageEmbed{Title: "Audit log statistics"}
		for _, t := range audit.EventTypes() {
			if n := counts[t]; n > 0 {
				em.Fields = append(em.Fields, &discordgo.MessageEmbedField{Name: t.String(), Value: fmt.Sprint(n), Inline: true})
			}
		}
		if len(em.Fields) == 0 {
			em.Description = "No entries."
		}
		b.edit(i, &discordgo.WebhookEdit{Embeds: &[]*discordgo.MessageEmbed{em}})
	case "export":
		q, err := search.Query(b.scope(i), time.Now())
		if err != nil {
			b.reply(i, err.Error())
			return
		}
		if err := b.deferReply(i, false); err != nil {
			return
		}
		b.export(i, q, optString(opts, "format"))
	default:
		b.reply(i, "Unknown subcommand.")
	}
}

// exportLimit keeps exports under Discord's smallest upload limit.
const exportLimit = 8 << 20

func (b *Bot) export(i *discordgo.Interaction, q store.Query, format string) {
	var buf bytes.Buffer
	n, truncated := 0, false
	enc := json.NewEncoder(&buf)
	err := b.opts.Store.Scan(context.Background(), q, func(e *audit.Event) error {
		if buf.Len() > exportLimit {
			truncated = true
			return errStop
		}
		n++
		return enc.Encode(e)
	})
	if err != nil && !errors.Is(err, errStop) {
		b.editText(i, "The audit log could not be read; try again.")
		return
	}
	name := "audit.ndjson"
	if format == "csv" {
		csvData, err := ndjsonToCSV(buf.Bytes())
		if err != nil {
			b.editText(i, "The export failed; try again.")
			return
		}
		buf.Reset()
		buf.Write(csvData)
		name = "audit.csv"
	}
	msg := fmt.Sprintf("%d entries.", n)
	if truncated {
		msg += " The file stops at 8 MiB: narrow the filters or use the HTTP API for everything."
	}
	b.edit(i, &discordgo.WebhookEdit{Content: &msg, Files: []*discordgo.File{{Name: name, ContentType: "text/plain", Reader: &buf}}})
}

var errStop = errors.New("stop")

func (b *Bot) onConfig(i *discordgo.Interaction, data discordgo.ApplicationCommandInteractionData) {
	if !allowed(i, permConfig) {
		b.reply(i, "You need the Manage Server permission.")
		return
	}
	if len(data.Options) != 1 || b.opts.Router == nil {
		b.reply(i, "Choose a subcommand.")
		return
	}
	sub := data.Options[0]
	opts := options(sub.Options)
	cfg := &command.Settings{Store: b.opts.Store, Router: b.opts.Router, Recorder: b.opts.Recorder}
	ctx := context.Background()
	var err error
	var done string
	switch sub.Name {
	case "log-channel":
		ch := optString(opts, "channel")
		_, err = cfg.SetLogChannel(ctx, b.scope(i), b.admin(i), ch, optString(opts, "types"))
		if err == nil && b.deliverer != nil {
			b.deliverer.Resume(ch)
		}
		done = "Log entries will be posted in <#" + ch + ">."
	case "log-channel-remove":
		_, err = cfg.RemoveLogChannel(ctx, b.scope(i), b.admin(i), optString(opts, "channel"))
		done = "That channel no longer receives log entries."
	case "locale":
		_, err = cfg.SetLocale(ctx, b.scope(i), b.admin(i), optString(opts, "locale"))
		done = "Log entries will be written in " + optString(opts, "locale") + "."
	case "show":
		set := b.opts.Router.Settings(audit.Discord, i.GuildID)
		lines := command.Show(set, b.opts.Router.Locale(audit.Discord, ""))
		lines = append(lines, command.ShowEngineSettings(set)...)
		// What a missing permission costs comes first: a long answer is
		// cut at Discord's 2000 characters.
		lines = append(permissionLines(i.AppPermissions), lines...)
		b.reply(i, strings.Join(lines, "\n"))
		return
	case "set":
		b.onConfigSet(i, opts)
		return
	case "verification":
		b.onConfigVerification(i, opts)
		return
	case "api-token":
		b.onAPIToken(i, sub)
		return
	default:
		err = errors.New("unknown subcommand")
	}
	if err != nil {
		if errors.Is(err, command.ErrBadArgument) {
			b.reply(i, err.Error())
		} else {
			b.log.Error().Err(err).Msg("config command")
			b.reply(i, "The change could not be saved; try again.")
		}
		return
	}
	b.reply(i, done)
}

// onReport records MESSAGE_REPORT; the log channels get it by routing.
func (b *Bot) onReport(i *discordgo.Interaction, data discordgo.ApplicationCommandInteractionData) {
	if data.Resolved == nil || data.Resolved.Messages[data.TargetID] == nil {
		b.reply(i, "That message could not be read.")
		return
	}
	m := data.Resolved.Messages[data.TargetID]
	e := b.event(i.GuildID, audit.MessageReport, "INTERACTION_CREATE")
	e.Function = audit.FuncReport
	b.setActor(e, i.Member.User, i.Member)
	e.ChannelID, e.MessageID, e.Content = m.ChannelID, m.ID, m.Content
	if m.Author != nil {
		e.TargetIDs = []string{m.Author.ID}
		e.Params.Set(audit.ParamTargetName, displayName(m.Author, nil))
		e.Params.Set(audit.ParamReportedAuthor, m.Author.ID)
	}
	e.Params.Set(audit.ParamReportedID, m.ID)
	e.Params.Set(audit.ParamLink, fmt.Sprintf("https://discord.com/channels/%s/%s/%s", i.GuildID, m.ChannelID, m.ID))
	if err := b.record(context.Background(), e); err != nil {
		b.reply(i, "The report could not be saved; try again.")
		return
	}
	b.reply(i, "Thank you: the moderators have been told.")
}

// showPage runs q and shows one page with Older/Newer buttons whose state
// is saved under an id only the invoker of this guild can use.
func (b *Bot) showPage(i *discordgo.Interaction, q store.Query, pageID string) {
	page, err := b.opts.Store.Query(context.Background(), q)
	if err != nil {
		b.editText(i, "The audit log could not be read; try again.")
		return
	}
	if pageID == "" {
		pages := command.Pages{Store: b.opts.Store}
		st := command.PageState{Scope: b.scope(i), Invoker: i.Member.User.ID, Query: q}
		st.Query.Cursor = ""
		if pageID, err = pages.Save(st); err != nil {
			b.editText(i, "The results could not be saved; try again.")
			return
		}
	}
	locale := "en"
	if b.opts.Router != nil {
		locale = b.opts.Router.Locale(audit.Discord, i.GuildID)
	}
	var lines []string
	for _, e := range page.Events {
		en := logentry.Render(e, locale)
		lines = append(lines, fmt.Sprintf("<t:%d:f> %s · `%s` · `%s`", e.Time.Unix(), escapeMarkdown(en.Summary), e.Type, e.ID))
	}
	desc := strings.Join(lines, "\n")
	if desc == "" {
		desc = "No entries match."
	}
	em := &discordgo.MessageEmbed{Title: "Audit log", Description: cut(desc, maxDescription)}
	var buttons []discordgo.MessageComponent
	if page.Newer != "" {
		buttons = append(buttons, discordgo.Button{Label: "Newer", Style: discordgo.SecondaryButton, CustomID: pageCustomID(pageID, page.Newer)})
	}
	if page.Older != "" {
		buttons = append(buttons, discordgo.Button{Label: "Older", Style: discordgo.SecondaryButton, CustomID: pageCustomID(pageID, page.Older)})
	}
	comps := []discordgo.MessageComponent{}
	if len(buttons) > 0 {
		comps = append(comps, discordgo.ActionsRow{Components: buttons})
	}
	b.edit(i, &discordgo.WebhookEdit{Embeds: &[]*discordgo.MessageEmbed{em}, Components: &comps})
}

// onPage serves an Older/Newer press: only the invoker, only in the guild
// the search ran in, and the cursor must belong to that search.
func (b *Bot) onPage(i *discordgo.Interaction, customID string) {
	pageID, cursor, ok := parsePageCustomID(customID)
	if !ok {
		b.reply(i, "This button has expired.")
		return
	}
	pages := command.Pages{Store: b.opts.Store}
	st, err := pages.Load(pageID, b.scope(i), i.Member.User.ID)
	if err != nil {
		b.reply(i, err.Error())
		return
	}
	q := st.Query
	q.Cursor = cursor
	if _, err := b.opts.Store.Query(context.Background(), q); err != nil {
		b.reply(i, "This button does not belong to these results.")
		return
	}
	if err := b.deferReply(i, true); err != nil {
		return
	}
	b.showPage(i, q, pageID)
}
