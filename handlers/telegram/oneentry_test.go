package telegram_test

import (
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/enginetest"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/verification"
)

// quietRecords returns the records of typ in chat marked quiet, and all
// of them.
func (h *harness) quietRecords(chat int64, typ audit.EventType) (quiet, all []*audit.Event) {
	all = h.records(chat, typ)
	for _, e := range all {
		if e.Params[audit.ParamQuiet] != "" {
			quiet = append(quiet, e)
		}
	}
	return quiet, all
}

// Verification passing is one entry in the log chat: the restriction, its
// lifting and the deletion of the challenge are stored, not posted. The
// details are recorded before the result, and a log chat's entries are
// posted in order, so once the result is there a detail would be too.
func TestVerificationIsOneEntryInTheLogChat(t *testing.T) {
	h := engineHarness(t, enginetest.Config{})
	f := h.fake
	owner, zoe, bob := f.NewUser("Owner"), f.NewUser("Zoe"), f.NewUser("Bob")
	g := f.NewSupergroup("G", owner)
	logChat := f.NewSupergroup("G logs", owner)
	h.setLog(g.ID, logChat.ID)
	verifying(h, g.ID, verification.KindButton)

	h.join(g, zoe)
	ch := h.challenge(g.ID, "Zoe")
	h.press(g, zoe, ch, "I'm human")
	text := h.waitText(logChat.ID, "Zoe passed verification.")
	for _, bad := range []string{"deleted a message", "profile was updated"} {
		if strings.Contains(text, bad) {
			t.Errorf("the log chat shows a detail of the verification (%q):\n%s", bad, text)
		}
	}
	// The details are in the store, marked.
	if q, all := h.quietRecords(g.ID, audit.UserUpdate); len(all) != 2 || len(q) != 2 {
		t.Errorf("USER_UPDATE: %d records, %d quiet; want the restriction and its lifting, both quiet", len(all), len(q))
	}
	if q, all := h.quietRecords(g.ID, audit.ChatMessageDelete); len(all) != 1 || len(q) != 1 {
		t.Errorf("CHAT_MESSAGE_DELETE: %d records, %d quiet; want the challenge's, quiet", len(all), len(q))
	}

	// Failing is one entry that says what was done.
	h.setEngine(g.ID, "verification.kind", verification.KindMath)
	h.setEngine(g.ID, "verification.max_attempts", "1")
	h.join(g, bob)
	bc := h.challenge(g.ID, "Bob")
	h.press(g, bob, bc, wrongLabel(t, bc))
	text = h.waitText(logChat.ID, "Bob failed verification and was removed.")
	if f.ChatMember(g.ID, bob.ID).Status != telegramtest.StatusLeft {
		t.Errorf("Bob is %s after failing", f.ChatMember(g.ID, bob.ID).Status)
	}
	for _, bad := range []string{"removed Bob", "deleted a message", "profile was updated"} {
		if strings.Contains(text, bad) {
			t.Errorf("the log chat shows a detail of the verification (%q):\n%s", bad, text)
		}
	}
	if q, all := h.quietRecords(g.ID, audit.UserRemove); len(all) != 1 || len(q) != 1 {
		t.Errorf("USER_REMOVE: %d records, %d quiet; want the kick, quiet", len(all), len(q))
	}
	if q, _ := h.quietRecords(g.ID, audit.ChatMessageDelete); len(q) != 3 {
		t.Errorf("%d quiet deletions; want both challenges and Bob's join message", len(q))
	}
}
