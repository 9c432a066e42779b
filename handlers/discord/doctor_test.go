package discord_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/doctor"
	"github.com/chatwarden/chatwarden/handlers/discord"
	dt "github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/settings"
)

const (
	docGuild    = "110000000000000001"
	docBotRole  = "310000000000000001"
	docVerified = "310000000000000002"
	docMembers  = "310000000000000003"
	docLog      = "210000000000000001"
)

// doctorGuild is a guild set up the way the README says: the bot's role
// has every invite permission and sits above the verified role and the
// member roles; the log channel lets it post embeds.
func doctorGuild(bot string) *discordgo.Guild {
	return &discordgo.Guild{ID: docGuild, Name: "Doctor", OwnerID: owner.ID,
		Roles: []*discordgo.Role{{ID: docGuild, Name: "@everyone", Permissions: discordgo.PermissionViewChannel},
			{ID: docBotRole, Name: "chatwarden", Position: 5, Permissions: discord.InvitePermissions, Managed: true},
			{ID: docVerified, Name: "verified", Position: 2},
			{ID: docMembers, Name: "regulars", Position: 1}},
		Channels: []*discordgo.Channel{{ID: docLog, GuildID: docGuild, Name: "mod-log", Type: discordgo.ChannelTypeGuildText}},
		Members: []*discordgo.Member{{User: owner, Roles: []string{}},
			{User: &discordgo.User{ID: bot, Username: "chatwarden", Bot: true}, Roles: []string{docBotRole}}}}
}

func doctorSettings() settings.Community {
	return settings.Community{LogChannels: []settings.LogChannel{{ID: docLog}},
		Verification: &settings.Verification{RoleID: docVerified}}
}

// runDoctor runs the doctor against a fake set up by tweak.
func runDoctor(t *testing.T, opts dt.Options, tweak func(g *discordgo.Guild, s *settings.Community)) (doctor.Report, string) {
	t.Helper()
	fake := dt.New(opts)
	t.Cleanup(fake.Close)
	g := doctorGuild(fake.BotID())
	set := doctorSettings()
	if tweak != nil {
		tweak(g, &set)
	}
	fake.AddGuild(g)
	sections := discord.Doctor(context.Background(), discord.DoctorOptions{Token: "test-token", APIURL: fake.APIURL(),
		Settings: func(_ context.Context, guild string) (settings.Community, error) { return set, nil }})
	var r doctor.Report
	r.Add(sections...)
	var b strings.Builder
	r.WriteText(&b)
	return r, b.String()
}

func TestDoctorHealthy(t *testing.T) {
	r, text := runDoctor(t, dt.Options{}, nil)
	if !r.OK || len(r.Failed()) != 0 {
		t.Fatalf("a guild set up as the README says fails:\n%s", text)
	}
	for _, want := range []string{"discord Doctor (" + docGuild + ")", "✓ token valid", "✓ SERVER MEMBERS INTENT on",
		"✓ permissions", "✓ role above the verified role: @verified", "✓ can act on members",
		"✓ log channel #mod-log permissions", "✓ log channel #mod-log delivering"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
}

// TestDoctorTroubleshooting reproduces each Discord case of the README's
// troubleshooting table and checks the doctor names it with its fix.
func TestDoctorTroubleshooting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  dt.Options
		tweak func(g *discordgo.Guild, s *settings.Community)
		want  []string // lines of the report
	}{
		{name: "token rejected", opts: dt.Options{Token: "a-reset-token"}, // the fake accepts only that one
			want: []string{"✗ token valid: Discord answered 401 Unauthorized — Reset the token under Bot > Token"}},
		{name: "members intent off", opts: dt.Options{AppFlags: dt.FlagMessageContentLimited},
			want: []string{"✗ SERVER MEMBERS INTENT on — Turn on SERVER MEMBERS INTENT under Bot > Privileged Gateway Intents",
				"✓ MESSAGE CONTENT INTENT on"}},
		{name: "content intent off", opts: dt.Options{AppFlags: dt.FlagGuildMembersLimited}, // advisory: the bot runs without it
			want: []string{"! MESSAGE CONTENT INTENT on: the intent is off: messages are recorded without their text (except those that mention the bot) and the link filter cannot see links — Turn on MESSAGE CONTENT INTENT",
				"✓ SERVER MEMBERS INTENT on"}},
		{name: "missing permission", tweak: func(g *discordgo.Guild, _ *settings.Community) {
			g.Roles[1].Permissions &^= discordgo.PermissionBanMembers | discordgo.PermissionViewAuditLogs
		}, want: []string{"✗ permissions: missing View Audit Log, Ban Members — Give chatwarden's role View Audit Log, Ban Members in Server Settings > Roles"}},
		{name: "role too low", tweak: func(g *discordgo.Guild, _ *settings.Community) {
			g.Roles[2].Position = 9
		}, want: []string{"✗ role above the verified role: chatwarden's highest role is not above @verified — In Server Settings > Roles drag chatwarden's role above @verified."}},
		{name: "member role above", tweak: func(g *discordgo.Guild, _ *settings.Community) {
			g.Roles[3].Position = 7
		}, want: []string{"! can act on members: members with @regulars are above chatwarden's role — In Server Settings > Roles drag chatwarden's role above @regulars"}},
		{name: "log channel permissions", tweak: func(g *discordgo.Guild, _ *settings.Community) {
			g.Channels[0].PermissionOverwrites = []*discordgo.PermissionOverwrite{
				{ID: docBotRole, Type: discordgo.PermissionOverwriteTypeRole, Deny: discordgo.PermissionEmbedLinks}}
		}, want: []string{"✗ log channel #mod-log permissions: missing Embed Links — Give chatwarden Embed Links in #mod-log's settings > Permissions."}},
		{name: "paused log channel", tweak: func(_ *discordgo.Guild, s *settings.Community) {
			s.LogChannels[0].Paused = "missing permissions (403)"
		}, want: []string{"✗ log channel #mod-log delivering: paused: missing permissions (403) — Fix the channel's permissions, then run /config log-channel"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, text := runDoctor(t, tc.opts, tc.tweak)
			advisory := strings.HasPrefix(tc.want[0], "!")
			if r.OK != advisory {
				t.Errorf("report OK = %v", r.OK)
			}
			for _, want := range tc.want {
				if !strings.Contains(text, want) {
					t.Errorf("missing %q in\n%s", want, text)
				}
			}
		})
	}
}

// TestConfigDoctor: /config doctor answers for its own server only, with
// the checks' fixes, privately.
func TestConfigDoctor(t *testing.T) {
	h, err := start(t, dt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.fake.AddGuild(guild(otherID))
	a, _ := last(t, h.fake.Slash(guildID, owner, "config", "doctor"), 2)
	for _, want := range []string{"**discord Test " + guildID + " (" + guildID + ")**", "✓ token valid",
		"✗ bot is a member", "Fix the ✗ lines above"} {
		if !strings.Contains(a.Content, want) {
			t.Errorf("missing %q in\n%s", want, a.Content)
		}
	}
	if strings.Contains(a.Content, otherID) {
		t.Errorf("another server's checks shown:\n%s", a.Content)
	}
	b, _ := last(t, h.fake.Slash(guildID, member, "config", "doctor"), 1)
	if !strings.Contains(b.Content, "Manage Server") {
		t.Errorf("a member ran /config doctor: %s", b.Content)
	}
}
