package telegram_test

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
)

// TestEraseCommand: /erase is refused to an admin who may not restrict
// members, asks for confirmation and changes nothing until it gets it,
// and the creator's confirmed /erase (the member found by replying to
// their message) removes the member's messages and names from the
// database file, answers with the count, and is recorded as
// DATA_RETENTION with the creator as actor and the member as target.
func TestEraseCommand(t *testing.T) {
	h := newHarnessWith(t, fast(config{}))
	f := h.fake
	owner, helper, ann, bob := f.NewUser("Owner"), f.NewUser("Helper"), f.NewUser("Annwyl-Zabaleta"), f.NewUser("Bob")
	g := f.NewSupergroup("G", owner, helper, ann, bob)
	f.SetAdmin(g, helper, telegramtest.AdminRights{CanManageChat: true, CanDeleteMessages: true}) // no restrict
	const secret = "juniper-tollbooth-secret"
	var last telegramtest.Update
	for i := range 4 {
		last = f.Message(g, ann, secret+" "+strconv.Itoa(i))
	}
	f.Message(g, bob, "bob's ordinary words")
	h.wait(g.ID, audit.ChatMessage, 5)
	annID := strconv.FormatInt(ann.ID, 10)
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

	f.Command(g, bob, "/erase "+annID+" confirm")
	h.waitText(g.ID, "Only the admins of this group can use /erase")
	f.Command(g, helper, "/erase "+annID+" confirm")
	h.waitText(g.ID, "Only the group's creator or an admin who may restrict members")
	f.ReplyTo(g, owner, last.Message.MessageID, "/erase")
	h.waitText(g.ID, "/erase "+annID+" confirm")
	f.Command(g, owner, "/erase abc")
	h.waitText(g.ID, "Reply to the member's message with /erase")
	if !fileHas(secret) {
		t.Fatal("something was erased before the creator confirmed")
	}

	f.ReplyTo(g, owner, last.Message.MessageID, "/erase confirm")
	h.waitText(g.ID, "Erased the personal data of user "+annID+" from 4 records")
	rec := h.wait(g.ID, audit.DataRetention, 1)[0]
	if rec.ActorID != strconv.FormatInt(owner.ID, 10) || len(rec.TargetIDs) != 1 || rec.TargetIDs[0] != annID ||
		rec.Params.Get(audit.ParamAction) != audit.RetentionErase || rec.Params.Get(audit.ParamCount) != "4" {
		t.Errorf("the erasure's record: %+v", rec)
	}
	if fileHas(secret) || fileHas("Annwyl-Zabaleta") {
		t.Error("the member's messages or name are still in the database file")
	}
	if !fileHas("bob's ordinary words") {
		t.Error("another member's message was erased too")
	}
	if strings.Contains(h.text(g.ID), secret) {
		t.Error("an answer quoted the erased messages")
	}
}
