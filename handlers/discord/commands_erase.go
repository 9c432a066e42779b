package discord

import (
	"context"
	"fmt"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
)

// /audit erase member:<user>: a member's personal data erased while the
// bot runs (command.Erase), by the server's owner or a member with
// Administrator only, after a confirmation that only the invoker sees,
// like the raid entry's destructive buttons. The erasure is recorded as
// DATA_RETENTION with the moderator as actor; in a fleet it reaches the
// query nodes.

// erasePrefix starts the confirmation's buttons: cw:E:<user id> erases,
// cw:E:cancel does nothing.
const erasePrefix = "cw:E:"

const eraseCancel = "cancel"

// permErase is what erasing takes: Administrator (the owner has every
// permission in an interaction).
const permErase = discordgo.PermissionAdministrator

func eraseCustomID(user string) string { return erasePrefix + user }

// parseEraseCustomID refuses every id eraseCustomID cannot make: the
// user must be a snowflake (decimal, at most 20 digits), or "cancel".
func parseEraseCustomID(customID string) (user string, ok bool) {
	if len(customID) > maxCustomID {
		return "", false
	}
	user, ok = strings.CutPrefix(customID, erasePrefix)
	if !ok {
		return "", false
	}
	if user == eraseCancel {
		return user, true
	}
	return user, isSnowflake(user)
}

// isSnowflake reports whether s is a decimal id of at most 20 digits
// without a leading zero.
func isSnowflake(s string) bool {
	if s == "" || len(s) > 20 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

const eraseNeeds = "Only the server's owner or a member with the Administrator permission can erase a member's data."

// onAuditErase asks the invoker to confirm an erasure.
func (b *Bot) onAuditErase(i *discordgo.Interaction, opts map[string]*discordgo.ApplicationCommandInteractionDataOption) {
	if !allowed(i, permErase) {
		b.reply(i, eraseNeeds)
		return
	}
	user := optString(opts, "member")
	if !isSnowflake(user) {
		b.reply(i, "Choose the member whose data to erase.")
		return
	}
	b.replyButtons(i, fmt.Sprintf("Erase the personal data of <@%s> in this server? Their names, messages, attachments and details "+
		"go from every record that names them, here and on the fleet's query nodes; ids, types and times stay. This cannot be undone.", user),
		[]discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
			discordgo.Button{Label: "Erase", Style: discordgo.DangerButton, CustomID: eraseCustomID(user)},
			discordgo.Button{Label: "Cancel", Style: discordgo.SecondaryButton, CustomID: eraseCustomID(eraseCancel)},
		}}})
}

// onErasePress serves the confirmation's buttons. The permission is
// checked again: anyone can send any custom id.
func (b *Bot) onErasePress(i *discordgo.Interaction, customID string) {
	user, ok := parseEraseCustomID(customID)
	if !ok {
		b.reply(i, "This button has expired.")
		return
	}
	if user == eraseCancel {
		b.reply(i, "Cancelled: nothing was erased.")
		return
	}
	if !allowed(i, permErase) {
		b.reply(i, eraseNeeds)
		return
	}
	// The erasure may take longer than Discord's 3 seconds: the answer
	// replaces the confirmation.
	if err := b.deferReply(i, true); err != nil {
		b.log.Warn().Err(err).Msg("defer")
		return
	}
	n, err := command.Erase(context.Background(), b.opts.Store, b.opts.Recorder, audit.Discord, i.GuildID, user, b.admin(i), command.EraseByCommand)
	if err != nil {
		b.log.Error().Err(err).Str("guild", i.GuildID).Str("user", user).Msg("erase a member's data")
		b.editText(i, "The erasure did not finish; run it again. What was erased stays erased.")
		return
	}
	b.log.Info().Str("guild", i.GuildID).Str("user", user).Str("by", i.Member.User.ID).Int("records", n).Msg("erased a member's personal data")
	b.editText(i, fmt.Sprintf("Erased the personal data of <@%s> from %d records. The erasure is in the audit log.", user, n))
}
