package discord

import (
	"context"
	"errors"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/platform"
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

// paramAddedByName is the name of who added a member, shown with the id
// (the Telegram adapter sets the same param).
const paramAddedByName = "added_by_name"

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
