package discord_test

import (
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

const voiceA, voiceB = "200000000000000010", "200000000000000011"

// Who disconnected this member from voice: a member's own join, move
// and leave, a moderator's server mute, move and disconnect.
func TestVoiceSources(t *testing.T) {
	h, err := startWith(t, manyPosts, logged())
	if err != nil {
		t.Fatal(err)
	}
	voice := func(n int) *audit.Event {
		t.Helper()
		return h.wait(store.Query{Types: []audit.EventType{audit.VoiceUpdate}}, n)[0]
	}
	self := func(action, old, now, summary string) check {
		return check{typ: audit.VoiceUpdate, platformType: "VOICE_STATE_UPDATE", actor: member.ID, actorType: audit.ActorNonAdmin,
			target: member.ID, params: map[string]string{audit.ParamAction: action, "old_channel": old, "new_channel": now},
			summary: summary, fields: map[string]string{"Action": action}}
	}
	byMod := func(action, old, now, summary string) check {
		return check{typ: audit.VoiceUpdate, platformType: "VOICE_STATE_UPDATE", actor: mod.ID, actorType: audit.ActorAdmin,
			target: member.ID, params: map[string]string{audit.ParamAction: action, "old_channel": old, "new_channel": now},
			summary: summary, fields: map[string]string{"Action": action, "Actor": "mod (" + mod.ID + ") · admin"}}
	}
	h.fake.VoiceJoin(guildID, voiceA, member.ID)
	h.verify(voice(1), self(audit.VoiceJoin, "", voiceA, "Ann joined a voice channel."))
	h.fake.VoiceJoin(guildID, voiceB, member.ID)
	h.verify(voice(2), self(audit.VoiceMove, voiceA, voiceB, "Ann moved to another voice channel."))
	h.fake.ServerMuteBy(guildID, mod.ID, member.ID, true, "shouting")
	mute := byMod(audit.VoiceMute, voiceB, voiceB, "mod changed the voice state of Ann.")
	mute.params[audit.ParamReason] = "shouting"
	h.verify(voice(3), mute)
	h.fake.MoveBy(guildID, mod.ID, member.ID, voiceA)
	h.verify(voice(4), byMod(audit.VoiceMove, voiceB, voiceA, "mod moved Ann to another voice channel."))
	h.fake.DisconnectBy(guildID, mod.ID, member.ID)
	h.verify(voice(5), byMod(audit.VoiceDisconnect, voiceA, "", "mod disconnected Ann from voice."))
	h.fake.VoiceJoin(guildID, voiceA, member.ID)
	voice(6)
	h.fake.VoiceLeave(guildID, member.ID)
	h.verify(voice(7), self(audit.VoiceLeave, voiceA, "", "Ann left a voice channel."))
}

// A rule made before the bot connected is named from the guild's rules
// read over REST, once.
func TestAutomodRuleNamedOverREST(t *testing.T) {
	h, err := startWith(t, manyPosts, logged())
	if err != nil {
		t.Fatal(err)
	}
	rule := h.fake.AddAutomodRule(guildID, "no invites")
	h.fake.AutomodBlock(guildID, channelID, member.ID, rule, "discord.gg/*", "join discord.gg/x", "discord.gg/x")
	for _, e := range h.wait(store.Query{Types: []audit.EventType{audit.ModerationAutomod}}, 2) {
		if e.Params[audit.ParamRule] != "no invites" {
			t.Errorf("%s: rule %q, want the name read over REST", e.Params[audit.ParamAction], e.Params[audit.ParamRule])
		}
	}
	reads := 0
	for _, c := range h.fake.Calls() {
		if c.Path == "/guilds/"+guildID+"/auto-moderation/rules" {
			reads++
		}
	}
	if reads != 1 {
		t.Fatalf("%d reads of the rules, want 1", reads)
	}
}
