package discord_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// A raid of 200 joins, each with Discord's join notice in the system
// channel: 200 USER_JOIN records and not one "posted a message".
func TestJoinNoticesAreNotChat(t *testing.T) {
	chat := &settings.Community{LogChannels: []settings.LogChannel{{ID: logID, Types: []audit.EventType{audit.ChatMessage}}}}
	h, err := startWith(t, discordtestOptions(), chat)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := 0; i < n; i++ {
		h.fake.JoinWithNotice(guildID, channelID, &discordgo.User{ID: fmt.Sprintf("5%017d", i), Username: fmt.Sprintf("raider%d", i)})
	}
	// A member's message after them: once it is recorded, every notice
	// before it in the gateway's order has been handled.
	h.fake.Say(guildID, channelID, member, "what is going on")
	msgs := h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, 1)
	joins := h.wait(store.Query{Types: []audit.EventType{audit.UserJoin}}, n)
	if len(joins) != n {
		t.Fatalf("%d joins, want %d", len(joins), n)
	}
	if len(msgs) != 1 || msgs[0].Content != "what is going on" {
		for _, m := range msgs {
			t.Errorf("chat record by %s: %q", m.ActorName, m.Content)
		}
		t.Fatalf("%d CHAT_MESSAGE records, want only the member's", len(msgs))
	}
	h.entry(msgs[0])
	for _, p := range h.logPosts() {
		for _, em := range p.Embeds {
			if strings.Contains(em.Description, "raider") {
				t.Errorf("a join notice reached the log channel: %q", em.Description)
			}
		}
	}
}

// A boost notice is the member's USER_UPDATE (field boost), not chat.
func TestBoostNoticeIsAnUpdate(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), logged())
	if err != nil {
		t.Fatal(err)
	}
	h.fake.SystemMessage(guildID, channelID, member, 9, "")
	e := h.wait(store.Query{Types: []audit.EventType{audit.UserUpdate}}, 1)[0]
	h.verify(e, check{typ: audit.UserUpdate, platformType: "MESSAGE_CREATE", actor: member.ID, actorType: audit.ActorNonAdmin,
		target: member.ID, params: map[string]string{audit.ParamField: "boost", audit.ParamNewValue: "BOOST_1"},
		summary: "Ann's profile was updated.", fields: map[string]string{"Field": "boost", "New value": "BOOST_1"}})
	if page, err := h.s.Query(t.Context(), store.Query{Platform: audit.Discord, Property: guildID, Types: []audit.EventType{audit.ChatMessage}}); err != nil || len(page.Events) != 0 {
		t.Fatalf("the boost notice was recorded as %d messages (%v)", len(page.Events), err)
	}
}

// /config show says which records a missing permission costs, from the
// bot's permissions Discord sends with the command.
func TestConfigShowNamesMissingPermissions(t *testing.T) {
	h, err := start(t, discordtestOptions())
	if err != nil {
		t.Fatal(err)
	}
	// The bot joined with a role that can post and moderate, but neither
	// read the audit log nor manage the server.
	bot := &discordgo.User{ID: h.fake.BotID(), Username: "chatwarden", Bot: true}
	h.fake.Join(guildID, bot)
	h.fake.RoleBy(guildID, owner.ID, bot.ID, modRole, true, "")
	a, _ := last(t, h.fake.Slash(guildID, owner, "config", "show"), 1)
	for _, want := range []string{"lacks ", "View Audit Log", "Without View Audit Log, kicks, bans", "Without Manage Server, AutoMod's actions"} {
		if !strings.Contains(a.Content, want) {
			t.Errorf("show does not say %q: %q", want, a.Content)
		}
	}
	if strings.Contains(a.Content, "Without Ban Members") {
		t.Errorf("show says a permission the bot has is missing: %q", a.Content)
	}
}
