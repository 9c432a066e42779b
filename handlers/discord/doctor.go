package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/doctor"
	"github.com/chatwarden/chatwarden/settings"
)

// InvitePermissions are the Discord permissions chatwarden asks for in
// its invite URL (`chatwarden invite`); README.md explains each. The
// doctor checks each guild against them.
const InvitePermissions int64 = discordgo.PermissionKickMembers | // verification failures, engines' kicks
	discordgo.PermissionBanMembers | // engines' bans, the Unban button
	discordgo.PermissionManageChannels | // Discord sends invite events only to bots with it
	discordgo.PermissionManageGuild | // Discord sends AutoMod's actions only to bots with it
	discordgo.PermissionViewAuditLogs | // the moderator of kicks, bans, deletions, role and channel changes; webhooks, emojis, pins...
	discordgo.PermissionViewChannel |
	discordgo.PermissionSendMessages | // log entries, verification prompts
	discordgo.PermissionManageMessages | // delete filtered links
	discordgo.PermissionEmbedLinks | // log entries are embeds
	discordgo.PermissionAttachFiles | // /audit export
	discordgo.PermissionReadMessageHistory |
	discordgo.PermissionManageRoles | // give the verified role
	discordgo.PermissionModerateMembers // timeouts (quarantine, escalation)

// logChannelPermissions are what posting a log entry needs.
const logChannelPermissions = discordgo.PermissionViewChannel | discordgo.PermissionSendMessages | discordgo.PermissionEmbedLinks

// DoctorOptions configure Doctor.
type DoctorOptions struct {
	Token      string
	APIURL     string       // default DefaultAPIURL
	HTTPClient *http.Client // default a client with a 20s timeout
	// Guild, when set, limits the guild checks to that guild (the
	// /config doctor of one server).
	Guild string
	// Settings reads a guild's settings (verified role, log channels);
	// nil when they cannot be read (the database is held by the running
	// bot): those checks are then left out and said so.
	Settings func(ctx context.Context, guild string) (settings.Community, error)
	// WithoutMessageContent is discord.message_content: false (the bot
	// then never asks for the intent).
	WithoutMessageContent bool
}

// Doctor connects to Discord's REST API with the token and checks what
// chatwarden needs: the token, the privileged intents, and in each guild
// the bot's permissions, its role's place against the verified role and
// the members' roles, and each log channel. It returns the platform's
// section first, then one per guild; it never returns an error: what
// cannot be checked is reported as a failed check.
func Doctor(ctx context.Context, o DoctorOptions) []doctor.Section {
	sec := doctor.Section{Platform: "discord"}
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	base := o.HTTPClient
	if base == nil {
		base = &http.Client{Timeout: 20 * time.Second}
	}
	s, err := discordgo.New("Bot " + o.Token)
	if err == nil {
		var rt *redirect
		if rt, err = newRedirect(o.APIURL, base.Transport); err == nil {
			s.Client = &http.Client{Transport: rt, Timeout: base.Timeout}
		}
	}
	if err != nil {
		sec.Fail("token valid", "", "Check discord.api_url and discord.token in the config file.")
		return []doctor.Section{sec}
	}
	opt := discordgo.WithContext(ctx)
	me, err := s.User("@me", opt)
	switch {
	case unauthorized(err):
		sec.Fail("token valid", "Discord answered 401 Unauthorized",
			"Reset the token under Bot > Token in the developer portal and put it in discord.token (or CHATWARDEN_DISCORD_TOKEN).")
		return []doctor.Section{sec}
	case err != nil:
		sec.Fail("token valid", "Discord could not be asked: "+restReason(err),
			"Check the network connection to Discord and run the doctor again.")
		return []doctor.Section{sec}
	}
	sec.Pass("token valid", "bot "+me.Username+" ("+me.ID+")")
	if app, err := s.Application("@me"); err != nil {
		sec.Fail("privileged intents on", "the application could not be read: "+restReason(err),
			"Check the network connection to Discord and run the doctor again.")
	} else {
		sec.Check(app.Flags&(appMembers|appMembersLtd) != 0, "SERVER MEMBERS INTENT on", "",
			"Turn on SERVER MEMBERS INTENT under Bot > Privileged Gateway Intents in the developer portal.")
		// Advisory: the bot runs without it (content.go), but blind to
		// what messages say.
		const blind = "messages are recorded without their text (except those that mention the bot) and the link filter cannot see links"
		switch {
		case o.WithoutMessageContent:
			sec.Warn("MESSAGE CONTENT INTENT used", "discord.message_content is false: "+blind,
				"Set discord.message_content: true in the config file (and turn on MESSAGE CONTENT INTENT in the developer portal).")
		case !contentEnabled(app):
			sec.Warn("MESSAGE CONTENT INTENT on", "the intent is off: "+blind,
				"Turn on MESSAGE CONTENT INTENT under Bot > Privileged Gateway Intents in the developer portal.")
		default:
			sec.Pass("MESSAGE CONTENT INTENT on", "")
		}
	}
	out := []doctor.Section{sec}
	var ids []string
	if o.Guild != "" {
		ids = []string{o.Guild}
	} else {
		guilds, err := s.UserGuilds(200, "", "", false, opt)
		if err != nil {
			out[0].Fail("guilds listed", restReason(err), "Check the network connection to Discord and run the doctor again.")
			return out
		}
		if len(guilds) == 0 {
			out[0].Warn("in a server", "the bot is in no server", "Invite it with the URL `chatwarden invite --config FILE` prints.")
		}
		for _, g := range guilds {
			ids = append(ids, g.ID)
		}
	}
	for _, id := range ids {
		out = append(out, guildDoctor(ctx, s, me.ID, id, o.Settings))
	}
	return out
}

