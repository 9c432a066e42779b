package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/platform"
)

var _ platform.Actions = (*Bot)(nil)

// Platform implements platform.Actions.
func (b *Bot) Platform() audit.Platform { return audit.Discord }

// actionEvent starts the record of an action the bot performs.
func (b *Bot) actionEvent(guild string, typ audit.EventType, platformType string, c platform.Cause) *audit.Event {
	e := &audit.Event{Time: time.Now(), Platform: audit.Discord, PropertyID: guild, Type: typ,
		PlatformType: platformType, Function: c.Function, ActorType: audit.ActorBot}
	if !e.Function.Valid() {
		e.Function = audit.FuncCommand
	}
	if c.ActorID != "" {
		e.ActorID, e.ActorName, e.ActorType = c.ActorID, c.ActorName, audit.ActorAdmin
	} else if b.self != nil {
		e.ActorID, e.ActorName = b.self.ID, b.self.Username
	}
	c.Mark(e)
	return e
}

// stateMember returns a copy of a member in the state, or nil. The
// state's own value is overwritten in place by the gateway goroutine on
// every member update, so it is copied under the state's lock: handlers
// of interactions and the engines read members on other goroutines.
func (b *Bot) stateMember(guild, user string) *discordgo.Member {
	m, err := b.s.State.Member(guild, user)
	if err != nil || m == nil {
		return nil
	}
	b.s.State.RLock()
	cp := *m
	b.s.State.RUnlock()
	return &cp
}

// nameTarget sets the member an action is about, with the name moderators
// know them by (memberName).
func (b *Bot) nameTarget(e *audit.Event, guild, user string) {
	e.TargetIDs = []string{user}
	if name := b.memberName(guild, user); name != "" {
		e.Params.Set(audit.ParamTargetName, name)
	}
}

// memberName is the name moderators know a member by: from the state,
// else the stored profile (a member just kicked is gone from the state;
// the member chunks stored every member's), else over REST (a member
// the bot never saw: directory.go, knownMember); "" when none can be
// read.
func (b *Bot) memberName(guild, user string) string {
	if m := b.stateMember(guild, user); m != nil && m.User != nil {
		return displayName(m.User, m)
	}
	p, err := b.loadProfile(guild, user)
	if err != nil {
		if m := b.knownMember(guild, user); m != nil && m.User != nil {
			return displayName(m.User, m)
		}
		return ""
	}
	for _, name := range []string{p.Nick, p.GlobalName, p.Username} {
		if name != "" {
			return name
		}
	}
	return ""
}

// nameChannels fills in the channel names the events lack from the
// state, so that an entry says #general rather than an id.
func (b *Bot) nameChannels(events []*audit.Event) {
	for _, e := range events {
		if e.ChannelID == "" || e.Params[audit.ParamChannelName] != "" {
			continue
		}
		if c, err := b.s.State.Channel(e.ChannelID); err == nil && c.Name != "" {
			e.Params.Set(audit.ParamChannelName, c.Name)
		}
	}
}

// record makes an action's record durable before the action returns.
func (b *Bot) record(ctx context.Context, e *audit.Event) error {
	b.nameChannels([]*audit.Event{e})
	if err := b.opts.Recorder.Record(ctx, e); err != nil {
		return fmt.Errorf("record %s: %w", e.Type, err)
	}
	return nil
}

// reason is what Discord's audit log shows for the bot's actions. Discord
// takes it URL-encoded in the X-Audit-Log-Reason header, at most 512
// characters before encoding: raw, a newline in a presser's name would
// make net/http refuse the request and other non-ASCII would reach
// Discord garbled. discordgo passes the header as given.
func reason(c platform.Cause) discordgo.RequestOption {
	r := c.Reason
	if c.ActorName != "" {
		r = fmt.Sprintf("%s (by %s)", r, c.ActorName)
	}
	return discordgo.WithAuditLogReason(url.PathEscape(audit.Cut(r, 512)))
}

