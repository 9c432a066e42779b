package discord

import (
	"context"
	"errors"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/platform"
)

// One-tap reversal buttons on log entries. A button's custom id holds only
// the action and the record id; the target comes from the record, looked
// up in the guild where the button is pressed, so a button cannot reach
// another guild or another member.
type reversalAction struct {
	label string
	style discordgo.ButtonStyle
	perm  int64
	do    func(b *Bot, ctx context.Context, guild, user string, c platform.Cause) error
}

var reversals = map[string]reversalAction{
	"unban": {"Unban", discordgo.SuccessButton, discordgo.PermissionBanMembers,
		func(b *Bot, ctx context.Context, g, u string, c platform.Cause) error { return b.Unban(ctx, g, u, c) }},
	"lift": {"Lift timeout", discordgo.SuccessButton, discordgo.PermissionModerateMembers,
		func(b *Bot, ctx context.Context, g, u string, c platform.Cause) error {
			return b.RemoveTimeout(ctx, g, u, c)
		}},
	"kick": {"Kick", discordgo.SecondaryButton, discordgo.PermissionKickMembers,
		func(b *Bot, ctx context.Context, g, u string, c platform.Cause) error { return b.Kick(ctx, g, u, c) }},
	"ban": {"Ban", discordgo.DangerButton, discordgo.PermissionBanMembers,
		func(b *Bot, ctx context.Context, g, u string, c platform.Cause) error { return b.Ban(ctx, g, u, c) }},
	// An unauthorized bot is removed (kicked); a webhook or an
	// integration is deleted, not "kicked" as if it were a member.
	"rmbot": {"Remove", discordgo.DangerButton, discordgo.PermissionKickMembers,
		func(b *Bot, ctx context.Context, g, u string, c platform.Cause) error { return b.Kick(ctx, g, u, c) }},
	"rmhook": {"Delete webhook", discordgo.DangerButton, discordgo.PermissionManageWebhooks,
		func(b *Bot, ctx context.Context, g, u string, c platform.Cause) error {
			if err := b.s.WebhookDelete(u, reason(c), discordgo.WithContext(ctx)); err != nil {
				return restErr("delete webhook", err)
			}
			return nil
		}},
	"rmapp": {"Remove", discordgo.DangerButton, discordgo.PermissionManageGuild,
		func(b *Bot, ctx context.Context, g, u string, c platform.Cause) error {
			if err := b.s.GuildIntegrationDelete(g, u, reason(c), discordgo.WithContext(ctx)); err != nil {
				return restErr("delete integration", err)
			}
			return nil
		}},
}

// reversalsFor lists the buttons an entry carries.
func reversalsFor(e *audit.Event) []string {
	switch {
	case e.Target() == "":
		return nil
	case e.Type == audit.UserBan:
		return []string{"unban"}
	case e.Type == audit.UserUpdate && e.Params[audit.ParamField] == "timeout" && e.Params[audit.ParamNewValue] != "":
		return []string{"lift"}
	case e.Type == audit.SecurityEvent && e.Params[audit.ParamKind] == audit.KindJoinRaid:
		return nil // a raid's entry has its own buttons (raid.go)
	case e.Type == audit.SecurityEvent && e.Params[audit.ParamKind] == audit.KindUnauthorizedIntegration:
		// The button fits what was added; its target is the first target.
		switch e.Params["integration"] { // moderation.ParamIntegration
		case "BOT":
			return []string{"rmbot"}
		case "WEBHOOK":
			return []string{"rmhook"}
		case "INTEGRATION":
			return []string{"rmapp"}
		}
		return nil
	case e.Type == audit.SecurityEvent || e.Type == audit.VerificationFailure:
		// The quarantine's timeout is not posted on its own (quiet): its
		// alert offers to lift it.
		if e.Params[audit.ParamAction] == "QUARANTINE" && e.Params[audit.ParamOutcome] == "DONE" {
			return []string{"lift", "kick", "ban"}
		}
		return []string{"kick", "ban"}
	}
	return nil
}

func reversalComponents(e *audit.Event) []discordgo.MessageComponent {
	names := reversalsFor(e)
	if len(names) == 0 {
		return nil
	}
	var row discordgo.ActionsRow
	for _, n := range names {
		a := reversals[n]
		row.Components = append(row.Components, discordgo.Button{Label: a.label, Style: a.style,
			CustomID: reversalCustomID(n, e.ID)})
	}
	return []discordgo.MessageComponent{row}
}

// onReversal serves a reversal button press.
func (b *Bot) onReversal(i *discordgo.Interaction, customID string) {
	name, id, ok := parseReversalCustomID(customID)
	if !ok {
		b.reply(i, "This button has expired.")
		return
	}
	a := reversals[name]
	if !allowed(i, a.perm) {
		b.reply(i, "You do not have the permission this needs.")
		return
	}
	ctx := context.Background()
	e, err := b.opts.Store.Get(ctx, audit.Discord, i.GuildID, id)
	if err != nil || e.Target() == "" {
		b.reply(i, "That entry is not in this server's audit log.")
		return
	}
	user := e.Target()
	cause := platform.Cause{Function: audit.FuncCommand, Reason: "log entry " + e.ID.String(),
		ActorID: i.Member.User.ID, ActorName: displayName(i.Member.User, i.Member)}
	if err := a.do(b, ctx, i.GuildID, user, cause); err != nil {
		msg := "That did not work; try again."
		if errors.Is(err, platform.ErrForbidden) {
			msg = "chatwarden lacks the permission for this (check its role's position and permissions)."
		}
		b.reply(i, msg)
		return
	}
	b.reply(i, a.label+": done.")
}
