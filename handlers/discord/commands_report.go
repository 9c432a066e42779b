package discord

import (
	"context"
	"fmt"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
)

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