// restErr maps Discord's errors onto the bot's.
func restErr(op string, err error) error {
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil {
		switch {
		case re.Response.StatusCode == http.StatusForbidden:
			return fmt.Errorf("discord %s: %w: %v", op, platform.ErrForbidden, err)
		case re.Response.StatusCode == http.StatusNotFound:
			return fmt.Errorf("discord %s: %w: %v", op, platform.ErrNotFound, err)
		}
	}
	return fmt.Errorf("discord %s: %w", op, err)
}

// DeleteMessage implements platform.Actions: the record carries what the store
// knew of the message, and the gateway's echo is not recorded again.
func (b *Bot) DeleteMessage(ctx context.Context, guild, channel, message string, c platform.Cause) error {
	b.echo.Expect("delete", guild, message)
	if err := b.s.ChannelMessageDelete(channel, message, reason(c), discordgo.WithContext(ctx)); err != nil {
		b.echo.Take("delete", guild, message)
		return restErr("delete message", err)
	}
	e := b.actionEvent(guild, audit.ChatMessageDelete, "MESSAGE_DELETE", c)
	e.ChannelID, e.MessageID = channel, message
	if prev, err := b.opts.Store.FindMessage(ctx, audit.Discord, guild, message); err == nil {
		e.Content, e.Attachments = prev.Content, prev.Attachments
		e.TargetIDs = []string{prev.ActorID}
		e.Params.Set(audit.ParamTargetName, prev.ActorName)
	}
	return b.record(ctx, e)
}

// Timeout implements platform.Actions with Discord's member timeout.
func (b *Bot) Timeout(ctx context.Context, guild, user string, until time.Time, c platform.Cause) error {
	b.echo.Expect("update", guild, user+"/timeout")
	if err := b.s.GuildMemberTimeout(guild, user, &until, reason(c), discordgo.WithContext(ctx)); err != nil {
		b.echo.Take("update", guild, user+"/timeout")
		return restErr("timeout member", err)
	}
	e := b.actionEvent(guild, audit.UserUpdate, "GUILD_MEMBER_UPDATE", c)
	b.nameTarget(e, guild, user)
	e.Params.Set(audit.ParamField, "timeout")
	e.Params.Set(audit.ParamNewValue, until.UTC().Format(time.RFC3339))
	e.Params.Set(audit.ParamUntil, until.UTC().Format(time.RFC3339))
	return b.record(ctx, e)
}

// RemoveTimeout implements platform.Actions.
func (b *Bot) RemoveTimeout(ctx context.Context, guild, user string, c platform.Cause) error {
	b.echo.Expect("update", guild, user+"/timeout")
	if err := b.s.GuildMemberTimeout(guild, user, nil, reason(c), discordgo.WithContext(ctx)); err != nil {
		b.echo.Take("update", guild, user+"/timeout")
		return restErr("lift timeout", err)
	}
	e := b.actionEvent(guild, audit.UserUpdate, "GUILD_MEMBER_UPDATE", c)
	b.nameTarget(e, guild, user)
	e.Params.Set(audit.ParamField, "timeout")
	e.Params.Set(audit.ParamNewValue, "")
	return b.record(ctx, e)
}

// Kick implements platform.Actions.
func (b *Bot) Kick(ctx context.Context, guild, user string, c platform.Cause) error {
	b.echo.Expect("kick", guild, user)
	if err := b.s.GuildMemberDelete(guild, user, reason(c), discordgo.WithContext(ctx)); err != nil {
		b.echo.Take("kick", guild, user)
		return restErr("kick", err)
	}
	e := b.actionEvent(guild, audit.UserRemove, "GUILD_MEMBER_REMOVE", c)
	b.nameTarget(e, guild, user)
	e.Params.Set(audit.ParamRemoval, audit.RemovalKicked)
	return b.record(ctx, e)
}

// Ban implements platform.Actions.
func (b *Bot) Ban(ctx context.Context, guild, user string, c platform.Cause) error {
	b.echo.Expect("ban", guild, user)
	b.echo.Expect("ban-remove", guild, user) // the member removal a ban causes
	// The reason goes in the X-Audit-Log-Reason header: discordgo's
	// GuildBanCreateWithReason uses the deprecated query parameter.
	if err := b.s.GuildBanCreate(guild, user, 0, reason(c), discordgo.WithContext(ctx)); err != nil {
		b.echo.Take("ban", guild, user)
		b.echo.Take("ban-remove", guild, user)
		return restErr("ban", err)
	}
	e := b.actionEvent(guild, audit.UserBan, "GUILD_BAN_ADD", c)
	b.nameTarget(e, guild, user)
	return b.record(ctx, e)
}

