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
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/settings"
)

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
	cfg := &command.Settings{Store: b.opts.Store, Router: b.opts.Router, Recorder: b.opts.Recorder, ChannelName: b.channelName}
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
		lines = append(b.contentLines(), lines...) // content.go
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
	case "doctor":
		b.onConfigDoctor(i)
		return
	default:
		err = errors.New("unknown subcommand")
	}
	if err != nil {
		if errors.Is(err, command.ErrBadArgument) {
			b.reply(i, command.Explain(err, ""))
		} else {
			b.log.Error().Err(err).Msg("config command")
			b.reply(i, "The change could not be saved; try again.")
		}
		return
	}
	b.reply(i, done)
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
		b.reply(i, command.Explain(err, ""))
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
// timeout:: the given options are saved with verification turned on, as
// one SETTINGS_CHANGE, and the Verify button is posted in the channel.
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
	// One command, one SETTINGS_CHANGE listing what it changed (and all
	// of it saved, or none).
	var changes []command.SettingChange
	for _, o := range []struct{ opt, key string }{{"channel", "verification.channel"}, {"role", "verification.role"},
		{"kind", "verification.kind"}, {"timeout", "verification.timeout"}} {
		if v := optString(opts, o.opt); v != "" {
			changes = append(changes, command.SettingChange{Key: o.key, Value: v})
		}
	}
	changes = append(changes, command.SettingChange{Key: "verification.enabled", Value: "on"})
	set, err := cfg.SetEngineSettings(ctx, b.scope(i), b.admin(i), changes)
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
		b.editText(i, command.Explain(err, ""))
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

// channelName is a channel's #name from the state, or "".
func (b *Bot) channelName(id string) string {
	if c, err := b.s.State.Channel(id); err == nil && c.Name != "" {
		return "#" + c.Name
	}
	return ""
}
