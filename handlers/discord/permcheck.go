package discord

import (
	"strings"

	"github.com/bwmarrin/discordgo"
)

// The permissions chatwarden asks for (chatwarden invite) and what each
// costs when a server withholds it: said in the log at start (per guild,
// from GUILD_CREATE) and by /config show (from the interaction's
// app_permissions, the bot's permissions where the command ran).

// permNeeds are the permissions chatwarden asks for (InvitePermissions),
// named as Discord's settings show them, each with what it costs.
type permNeed struct {
	perm int64
	name string
	cost string // the records or actions lost without it, a sentence's end
}

var permNeeds = []permNeed{
	{discordgo.PermissionViewChannel, "View Channels", "chatwarden sees no messages in the channels it cannot view"},
	{discordgo.PermissionReadMessageHistory, "Read Message History", "chatwarden cannot read the messages it records"},
	{discordgo.PermissionViewAuditLogs, "View Audit Log", "kicks, bans, deletions and role, channel, permission and voice changes are recorded without the moderator and reason, a kick may be recorded as a leave, and webhooks, integrations, emojis, stickers, pins, AutoMod rules and scheduled events are not recorded at all"},
	{discordgo.PermissionManageGuild, "Manage Server", "AutoMod's actions (MODERATION_AUTOMOD) are not recorded: Discord sends them only to bots with Manage Server"},
	{discordgo.PermissionManageChannels, "Manage Channels", "invites created and deleted are not recorded: Discord sends invite events only to bots with Manage Channels"},
	{discordgo.PermissionSendMessages, "Send Messages", "no log entries or verification prompts can be posted"},
	{discordgo.PermissionEmbedLinks, "Embed Links", "log entries (embeds) cannot be posted"},
	{discordgo.PermissionAttachFiles, "Attach Files", "/audit export cannot send its file"},
	{discordgo.PermissionManageMessages, "Manage Messages", "the link filter cannot delete the messages it catches"},
	{discordgo.PermissionKickMembers, "Kick Members", "verification and the engines cannot kick"},
	{discordgo.PermissionBanMembers, "Ban Members", "the engines cannot ban and the Unban button fails"},
	{discordgo.PermissionModerateMembers, "Moderate Members", "timeouts (quarantine, escalation) fail"},
	{discordgo.PermissionManageRoles, "Manage Roles", "verification cannot give the verified role"},
}

// missingPermissions says, one sentence each, what the permissions the
// bot lacks cost; none when it has them all.
func missingPermissions(perms int64) []string {
	if perms&discordgo.PermissionAdministrator != 0 {
		return nil
	}
	var out []string
	for _, n := range permNeeds {
		if perms&n.perm == 0 {
			out = append(out, "Without "+n.name+", "+n.cost+".")
		}
	}
	return out
}

// missingNames lists the names of the permissions the bot lacks.
func missingNames(perms int64) []string {
	if perms&discordgo.PermissionAdministrator != 0 {
		return nil
	}
	var out []string
	for _, n := range permNeeds {
		if perms&n.perm == 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// checkPermissions logs, when a guild becomes available, the permissions
// the bot lacks there and what they cost. The bot's own member comes
// with GUILD_CREATE; when the state has none, nothing is said.
func (b *Bot) checkPermissions(g *discordgo.Guild) {
	if b.self == nil || g == nil {
		return
	}
	m := b.stateMember(g.ID, b.self.ID)
	if m == nil {
		return
	}
	b.s.State.RLock()
	perms := permsOf(g, m)
	b.s.State.RUnlock()
	if missing := missingNames(perms); len(missing) > 0 {
		b.log.Warn().Str("guild", g.ID).Strs("missing", missing).Strs("costs", missingPermissions(perms)).
			Msg("chatwarden lacks permissions in this server; some records will be incomplete (see /config show)")
	}
}

// permissionLines are /config show's lines about the bot's permissions.
func permissionLines(perms int64) []string {
	missing := missingPermissions(perms)
	if len(missing) == 0 {
		return []string{"chatwarden has every permission it asks for."}
	}
	return append([]string{"chatwarden lacks " + strings.Join(missingNames(perms), ", ") + " here:"}, missing...)
}