// Unban implements platform.Actions.
func (b *Bot) Unban(ctx context.Context, guild, user string, c platform.Cause) error {
	b.echo.Expect("unban", guild, user)
	if err := b.s.GuildBanDelete(guild, user, reason(c), discordgo.WithContext(ctx)); err != nil {
		b.echo.Take("unban", guild, user)
		return restErr("unban", err)
	}
	e := b.actionEvent(guild, audit.UserBanRemove, "GUILD_BAN_REMOVE", c)
	b.nameTarget(e, guild, user)
	return b.record(ctx, e)
}

// AddRole implements platform.Actions.
func (b *Bot) AddRole(ctx context.Context, guild, user, role string, c platform.Cause) error {
	return b.role(ctx, guild, user, role, true, c)
}

// RemoveRole implements platform.Actions.
func (b *Bot) RemoveRole(ctx context.Context, guild, user, role string, c platform.Cause) error {
	return b.role(ctx, guild, user, role, false, c)
}

func (b *Bot) role(ctx context.Context, guild, user, role string, add bool, c platform.Cause) error {
	b.echo.Expect("update", guild, user+"/roles")
	var err error
	if add {
		err = b.s.GuildMemberRoleAdd(guild, user, role, reason(c), discordgo.WithContext(ctx))
	} else {
		err = b.s.GuildMemberRoleRemove(guild, user, role, reason(c), discordgo.WithContext(ctx))
	}
	if err != nil {
		b.echo.Take("update", guild, user+"/roles")
		return restErr("change roles", err)
	}
	e := b.actionEvent(guild, audit.UserUpdate, "GUILD_MEMBER_UPDATE", c)
	b.nameTarget(e, guild, user)
	e.Params.Set(audit.ParamField, "roles")
	if add {
		e.Params.Set(audit.ParamRolesAdded, role)
	} else {
		e.Params.Set(audit.ParamRolesRemoved, role)
	}
	return b.record(ctx, e)
}

// Send implements platform.Actions. Mentions are off except the one user the
// message names.
func (b *Bot) Send(ctx context.Context, guild, channel string, m platform.Message) (string, error) {
	data := &discordgo.MessageSend{
		Content:         audit.Cut(m.Text, 2000),
		AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}},
		Components:      components(m.Buttons),
	}
	if m.Mention != "" {
		data.AllowedMentions.Users = []string{m.Mention}
	}
	if m.ReplyTo != "" {
		data.Reference = &discordgo.MessageReference{MessageID: m.ReplyTo, ChannelID: channel, GuildID: guild}
	}
	msg, err := b.s.ChannelMessageSendComplex(channel, data, discordgo.WithContext(ctx))
	if err != nil {
		return "", restErr("send message", err)
	}
	return msg.ID, nil
}

// components lays buttons out in rows of five, Discord's limit.
func components(buttons []platform.Button) []discordgo.MessageComponent {
	var rows []discordgo.MessageComponent
	for i := 0; i < len(buttons) && len(rows) < 5; i += 5 {
		var row discordgo.ActionsRow
		for _, bt := range buttons[i:min(i+5, len(buttons))] {
			row.Components = append(row.Components, discordgo.Button{
				Label: audit.Cut(bt.Label, 80), CustomID: bt.Data, Style: buttonStyle(bt.Style)})
		}
		rows = append(rows, row)
	}
	return rows
}

func buttonStyle(s platform.ButtonStyle) discordgo.ButtonStyle {
	switch s {
	case platform.StyleSecondary:
		return discordgo.SecondaryButton
	case platform.StyleSuccess:
		return discordgo.SuccessButton
	case platform.StyleDanger:
		return discordgo.DangerButton
	}
	return discordgo.PrimaryButton
}
