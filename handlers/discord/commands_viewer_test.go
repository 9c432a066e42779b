package discord_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/chatwarden/chatwarden/command"
)

// fakeViewerLink stands in for the HTTP API's login links: the link names
// the property and the person it was made for.
func fakeViewerLink(_ context.Context, property string, user command.Admin) (string, time.Time, error) {
	return "https://viewer.test/login/link?code=cwl_" + property + "_" + user.ID, time.Unix(1_900_000_000, 0), nil
}

func TestAuditViewerGivesAPrivateLink(t *testing.T) {
	h, err := start(t, discordtestOptions())
	if err != nil {
		t.Fatal(err)
	}
	text := final(t, h.fake.Slash(guildID, owner, "audit", "viewer"))
	if !strings.Contains(text, "https://viewer.test/login/link?code=cwl_"+guildID+"_"+owner.ID) || !strings.Contains(text, `\u003ct:1900000000:t\u003e`) {
		t.Errorf("/audit viewer answer:\n%s", text)
	}
	if !strings.Contains(text, `"flags":64`) {
		t.Errorf("the link is not private:\n%s", text)
	}
	// Without View Audit Log, no link.
	text = final(t, h.fake.Slash(guildID, member, "audit", "viewer"))
	if strings.Contains(text, "viewer.test") || !strings.Contains(text, "View Audit Log") {
		t.Errorf("/audit viewer for a member:\n%s", text)
	}
}

// TestViewerAllowed: who may keep a viewer session, as the gateway last
// said: the owner; a member whose roles grant View Audit Log or Manage
// Server; not one whose roles grant neither, nor one who left.
func TestViewerAllowed(t *testing.T) {
	h, err := start(t, discordtestOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	allowed := func(user string) bool {
		t.Helper()
		ok, err := h.b.ViewerAllowed(ctx, guildID, user)
		if err != nil {
			t.Fatalf("ViewerAllowed(%s): %v", user, err)
		}
		return ok
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5s", what)
			}
		}
	}
	// Until the guild's GUILD_CREATE, READY's stub of it answers nothing.
	eventually("the guild to be available", func() bool { _, err := h.b.ViewerAllowed(ctx, guildID, owner.ID); return err == nil })
	if !allowed(owner.ID) || allowed(mod.ID) || allowed(member.ID) {
		t.Fatalf("owner %v, ban-and-kick moderator %v, member %v", allowed(owner.ID), allowed(mod.ID), allowed(member.ID))
	}
	managers := h.fake.CreateRoleBy(guildID, owner.ID, discordgo.Role{Name: "managers", Permissions: discordgo.PermissionManageGuild}, "")
	h.fake.SetRoles(guildID, owner.ID, member.ID, managers)
	eventually("Manage Server lets Ann in", func() bool { return allowed(member.ID) })
	h.fake.KickBy(guildID, owner.ID, member.ID, "")
	eventually("Ann, gone, may not", func() bool { return !allowed(member.ID) })
	if _, err := h.b.ViewerAllowed(ctx, "999", owner.ID); err == nil {
		t.Error("a guild the bot is not in: no error")
	}
}
