package discord_test

import (
	"fmt"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// A ban arrives as GUILD_MEMBER_REMOVE, GUILD_BAN_ADD and its audit entry
// in no documented order: in each of the six it is one USER_BAN with the
// moderator and the reason, and no removal.
func TestBanAttributedInAnyOrder(t *testing.T) {
	h, err := startWith(t, manyPosts, logged())
	if err != nil {
		t.Fatal(err)
	}
	orders := []string{"RBE", "REB", "BRE", "BER", "ERB", "EBR"}
	users := map[string]*discordgo.User{}
	for i, order := range orders {
		u := &discordgo.User{ID: fmt.Sprintf("41000000000000000%d", i), Username: "raider" + order}
		users[u.ID] = u
		h.fake.Join(guildID, u)
	}
	h.wait(store.Query{Types: []audit.EventType{audit.UserJoin}}, len(orders))
	for i, order := range orders {
		h.fake.BanInOrder(guildID, mod.ID, fmt.Sprintf("41000000000000000%d", i), "raid "+order, order)
	}
	bans := h.wait(store.Query{Types: []audit.EventType{audit.UserBan}}, len(orders))
	byTarget := map[string]*audit.Event{}
	for _, e := range bans {
		byTarget[e.Target()] = e
	}
	for i, order := range orders {
		id := fmt.Sprintf("41000000000000000%d", i)
		e := byTarget[id]
		if e == nil {
			t.Errorf("%s: no USER_BAN of %s", order, id)
			continue
		}
		h.verify(e, check{typ: audit.UserBan, platformType: "GUILD_BAN_ADD", actor: mod.ID, actorType: audit.ActorAdmin,
			target: id, params: map[string]string{audit.ParamReason: "raid " + order, audit.ParamTargetName: users[id].Username},
			summary: "mod banned " + users[id].Username + ".", fields: map[string]string{"Reason": "raid " + order}})
	}
	// A member who leaves after the bans: their removal is recorded after
	// any a ban would have wrongly caused (same window, started later).
	h.fake.Leave(guildID, member.ID)
	removes := h.wait(store.Query{Types: []audit.EventType{audit.UserRemove}}, 1)
	if len(removes) != 1 || removes[0].Target() != member.ID || removes[0].Params[audit.ParamRemoval] != audit.RemovalLeft {
		for _, r := range removes {
			t.Errorf("removal of %s by %s (%s), reason %q", r.Target(), r.ActorID, r.Params[audit.ParamRemoval], r.Params[audit.ParamReason])
		}
		t.Fatalf("%d removals, want only the leave", len(removes))
	}
	if bans := h.wait(store.Query{Types: []audit.EventType{audit.UserBan}}, len(orders)); len(bans) != len(orders) {
		t.Fatalf("%d bans, want %d", len(bans), len(orders))
	}
}

// A kick whose audit entry never reaches the gateway within the window is
// read from GET /guilds/{id}/audit-logs?action_type=20: a kick by the
// moderator, not a leave.
func TestLateKickEntryReadOverREST(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), logged())
	if err != nil {
		t.Fatal(err)
	}
	h.fake.KickLate(guildID, mod.ID, member.ID, "spam")
	kick := h.wait(store.Query{Types: []audit.EventType{audit.UserRemove}}, 1)[0]
	h.verify(kick, check{typ: audit.UserRemove, platformType: "GUILD_MEMBER_REMOVE", actor: mod.ID, actorType: audit.ActorAdmin,
		target: member.ID, params: map[string]string{audit.ParamRemoval: audit.RemovalKicked, audit.ParamReason: "spam"},
		summary: "mod removed Ann.", fields: map[string]string{"Reason": "spam", "Removal": audit.RemovalKicked}})
	var reads []string
	read := false
	for _, c := range h.fake.Calls() {
		if c.Method == "GET" && c.Path == "/guilds/"+guildID+"/audit-logs" {
			reads = append(reads, c.Query.Encode())
			read = read || c.Query.Get("action_type") == "20"
		}
	}
	if !read {
		t.Fatalf("the bot never read the audit log filtered by MEMBER_KICK; reads: %q", reads)
	}
}

// A prune's removals are the moderator's, removal PRUNED, from one
// MEMBER_PRUNE entry that comes after them.
func TestPruneAttributesEveryRemoval(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), logged())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 3; i++ {
		u := &discordgo.User{ID: fmt.Sprintf("42000000000000000%d", i), Username: fmt.Sprintf("idle%d", i)}
		h.fake.Join(guildID, u)
		ids = append(ids, u.ID)
	}
	h.wait(store.Query{Types: []audit.EventType{audit.UserJoin}}, len(ids))
	h.fake.PruneBy(guildID, owner.ID, 30, ids...)
	removes := h.wait(store.Query{Types: []audit.EventType{audit.UserRemove}}, len(ids))
	for _, e := range removes {
		if e.ActorID != owner.ID || e.Params[audit.ParamRemoval] != audit.RemovalPruned || e.Params[audit.ParamPruneDays] != "30" {
			t.Errorf("removal of %s: actor %s, removal %s, days %s", e.Target(), e.ActorID, e.Params[audit.ParamRemoval], e.Params[audit.ParamPruneDays])
		}
	}
	h.verify(removes[0], check{typ: audit.UserRemove, platformType: "GUILD_MEMBER_REMOVE", actor: owner.ID, actorType: audit.ActorAdmin,
		target: removes[0].Target(), params: map[string]string{audit.ParamRemoval: audit.RemovalPruned},
		summary: "owner removed " + removes[0].Params[audit.ParamTargetName] + ".", fields: map[string]string{"Removal": audit.RemovalPruned}})
}
