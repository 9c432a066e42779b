package discord

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/platform"
)

// ViewerLinkFunc mints a one-time login link to the web viewer of a
// property for a moderator, and says when it expires.
type ViewerLinkFunc func(ctx context.Context, property string, user command.Admin) (link string, expires time.Time, err error)

// onAuditViewer serves /audit viewer: a private, one-time link to the
// web viewer of this server, for a member with View Audit Log (onAudit
// checked it with the permissions Discord computed).
func (b *Bot) onAuditViewer(i *discordgo.Interaction) {
	if b.opts.ViewerLink == nil {
		b.reply(i, "The web viewer is not set up: the operator sets api.listen and api.public_url.")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	link, expires, err := b.opts.ViewerLink(ctx, i.GuildID, b.admin(i))
	if err != nil {
		b.log.Error().Err(err).Str("guild", i.GuildID).Msg("viewer link")
		b.reply(i, "The link could not be made; try again.")
		return
	}
	b.reply(i, fmt.Sprintf("Your link to this server's audit log viewer (for you only: it works once, until <t:%d:t>):\n%s",
		expires.Unix(), link))
}

// viewerPerms let a member keep a viewer session: View Audit Log (what
// /audit viewer asks for) or Manage Server; Administrator and ownership
// imply both.
const viewerPerms = discordgo.PermissionViewAuditLogs | discordgo.PermissionManageGuild

// ViewerAllowed reports whether user may still read guild's audit log in
// the web viewer: a member whose roles (as the gateway last told them)
// grant View Audit Log or Manage Server, or the owner. A user who left
// the guild may not; err when Discord could not say.
func (b *Bot) ViewerAllowed(ctx context.Context, guild, user string) (bool, error) {
	g, err := b.guild(guild)
	if err != nil {
		return false, err
	}
	m, err := b.member(ctx, guild, user)
	if errors.Is(err, platform.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("may %s read the audit log of %s: %w", user, guild, err)
	}
	b.s.State.RLock()
	defer b.s.State.RUnlock()
	return permsOf(g, m)&viewerPerms != 0, nil
}
