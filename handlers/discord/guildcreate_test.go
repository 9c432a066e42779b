package discord_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/store"
)

// TestMembersMissingFromGuildCreate runs the bot against GUILD_CREATE as
// Discord sends it without GUILD_PRESENCES (the fake's default: only the
// bot and members in voice): a member never seen since the bot connected
// is still named, as the creator of a thread, as the target of a pin, as
// who added a bot and in their own nickname change, which is recorded
// against the profile the member list (op 8 chunks) stored, not dropped
// as a first sight.
func TestMembersMissingFromGuildCreate(t *testing.T) {
	h, err := startWith(t, discordtest.Options{}, logged())
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

	// Her own nickname, twice: each change recorded with the value before.
	h.fake.Rename(guildID, member.ID, "annie")
	h.wait(store.Query{Types: []audit.EventType{audit.UserUpdate}}, 1)
	h.fake.Rename(guildID, member.ID, "ann the brave")
	nick := h.wait(store.Query{Types: []audit.EventType{audit.UserUpdate}}, 2)[0]
	h.verify(nick, check{typ: audit.UserUpdate, platformType: "GUILD_MEMBER_UPDATE", actor: member.ID, actorType: audit.ActorNonAdmin,
		target: member.ID, params: map[string]string{audit.ParamField: "nickname", audit.ParamOldValue: "annie", audit.ParamNewValue: "ann the brave",
			audit.ParamTargetName: "ann the brave"},
		summary: "ann the brave's profile was updated.",
		fields:  map[string]string{"Target": "ann the brave (" + member.ID + ")", "Field": "nickname", "Old value": "annie", "New value": "ann the brave"}})

	// A bot she adds: the entry names her.
	bot := &discordgo.User{ID: "400000000000000077", Username: "helper-bot"}
	h.fake.AddBot(guildID, member.ID, bot)
	join := h.wait(store.Query{Types: []audit.EventType{audit.UserJoin}}, 1)[0]
	if join.ActorID != bot.ID || join.Params["added_by"] != member.ID || join.Params["added_by_name"] != "ann the brave" {
		t.Errorf("bot join %s by %s (%q), want added by %s (%q)", join.ActorID, join.Params["added_by"], join.Params["added_by_name"], member.ID, "ann the brave")
	}
	if got, ok := h.entry(join).field("Added by"); !ok || got != "ann the brave ("+member.ID+")" {
		t.Errorf("the bot join's entry: Added by %q (present %v), want %q", got, ok, "ann the brave ("+member.ID+")")
	}
}

// TestEnginesOwnerMissingFromGuildCreate: the owner is never in a
// GUILD_CREATE members list (not in voice); a newcomer who takes the
// owner's whole display name is still caught, whether the bot learns the
// owner from the member chunks or, when they never come, over REST.
func TestEnginesOwnerMissingFromGuildCreate(t *testing.T) {
	for _, tc := range []struct {
		name string
		fake discordtest.Options
	}{
		{"from the member chunks", discordtest.Options{}},
		{"over REST", discordtest.Options{HoldMemberChunks: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newEngineHarness(t, engineConfig{fake: tc.fake})
			if tc.fake.HoldMemberChunks {
				if _, err := h.b.Session().State.Member(engGuild, engOwner.ID); err == nil {
					t.Fatal("the state holds the owner: GUILD_CREATE listed her")
				}
			}
			copycat := &discordgo.User{ID: "410000000000000061", Username: "olga_official", GlobalName: engOwner.GlobalName}
			h.fake.Join(engGuild, copycat)
			sec := h.wait(audit.SecurityEvent, 1)[0]
			if sec.Params[audit.ParamKind] != audit.KindImpersonation || sec.Target() != copycat.ID || !slices.Contains(sec.TargetIDs, engOwner.ID) ||
				sec.Params[audit.ParamAction] != moderation.ActFlag || sec.Params[audit.ParamMatchedName] != engOwner.GlobalName {
				t.Fatalf("impersonation record %s", describe([]*audit.Event{sec}))
			}
		})
	}
}

