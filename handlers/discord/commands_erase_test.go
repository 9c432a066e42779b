package discord_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	dt "github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/store"
)

// TestAuditEraseCommand: /audit erase is refused to a moderator without
// Administrator (even one who may read the log, and on the confirmation
// button too), does nothing until confirmed or when cancelled, and the
// owner's confirmed erasure removes the member's messages and names from
// the database file, answers privately with the count in a sentence, and
// is recorded as DATA_RETENTION with the owner as actor.
func TestAuditEraseCommand(t *testing.T) {
	h, err := start(t, discordtestOptions())
	if err != nil {
		t.Fatal(err)
	}
	// The moderators may read the log, not administer the server.
	h.fake.UpdateRoleBy(guildID, owner.ID, modRole, "", func(r *discordgo.Role) { r.Permissions |= discordgo.PermissionViewAuditLogs })
	const secret = "quince-harbour-secret"
	for i := range 5 {
		h.fake.Say(guildID, channelID, member, fmt.Sprintf("%s %d", secret, i))
	}
	h.fake.Say(guildID, channelID, mod, "kept words of the moderator")
	h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, 6)
	fileHas := func(s string) bool {
		b, err := os.ReadFile(h.s.Path())
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Contains(b, []byte(s))
	}
	if !fileHas(secret) {
		t.Fatal("the member's messages are not in the file: the test would prove nothing")
	}

	a, _ := last(t, h.fake.Slash(guildID, mod, "audit", "erase", dt.UserArg("member", member.ID)), 1)
	if !strings.Contains(a.Content, "Administrator") || button(a, "Erase") != "" {
		t.Fatalf("erase by a moderator without Administrator: %+v", a)
	}
	a, _ = last(t, h.fake.Slash(guildID, owner, "audit", "erase", dt.UserArg("member", member.ID)), 1)
	confirm, cancel := button(a, "Erase"), button(a, "Cancel")
	if confirm == "" || cancel == "" || !strings.Contains(a.Content, "cannot be undone") {
		t.Fatalf("the owner's erase asks no confirmation: %+v", a)
	}
	if a, _ := last(t, h.fake.Press(guildID, owner, cancel), 1); !strings.Contains(a.Content, "nothing was erased") {
		t.Fatalf("cancel: %q", a.Content)
	}
	// The confirmation's id is no key: the button checks the presser.
	if a, _ := last(t, h.fake.Press(guildID, mod, confirm), 1); !strings.Contains(a.Content, "Administrator") {
		t.Fatalf("the confirmation pressed by a moderator: %q", a.Content)
	}
	if a, _ := last(t, h.fake.Press(guildID, member, "cw:E:0123"), 1); !strings.Contains(a.Content, "expired") {
		t.Fatalf("a forged id: %q", a.Content)
	}
	if !fileHas(secret) {
		t.Fatal("something was erased before the owner confirmed")
	}

	a, _ = last(t, h.fake.Press(guildID, owner, confirm), 2) // deferred, then the answer
	if !strings.Contains(a.Content, "Erased the personal data of <@"+member.ID+"> from 5 records") {
		t.Fatalf("the erasure's answer: %q", a.Content)
	}
	if fileHas(secret) {
		t.Error("the member's messages are still in the database file")
	}
	if !fileHas("kept words of the moderator") {
		t.Error("the moderator's message was erased too")
	}
	rec := h.wait(store.Query{Types: []audit.EventType{audit.DataRetention}}, 1)[0]
	if rec.ActorID != owner.ID || rec.ActorType != audit.ActorAdmin || len(rec.TargetIDs) != 1 || rec.TargetIDs[0] != member.ID ||
		rec.Params.Get(audit.ParamAction) != audit.RetentionErase || rec.Params.Get(audit.ParamCount) != "5" {
		t.Errorf("the erasure's record: %+v", rec)
	}
}
