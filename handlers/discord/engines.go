package discord

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/verification"
)

// The wiring of the moderation and verification engines: the Bot is
// their platform.Actions and Directory (directory.go); the platform-only
// sources (integrations from the audit log, verification button presses,
// the /config subcommands) are fed to them here.

// Audit-log actions that add an integration to a guild.
const (
	auditBotAdd            = discordgo.AuditLogActionBotAdd            // 28
	auditWebhookCreate     = discordgo.AuditLogActionWebhookCreate     // 50
	auditIntegrationCreate = discordgo.AuditLogActionIntegrationCreate // 80
)

// paramAddedBy names who added a member on USER_JOIN
// (verification.ParamAddedBy).
const paramAddedBy = verification.ParamAddedBy

// attachEngines registers the Bot with the engines when the gateway's
// first READY is handled (gateway.go): from then on they may act and ask.
func (b *Bot) attachEngines() {
	if b.opts.Moderation != nil {
		b.opts.Moderation.Attach(b, b)
	}
	if b.opts.Verification != nil {
		b.opts.Verification.Attach(b, b)
	}
}

// onIntegrationEntry reports a bot, webhook or integration that an audit
// entry says was added to the moderation engine's integration guard.
func (b *Bot) onIntegrationEntry(a *discordgo.GuildAuditLogEntryCreate) {
	if b.opts.Moderation == nil || a.TargetID == "" || a.GuildID == "" {
		return
	}
	in := moderation.Integration{Platform: audit.Discord, Property: a.GuildID, ID: a.TargetID,
		Name: auditChange(a.Changes, discordgo.AuditLogChangeKeyName), AddedBy: a.UserID,
		ChannelID: auditChange(a.Changes, discordgo.AuditLogChangeKeyChannelID), Time: snowflakeTime(a.ID, time.Now())}
	switch *a.ActionType {
	case auditBotAdd:
		in.Kind = moderation.IntegrationBot
	case auditWebhookCreate:
		in.Kind = moderation.IntegrationWebhook
	case auditIntegrationCreate:
		in.Kind = moderation.IntegrationApp
	default:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if in.Kind == moderation.IntegrationBot && in.Name == "" {
		if m, err := b.member(ctx, a.GuildID, a.TargetID); err == nil {
			b.s.State.RLock()
			in.Name = displayName(m.User, m)
			b.s.State.RUnlock()
		}
	}
	if in.AddedBy != "" {
		if m, err := b.member(ctx, a.GuildID, in.AddedBy); err == nil {
			b.s.State.RLock()
			in.AddedByName = displayName(m.User, m)
			b.s.State.RUnlock()
		}
	}
	if in.Name == "" {
		in.Name = in.ID
	}
	if err := b.opts.Moderation.OnIntegration(ctx, in); err != nil && !errors.Is(err, moderation.ErrClosed) {
		b.log.Error().Err(err).Str("guild", a.GuildID).Str("integration", in.ID).Msg("report an integration")
	}
}

// auditChange returns the new (else old) string value of one key among
// an audit entry's changes.
func auditChange(changes []*discordgo.AuditLogChange, key discordgo.AuditLogChangeKey) string {
	for _, c := range changes {
		if c == nil || c.Key == nil || *c.Key != key {
			continue
		}
		if s, ok := c.NewValue.(string); ok {
			return s
		}
		if s, ok := c.OldValue.(string); ok {
			return s
		}
	}
	return ""
}

// pressBudget is how long a verification press may take before the bot
// acknowledges it and edits the answer in later: Discord drops an
// interaction not answered within 3 s.
const pressBudget = 2 * time.Second

// onVerificationPress serves a press of a verification button: the
// engine checks the data (signed, bound to the guild and the member) and
// says what to show; the bot renders it as an update of the pressed
// message (type 7) or a new ephemeral message (type 4).
func (b *Bot) onVerificationPress(i *discordgo.Interaction, data string) {
	if b.opts.Verification == nil {
		b.reply(i, "Verification is not enabled on this bot.")
		return
	}
	user := i.Member.User.ID
	type result struct {
		r   verification.Reply
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r, err := b.opts.Verification.OnPress(ctx, i.GuildID, user, data)
		done <- result{r, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(pressBudget):
		// Too slow for a direct answer: acknowledge, then edit.
		if err := b.deferReply(i, verificationAnswer(data)); err != nil {
			b.log.Warn().Err(err).Msg("acknowledge a verification press")
		}
		res = <-done
		if res.err != nil {
			b.log.Error().Err(res.err).Str("guild", i.GuildID).Str("user", user).Msg("verification press")
		}
		if res.r.Text == "" {
			res.r.Text = "Something went wrong; please try again in a moment."
		}
		text := audit.Cut(res.r.Text, 2000)
		comps := verificationComponents(res.r.Buttons)
		b.edit(i, &discordgo.WebhookEdit{Content: &text, Components: &comps})
		return
	}
	if res.err != nil {
		b.log.Error().Err(res.err).Str("guild", i.GuildID).Str("user", user).Msg("verification press")
	}
	if res.r.Text == "" {
		res.r.Text = "Something went wrong; please try again in a moment."
	}
	typ := discordgo.InteractionResponseChannelMessageWithSource
	var flags discordgo.MessageFlags = discordgo.MessageFlagsEphemeral
	if res.r.Update {
		typ, flags = discordgo.InteractionResponseUpdateMessage, 0
	}
	err := b.s.InteractionRespond(i, &discordgo.InteractionResponse{Type: typ,
		Data: &discordgo.InteractionResponseData{Content: audit.Cut(res.r.Text, 2000), Flags: flags,
			Components:      verificationComponents(res.r.Buttons),
			AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}}})
	if err != nil {
		b.log.Warn().Err(err).Msg("answer a verification press")
	}
}

// verificationComponents lays out a reply's buttons; never nil, so that
// an update without buttons removes the old ones.
func verificationComponents(buttons []platform.Button) []discordgo.MessageComponent {
	if c := components(buttons); c != nil {
		return c
	}
	return []discordgo.MessageComponent{}
}

// onConfigSet serves /config set key: value: over the engine settings.
func (b *Bot) onConfigSet(i *discordgo.Interaction, opts map[string]*discordgo.ApplicationCommandInteractionDataOption) {
	key, value := optString(opts, "key"), optString(opts, "value")
	cfg := b.settingsCore()
	if _, err := cfg.SetEngineSetting(context.Background(), b.scope(i), b.admin(i), key, value); err != nil {
		b.replyErr(i, err, "config set")
		return
	}
	shown := value
	if strings.TrimSpace(shown) == "" {
		shown = "default"
	}
	b.reply(i, fmt.Sprintf("%s is now %s.", strings.ToLower(strings.TrimSpace(key)), shown))
}

func (b *Bot) settingsCore() *command.Settings {
	return &command.Settings{Store: b.opts.Store, Router: b.opts.Router, Recorder: b.opts.Recorder}
}

// replyErr answers a failed command: a bad argument with its message,
// anything else with an apology (and the log).
func (b *Bot) replyErr(i *discordgo.Interaction, err error, what string) {
	if errors.Is(err, command.ErrBadArgument) {
		b.reply(i, err.Error())
		return
	}
	b.log.Error().Err(err).Str("guild", i.GuildID).Msg(what)
	b.reply(i, "The change could not be saved; try again.")
}

// onSettingAutocomplete suggests engine setting keys as the admin types.
func (b *Bot) onSettingAutocomplete(i *discordgo.Interaction) {
	var typed string
	data := i.ApplicationCommandData()
	var walk func(opts []*discordgo.ApplicationCommandInteractionDataOption)
	walk = func(opts []*discordgo.ApplicationCommandInteractionDataOption) {
		for _, o := range opts {
			if o.Focused {
				if s, ok := o.Value.(string); ok {
					typed = s
				}
			}
			walk(o.Options)
		}
	}
	walk(data.Options)
	typed = strings.ToLower(strings.TrimSpace(typed))
	var choices []*discordgo.ApplicationCommandOptionChoice
	for _, k := range command.EngineSettingKeys() {
		if len(choices) == 25 {
			break
		}
		if strings.Contains(k, typed) {
			choices = append(choices, &discordgo.ApplicationCommandOptionChoice{Name: k, Value: k})
		}
	}
	err := b.s.InteractionRespond(i, &discordgo.InteractionResponse{
		Type: discordgo.InteractionApplicationCommandAutocompleteResult,
		Data: &discordgo.InteractionResponseData{Choices: choices}})
	if err != nil {
		b.log.Warn().Err(err).Msg("answer autocomplete")
	}
}

// onConfigVerification serves /config verification channel: role: kind:
// timeout:: each given option is saved (and recorded), verification is
// turned on, and the Verify button is posted in the channel.
func (b *Bot) onConfigVerification(i *discordgo.Interaction, opts map[string]*discordgo.ApplicationCommandInteractionDataOption) {
	if b.opts.Verification == nil {
		b.reply(i, "Verification is not enabled on this bot.")
		return
	}
	if optString(opts, "channel") == "" {
		if set := b.settings(i.GuildID); set.Verification == nil || set.Verification.ChannelID == "" {
			b.reply(i, "channel: choose the channel where members press Verify.")
			return
		}
	}
	if err := b.deferReply(i, false); err != nil {
		b.log.Warn().Err(err).Msg("acknowledge /config verification")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := b.settingsCore()
	for _, o := range []struct{ opt, key string }{{"channel", "verification.channel"}, {"role", "verification.role"},
		{"kind", "verification.kind"}, {"timeout", "verification.timeout"}} {
		v := optString(opts, o.opt)
		if v == "" {
			continue
		}
		if _, err := cfg.SetEngineSetting(ctx, b.scope(i), b.admin(i), o.key, v); err != nil {
			b.editErr(i, err, "config verification")
			return
		}
	}
	set, err := cfg.SetEngineSetting(ctx, b.scope(i), b.admin(i), "verification.enabled", "on")
	if err != nil {
		b.editErr(i, err, "config verification")
		return
	}
	id, err := b.opts.Verification.PostPrompt(ctx, audit.Discord, i.GuildID)
	if err != nil {
		b.log.Warn().Err(err).Str("guild", i.GuildID).Msg("post the Verify button")
		msg := "Verification is on, but the Verify button could not be posted"
		if errors.Is(err, platform.ErrForbidden) {
			msg += ": chatwarden may not post in that channel"
		}
		b.editText(i, msg+". Fix it and run /config verification again.")
		return
	}
	if err := b.savePrompt(ctx, i.GuildID, id); err != nil {
		b.log.Error().Err(err).Str("guild", i.GuildID).Msg("save the Verify button's id")
	}
	v := set.Verification
	if v == nil {
		v = &settings.Verification{}
	}
	var parts []string
	if v.RoleID != "" {
		parts = append(parts, "members who pass get <@&"+v.RoleID+">")
	}
	if v.Kind != "" {
		parts = append(parts, "kind "+v.Kind)
	}
	if v.TimeoutSeconds > 0 {
		parts = append(parts, "timeout "+(time.Duration(v.TimeoutSeconds)*time.Second).String())
	}
	text := "Verification is on: the Verify button is posted in <#" + v.ChannelID + ">."
	if len(parts) > 0 {
		text += " " + strings.Join(parts, ", ") + "."
	}
	b.editText(i, text)
}

// settings returns a guild's saved settings (the router's copy).
func (b *Bot) settings(guild string) settings.Community {
	if b.opts.Router != nil {
		return b.opts.Router.Settings(audit.Discord, guild)
	}
	s, _ := b.opts.Store.Settings(context.Background(), audit.Discord, guild)
	return s
}

// savePrompt keeps the posted Verify button's id in the settings.
func (b *Bot) savePrompt(ctx context.Context, guild, id string) error {
	_, updated, err := b.opts.Store.UpdateSettings(ctx, audit.Discord, guild, func(s *settings.Community) error {
		if s.Verification == nil {
			s.Verification = &settings.Verification{}
		}
		s.Verification.PromptMessageID = id
		return nil
	})
	if err != nil {
		return fmt.Errorf("save the prompt id: %w", err)
	}
	if b.opts.Router != nil {
		b.opts.Router.Update(audit.Discord, guild, updated)
	}
	return nil
}

// editErr is replyErr for a deferred answer.
func (b *Bot) editErr(i *discordgo.Interaction, err error, what string) {
	if errors.Is(err, command.ErrBadArgument) {
		b.editText(i, err.Error())
		return
	}
	b.log.Error().Err(err).Str("guild", i.GuildID).Msg(what)
	b.editText(i, "The change could not be saved; try again.")
}

// onAPIToken serves /config api-token create [label] | list | revoke id:.
// A new token is shown once, to the admin only, and never logged.
func (b *Bot) onAPIToken(i *discordgo.Interaction, group *discordgo.ApplicationCommandInteractionDataOption) {
	if b.opts.Tokens == nil {
		b.reply(i, "The HTTP API is not enabled on this bot.")
		return
	}
	if len(group.Options) != 1 {
		b.reply(i, "Choose create, list or revoke.")
		return
	}
	sub := group.Options[0]
	opts := options(sub.Options)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	scope := b.scope(i)
	switch sub.Name {
	case "create":
		token, info, err := b.opts.Tokens.Create(ctx, scope.Platform, scope.Property, b.admin(i), optString(opts, "label"))
		if err != nil {
			if errors.Is(err, command.ErrTooManyTokens) {
				b.reply(i, command.ErrTooManyTokens.Error())
				return
			}
			b.log.Error().Err(err).Str("guild", i.GuildID).Msg("create an API token")
			b.reply(i, "The token could not be created; try again.")
			return
		}
		b.reply(i, fmt.Sprintf("New API token (id %s). It is shown only now: copy it and keep it secret.\n`%s`", info.ID, token))
	case "list":
		list, err := b.opts.Tokens.List(ctx, scope.Platform, scope.Property)
		if err != nil {
			b.log.Error().Err(err).Str("guild", i.GuildID).Msg("list API tokens")
			b.reply(i, "The tokens could not be read; try again.")
			return
		}
		if len(list) == 0 {
			b.reply(i, "This server has no API tokens.")
			return
		}
		lines := []string{"API tokens:"}
		for _, t := range list {
			line := fmt.Sprintf("`%s` created <t:%d:f> by %s", t.ID, t.Created.Unix(), escapeMarkdown(t.CreatedByName))
			if t.Label != "" {
				line += " · " + escapeMarkdown(t.Label)
			}
			lines = append(lines, line)
		}
		b.reply(i, strings.Join(lines, "\n"))
	case "revoke":
		info, err := b.opts.Tokens.Revoke(ctx, scope.Platform, scope.Property, strings.TrimSpace(optString(opts, "id")), b.admin(i))
		switch {
		case errors.Is(err, command.ErrTokenNotFound):
			b.reply(i, "No such token in this server: see /config api-token list.")
		case err != nil && info.ID != "":
			b.log.Error().Err(err).Str("guild", i.GuildID).Msg("revoke an API token")
			b.reply(i, "Token "+info.ID+" is revoked, but the change could not be recorded.")
		case err != nil:
			b.log.Error().Err(err).Str("guild", i.GuildID).Msg("revoke an API token")
			b.reply(i, "The token could not be revoked; try again.")
		default:
			b.reply(i, "Token "+info.ID+" is revoked.")
		}
	default:
		b.reply(i, "Choose create, list or revoke.")
	}
}
