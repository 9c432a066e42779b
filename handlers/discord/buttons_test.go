package discord_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/moderation"
)

// logButtons returns the custom ids of the log channel's buttons with a
// label, in the order they were posted.
func (h *engineHarness) logButtons(label string) []string {
	var ids []string
	for _, raw := range h.fake.Posts(engLog) {
		var p struct {
			Components []struct {
				Components []struct {
					Label    string `json:"label"`
					CustomID string `json:"custom_id"`
				} `json:"components"`
			} `json:"components"`
		}
		if json.Unmarshal(raw, &p) != nil {
			continue
		}
		for _, row := range p.Components {
			for _, b := range row.Components {
				if b.Label == label {
					ids = append(ids, b.CustomID)
				}
			}
		}
	}
	return ids
}

// TestReversalButtonsOnEngineEntries presses the buttons of the entries an
// engine's action leaves (a quarantine's timeout: Lift; the security alert:
// Kick and Ban): each is checked against the presser's own permissions in
// the guild of the entry, and what it does is recorded with the presser as
// actor.
func TestReversalButtonsOnEngineEntries(t *testing.T) {
	h := newEngineHarness(t, engineConfig{mod: func(d *moderation.Defaults) { d.Impersonation.Action = moderation.ActionQuarantine }})
	f := h.fake
	mimic := &discordgo.User{ID: "410000000000000021", Username: "olga.staff", GlobalName: "\u041elg\u0430 Petrova"}
	f.Join(engGuild, mimic)
	h.wait(audit.SecurityEvent, 1)
	var lift, kick, ban []string
	h.poll("the Lift, Kick and Ban buttons in the log channel", func() bool {
		lift, kick, ban = h.logButtons("Lift timeout"), h.logButtons("Kick"), h.logButtons("Ban")
		return len(lift) == 1 && len(kick) == 1 && len(ban) == 1
	})
	member := func(method string) int { return len(h.calls(method, "/guilds/"+engGuild+"/members/"+mimic.ID)) }
	patches := member(http.MethodPatch)

	// A plain member may press nothing; the moderator (Ban and Kick
	// Members, no Moderate Members) may not lift a timeout.
	for _, id := range []string{lift[0], kick[0], ban[0]} {
		if a := h.reply(f.Press(engGuild, engAnn, id)); !strings.Contains(a.Data.Content, "permission") || a.Data.Flags&ephemeral == 0 {
			t.Fatalf("a member's press of %s: %+v", id, a.Data)
		}
	}
	if a := h.reply(f.Press(engGuild, engMod, lift[0])); !strings.Contains(a.Data.Content, "permission") {
		t.Fatalf("the moderator lifted a timeout without Moderate Members: %q", a.Data.Content)
	}
	if member(http.MethodPatch) != patches || member(http.MethodDelete) != 0 || len(h.calls(http.MethodPut, "/guilds/"+engGuild+"/bans/"+mimic.ID)) != 0 {
		t.Fatal("a refused press acted on Discord")
	}

	// The owner lifts the timeout: a PATCH clearing it, recorded as hers.
	if a := h.reply(f.Press(engGuild, engOwner, lift[0])); !strings.Contains(a.Data.Content, "done") {
		t.Fatalf("the owner's Lift: %q", a.Data.Content)
	}
	h.poll("the timeout lifted on Discord", func() bool { return member(http.MethodPatch) > patches })
	lifted := h.records(audit.UserUpdate)
	found := false
	for _, e := range lifted {
		if e.Params[audit.ParamField] == "timeout" && e.ActorID == engOwner.ID && e.ActorType == audit.ActorAdmin && e.Target() == mimic.ID {
			found = true
		}
	}
	if !found {
		t.Fatalf("no USER_UPDATE of the timeout by the owner: %s", describe(lifted))
	}

	// The moderator bans from the security alert.
	if a := h.reply(f.Press(engGuild, engMod, ban[0])); !strings.Contains(a.Data.Content, "done") {
		t.Fatalf("the moderator's Ban: %q", a.Data.Content)
	}
	bans := h.wait(audit.UserBan, 1)
	if bans[0].ActorID != engMod.ID || bans[0].Target() != mimic.ID || !strings.Contains(bans[0].Params[audit.ParamReason], "log entry") {
		t.Fatalf("ban record %s", describe(bans))
	}
	if n := len(h.calls(http.MethodPut, "/guilds/"+engGuild+"/bans/"+mimic.ID)); n != 1 {
		t.Fatalf("%d ban calls", n)
	}
}

// TestIntegrationAlertButtonsFitTheirTarget: a webhook's alert offers
// Delete webhook (never Kick, which would call the member endpoint with a
// webhook id), an integration's and a bot's offer Remove; each does what
// it says.
func TestIntegrationAlertButtonsFitTheirTarget(t *testing.T) {
	h := newEngineHarness(t, engineConfig{})
	f := h.fake
	alert := func(kind, target string) {
		e := &audit.Event{Platform: audit.Discord, PropertyID: engGuild, Type: audit.SecurityEvent,
			Function: audit.FuncIntegrationGuard, ActorType: audit.ActorBot, ActorID: f.BotID(), TargetIDs: []string{target},
			Params: audit.Params{audit.ParamKind: audit.KindUnauthorizedIntegration, "integration": kind,
				audit.ParamTargetName: "Spam " + kind}}
		if err := h.rec.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	alert("WEBHOOK", "710000000000000001")
	alert("INTEGRATION", "710000000000000002")
	var hook, remove []string
	h.poll("the alerts' buttons", func() bool {
		hook, remove = h.logButtons("Delete webhook"), h.logButtons("Remove")
		return len(hook) == 1 && len(remove) == 1
	})
	if k := h.logButtons("Kick"); len(k) != 0 {
		t.Fatalf("an integration alert offers Kick: %v", k)
	}
	if a := h.reply(f.Press(engGuild, engOwner, hook[0])); !strings.Contains(a.Data.Content, "done") {
		t.Fatalf("Delete webhook: %q", a.Data.Content)
	}
	if a := h.reply(f.Press(engGuild, engOwner, remove[0])); !strings.Contains(a.Data.Content, "done") {
		t.Fatalf("Remove: %q", a.Data.Content)
	}
	if d := f.Deleted(); !slices.Equal(d, []string{"webhooks/710000000000000001",
		"guilds/" + engGuild + "/integrations/710000000000000002"}) {
		t.Fatalf("deleted %v", d)
	}
	if len(h.calls(http.MethodDelete, "/guilds/"+engGuild+"/members/710000000000000001")) != 0 {
		t.Fatal("a webhook was kicked as a member")
	}
}
