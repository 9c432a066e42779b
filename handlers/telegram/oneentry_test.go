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

// One bot added is one alert in the log chat.
func TestBotAddedIsOneAlert(t *testing.T) {
	h := engineHarness(t, enginetest.Config{})
	f := h.fake
	owner, ann := f.NewUser("Owner"), f.NewUser("Ann")
	g := f.NewSupergroup("G", owner, ann)
	logChat := f.NewSupergroup("G logs", owner)
	h.setLog(g.ID, logChat.ID)
	spam := f.AddUser(telegramtest.User{FirstName: "Free Crypto", Username: "free_crypto_bot", IsBot: true})
	f.AddMemberByAdmin(g, ann, spam)
	h.wait(g.ID, audit.SecurityEvent, 1)
	h.eng.Flush()
	// The bot's join was held until the guard decided, then dropped: the
	// outbox empties without posting it.
	text := h.drained(logChat.ID)
	if n := strings.Count(text, "Security: unauthorized integration"); n != 1 {
		t.Errorf("%d alerts for one bot:\n%s", n, text)
	}
	if strings.Contains(text, "Free Crypto joined") {
		t.Errorf("the bot's join is posted besides its alert:\n%s", text)
	}
	if n := len(h.records(g.ID, audit.UserJoin)); n != 1 {
		t.Errorf("%d USER_JOIN records for the bot, want 1", n)
	}
	// Its button removes the bot; a member's buttons do not apply to it.
	alert := h.waitButton(logChat.ID, "Remove")
	if bs := buttons(alert); len(bs) != 1 {
		t.Errorf("the bot's alert offers %v, want Remove only", mapKeys(bs))
	}
	if ans := h.press(logChat, owner, alert, "Remove"); ans.Text != "Removed." {
		t.Fatalf("Remove: %+v", ans)
	}
	if st := f.ChatMember(g.ID, spam.ID).Status; st != telegramtest.StatusLeft {
		t.Errorf("the bot is %s after Remove, want left", st)
	}
}

func mapKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// drained waits until nothing is left to post to log chats and returns
// what a log chat received.
func (h *harness) drained(logChat int64) string {
	h.t.Helper()
	waitFor(h.t, "the log outbox to empty", func() bool {
		n, err := h.s.OutboxDepth(audit.Telegram.String())
		return err == nil && n == 0
	})
	return h.text(logChat)
}

// A rename of first and last name is one USER_UPDATE and at most one
// impersonation alert, naming the member by their new name; the guard's
// quarantine is told by the alert, not posted on its own.
func TestRenameIsOneUpdateAndOneAlert(t *testing.T) {
	h := engineHarness(t, enginetest.Config{})
	f := h.fake
	owner := f.AddUser(telegramtest.User{FirstName: "Olga", LastName: "Petrova", Username: "olga_petrova"})
	ann := f.AddUser(telegramtest.User{FirstName: "Ann", LastName: "Lee", Username: "annlee"})
	g := f.NewSupergroup("Group", owner, ann)
	logChat := f.NewSupergroup("G logs", owner)
	h.setLog(g.ID, logChat.ID)
	h.setEngine(g.ID, "impersonation.action", "quarantine")
	f.Message(g, ann, "hello")
	h.wait(g.ID, audit.ChatMessage, 1)
	renamed := ann
	renamed.FirstName, renamed.LastName, renamed.Username = "\u041elga", "P\u0435trova", "olga_petrova_"
	f.Message(g, renamed, "new name")
	h.wait(g.ID, audit.SecurityEvent, 1)
	waitFor(t, "the quarantine", func() bool { return f.ChatMember(g.ID, ann.ID).Status == telegramtest.StatusRestricted })
	h.eng.Flush()
	f.Message(g, owner, "sentinel")
	text := h.waitText(logChat.ID, "sentinel")

	var renames []*audit.Event
	for _, e := range h.records(g.ID, audit.UserUpdate) {
		if e.Function == audit.FuncGateway {
			renames = append(renames, e)
		}
	}
	if len(renames) != 1 {
		t.Fatalf("%d USER_UPDATE records for one rename", len(renames))
	}
	if p := renames[0].Params; p[audit.ParamField] != "name" || p[audit.ParamOldValue] != "Ann Lee" ||
		p[audit.ParamNewValue] != "\u041elga P\u0435trova" || p[audit.ParamChanged] != "first_name,last_name,username" ||
		p["old_username"] != "annlee" || p["new_username"] != "olga_petrova_" {
		t.Errorf("rename record %v", p)
	}
	secs := h.records(g.ID, audit.SecurityEvent)
	if len(secs) != 1 || secs[0].Params[audit.ParamTargetName] != "\u041elga P\u0435trova" {
		t.Fatalf("impersonation records %+v", secs)
	}
	if n := strings.Count(text, "Security: impersonation"); n != 1 {
		t.Errorf("%d impersonation alerts in the log chat:\n%s", n, text)
	}
	if n := strings.Count(text, "profile was updated"); n != 1 {
		t.Errorf("%d profile entries (the rename, and the quarantine besides its alert?):\n%s", n, text)
	}
}
