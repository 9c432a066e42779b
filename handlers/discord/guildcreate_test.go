package discord_test

import (
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/store"
)

// TestMembersMissingFromGuildCreate runs the bot against GUILD_CREATE as
// Discord sends it without GUILD_PRESENCES (only the bot and members in
// voice): a member never seen since the bot connected is still named, as
// the creator of a thread and as the target of a pin, read over REST.
func TestMembersMissingFromGuildCreate(t *testing.T) {
	h, err := start(t, discordtest.Options{VoiceOnlyMembers: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.b.Session().State.Member(guildID, member.ID); err == nil {
		t.Fatal("the member is in the state: GUILD_CREATE listed them")
	}
	th := h.fake.CreateThread(guildID, channelID, member.ID, "help thread")
	created := h.wait(store.Query{Types: []audit.EventType{audit.ChannelCreate}}, 1)[0]
	if created.ChannelID != th.ID || created.ActorID != member.ID || created.ActorName != member.GlobalName || created.ActorType != audit.ActorNonAdmin {
		t.Errorf("thread created by %q (%s, %s), want %q", created.ActorName, created.ActorID, created.ActorType, member.GlobalName)
	}
	h.fake.AuditEntry(guildID, mod.ID, discordgo.AuditLogActionMessagePin, member.ID, "",
		&discordgo.AuditLogOptions{ChannelID: channelID, MessageID: "500000000000000001"})
	pin := h.wait(store.Query{Types: []audit.EventType{audit.ChatMessagePin}}, 1)[0]
	if pin.ActorName != mod.Username || pin.Params[audit.ParamTargetName] != member.GlobalName {
		t.Errorf("pin by %q of a message by %q, want %q and %q", pin.ActorName, pin.Params[audit.ParamTargetName], mod.Username, member.GlobalName)
	}
}