// guildDoctor checks one guild.
func guildDoctor(ctx context.Context, s *discordgo.Session, self, id string,
	read func(context.Context, string) (settings.Community, error)) doctor.Section {
	sec := doctor.Section{Platform: "discord", Community: id}
	opt := discordgo.WithContext(ctx)
	g, err := s.Guild(id, opt)
	if err != nil {
		sec.Fail("server readable", restReason(err), "Invite the bot to this server again with the URL `chatwarden invite` prints.")
		return sec
	}
	sec.Name = g.Name
	m, err := s.GuildMember(id, self, opt)
	if err != nil {
		sec.Fail("bot is a member", restReason(err), "Invite the bot to this server again with the URL `chatwarden invite` prints.")
		return sec
	}
	perms := basePermissions(g, self, m.Roles)
	if missing := InvitePermissions &^ perms; missing != 0 {
		names := permissionList(missing)
		sec.Fail("permissions", "missing "+names,
			"Give chatwarden's role "+names+" in Server Settings > Roles, or invite it again with the URL `chatwarden invite` prints.")
	} else {
		sec.Pass("permissions", "every permission `chatwarden invite` asks for")
	}
	top := highestRole(g, m.Roles)
	var set settings.Community
	if read == nil {
		sec.Warn("settings read", "the database is held by the running bot",
			"Run /config doctor in the server for its verified role and log channels, or stop the bot.")
		read = nil
	} else if set, err = read(ctx, id); err != nil {
		sec.Fail("settings read", err.Error(), "Check storage.path in the config file.")
		read = nil
	}
	if read != nil && set.Verification != nil && set.Verification.RoleID != "" {
		r := findRole(g, set.Verification.RoleID)
		switch {
		case r == nil:
			sec.Fail("verified role exists", "role "+set.Verification.RoleID+" is gone",
				"Choose the verified role again with /config verification.")
		case g.OwnerID == self || top != nil && above(top, r):
			sec.Pass("role above the verified role", "@"+r.Name)
		default:
			sec.Fail("role above the verified role", "chatwarden's highest role is not above @"+r.Name,
				"In Server Settings > Roles drag chatwarden's role above @"+r.Name+".")
		}
	}
	// Member roles (no moderation rights) above the bot: it cannot act on
	// their holders. Staff roles above it are expected.
	var blocked []string
	const staff = discordgo.PermissionAdministrator | discordgo.PermissionManageServer | discordgo.PermissionKickMembers |
		discordgo.PermissionBanMembers | discordgo.PermissionModerateMembers
	for _, r := range g.Roles {
		if r.ID == g.ID || r.Managed || r.Permissions&staff != 0 || slices.Contains(m.Roles, r.ID) {
			continue
		}
		if g.OwnerID != self && (top == nil || above(r, top)) {
			blocked = append(blocked, "@"+r.Name)
		}
	}
	if len(blocked) > 0 {
		sec.Warn("can act on members", "members with "+strings.Join(blocked, ", ")+" are above chatwarden's role",
			"In Server Settings > Roles drag chatwarden's role above "+strings.Join(blocked, ", ")+" so it can time out, kick or ban their members.")
	} else {
		sec.Pass("can act on members", "no member role is above chatwarden's")
	}
	if read == nil {
		return sec
	}
	if len(set.LogChannels) == 0 {
		sec.Warn("log channel set", "no log channel", "Run /config log-channel channel:#mod-log types:all in the server.")
	}
	for _, lc := range set.LogChannels {
		name := "log channel " + lc.ID
		c, err := s.Channel(lc.ID, opt)
		if err != nil {
			sec.Fail(name+" visible", restReason(err),
				"Give chatwarden View Channels, Send Messages and Embed Links in that channel, or remove it with /config log-channel-remove.")
		} else {
			name = "log channel #" + c.Name
			if missing := logChannelPermissions &^ channelPermissions(g, c, self, m.Roles); missing != 0 {
				names := permissionList(missing)
				sec.Fail(name+" permissions", "missing "+names,
					"Give chatwarden "+names+" in #"+c.Name+"'s settings > Permissions.")
			} else {
				sec.Pass(name+" permissions", "View Channels, Send Messages, Embed Links")
			}
		}
		if lc.Paused != "" {
			sec.Fail(name+" delivering", "paused: "+lc.Paused,
				"Fix the channel's permissions, then run /config log-channel for it again to resume delivery (entries wait in the outbox).")
		} else {
			sec.Pass(name+" delivering", "")
		}
	}
	return sec
}