// TestFirstUpdateBeforeTheMemberList: a member's update that comes before
// the bot has read the member list (here it never comes) has no stored
// profile to be diffed against; what the audit log says of it is
// recorded, with the values before (a moderator's role change). A change
// no entry shows (a new avatar) records nothing, whether its window ends
// (the audit log read over REST finds nothing) or the member's next
// change takes its place; that next change is diffed against what the
// first showed.
func TestFirstUpdateBeforeTheMemberList(t *testing.T) {
	h, err := startWith(t, discordtest.Options{HoldMemberChunks: true}, logged())
	if err != nil {
		t.Fatal(err)
	}
	if hasProfile(h.s, guildID, owner.ID) || hasProfile(h.s, guildID, member.ID) || hasProfile(h.s, guildID, mod.ID) {
		t.Fatal("a profile is stored: the member list was read")
	}
	updates := store.Query{Types: []audit.EventType{audit.UserUpdate}}

	// The owner's new avatar: no entry; the late lookups read both
	// actions' pages and find none.
	h.fake.SetAvatar(guildID, owner.ID, "a_feedface")
	for _, action := range []string{"24", "25"} {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if slices.ContainsFunc(h.fake.Calls(), func(c discordtest.Call) bool {
				return c.Method == http.MethodGet && strings.HasSuffix(c.Path, "/audit-logs") && c.Query.Get("action_type") == action
			}) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no audit-log read of action %s", action)
			}
		}
	}
	// The moderator's new avatar, then at once a nickname the owner gives
	// him: the second update takes the first's place.
	h.fake.SetAvatar(guildID, mod.ID, "a_c0ffee")
	h.fake.NickBy(guildID, owner.ID, mod.ID, "maxi", "")
	h.wait(updates, 1)

	h.fake.RoleBy(guildID, mod.ID, member.ID, modRole, true, "promoted")
	h.wait(updates, 2)
	h.fake.Rename(guildID, owner.ID, "boss")
	got := h.wait(updates, 3)
	byTarget := map[string]*audit.Event{}
	for _, e := range got {
		if byTarget[e.Target()] != nil {
			t.Fatalf("two records about %s: %s", e.Target(), describe(got))
		}
		byTarget[e.Target()] = e
	}
	h.verify(byTarget[member.ID], check{typ: audit.UserUpdate, platformType: "GUILD_MEMBER_UPDATE", actor: mod.ID, actorType: audit.ActorAdmin,
		target: member.ID, params: map[string]string{audit.ParamField: "roles", audit.ParamOldValue: "", audit.ParamNewValue: modRole,
			audit.ParamRolesAdded: modRole, audit.ParamRolesRemoved: "", audit.ParamReason: "promoted", audit.ParamTargetName: member.GlobalName},
		summary: "Ann's profile was updated.",
		fields:  map[string]string{"Target": "Ann (" + member.ID + ")", "Roles added": modRole, "Reason": "promoted"}})
	h.verify(byTarget[mod.ID], check{typ: audit.UserUpdate, platformType: "GUILD_MEMBER_UPDATE", actor: owner.ID, actorType: audit.ActorAdmin,
		target: mod.ID, params: map[string]string{audit.ParamField: "nickname", audit.ParamOldValue: "", audit.ParamNewValue: "maxi"},
		summary: "maxi's profile was updated.",
		fields:  map[string]string{"Field": "nickname", "New value": "maxi"}})
	if e := byTarget[owner.ID]; e == nil || e.Params[audit.ParamField] != "nickname" || e.Params[audit.ParamOldValue] != "" || e.Params[audit.ParamNewValue] != "boss" {
		t.Fatalf("the owner's records: %s; want only her nickname, diffed against what her first update showed", describe(got))
	}
}