// basePermissions computes a member's guild-wide permissions the way
// Discord documents it: the owner and Administrator have all; else
// @everyone's permissions and those of the member's roles.
func basePermissions(g *discordgo.Guild, user string, roles []string) int64 {
	if g.OwnerID == user {
		return discordgo.PermissionAll
	}
	var p int64
	for _, r := range g.Roles {
		if r.ID == g.ID || slices.Contains(roles, r.ID) {
			p |= r.Permissions
		}
	}
	if p&discordgo.PermissionAdministrator != 0 {
		return discordgo.PermissionAll
	}
	return p
}

// channelPermissions applies a channel's overwrites to the base
// permissions: @everyone's, then the roles' (denies, then allows), then the
// member's own. Administrators are not subject to overwrites.
func channelPermissions(g *discordgo.Guild, c *discordgo.Channel, user string, roles []string) int64 {
	p := basePermissions(g, user, roles)
	if p&discordgo.PermissionAdministrator != 0 {
		return discordgo.PermissionAll
	}
	for _, o := range c.PermissionOverwrites {
		if o.ID == g.ID {
			p = p&^o.Deny | o.Allow
		}
	}
	var deny, allow int64
	for _, o := range c.PermissionOverwrites {
		if o.Type == discordgo.PermissionOverwriteTypeRole && slices.Contains(roles, o.ID) {
			deny |= o.Deny
			allow |= o.Allow
		}
	}
	p = p&^deny | allow
	for _, o := range c.PermissionOverwrites {
		if o.Type == discordgo.PermissionOverwriteTypeMember && o.ID == user {
			p = p&^o.Deny | o.Allow
		}
	}
	return p
}

func permissionList(bits int64) string {
	var names []string
	for _, p := range permNeeds {
		if bits&p.perm != 0 {
			names = append(names, p.name)
		}
	}
	return strings.Join(names, ", ")
}

func findRole(g *discordgo.Guild, id string) *discordgo.Role {
	for _, r := range g.Roles {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// highestRole is the member's highest role, nil for @everyone only.
func highestRole(g *discordgo.Guild, roles []string) *discordgo.Role {
	var top *discordgo.Role
	for _, r := range g.Roles {
		if slices.Contains(roles, r.ID) && (top == nil || above(r, top)) {
			top = r
		}
	}
	return top
}

// above reports whether role a sits above role b (Discord orders by
// position, then by id, the lower id being higher).
func above(a, b *discordgo.Role) bool {
	if a.Position != b.Position {
		return a.Position > b.Position
	}
	return cmpSnowflake(a.ID, b.ID) < 0
}

func cmpSnowflake(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// restReason is a REST failure as a short phrase for a moderator: the
// status and Discord's message, never the request (which has no token,
// but may be long).
func restReason(err error) string {
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil {
		if re.Message != nil && re.Message.Message != "" {
			return fmt.Sprintf("Discord answered %d %s", re.Response.StatusCode, re.Message.Message)
		}
		return "Discord answered " + re.Response.Status
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "Discord did not answer in time"
	}
	return "Discord could not be reached"
}

// onConfigDoctor serves /config doctor: the doctor's checks for this
// server only, answered privately once the REST calls are done.
func (b *Bot) onConfigDoctor(i *discordgo.Interaction) {
	if err := b.deferReply(i, false); err != nil {
		b.log.Warn().Err(err).Msg("answer interaction")
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sections := Doctor(ctx, DoctorOptions{Token: b.opts.Token, APIURL: b.opts.APIURL, HTTPClient: b.opts.HTTPClient,
			Guild: i.GuildID, Settings: func(ctx context.Context, guild string) (settings.Community, error) {
				return b.opts.Store.Settings(ctx, audit.Discord, guild)
			}})
		b.editText(i, RenderDoctor(sections))
	}()
}

// RenderDoctor writes sections for a chat message: a line per check, the
// fixes of those that fail, and a closing verdict.
func RenderDoctor(sections []doctor.Section) string {
	var r doctor.Report
	r.Add(sections...)
	var sb strings.Builder
	for _, s := range r.Sections {
		sb.WriteString("**" + s.Title() + "**\n")
		for _, c := range s.Checks {
			sb.WriteString(c.Line() + "\n")
		}
	}
	if r.OK {
		sb.WriteString("Everything chatwarden needs is in place.")
	} else {
		sb.WriteString("Fix the ✗ lines above, then run /config doctor again.")
	}
	return sb.String()
}
