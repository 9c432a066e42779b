package telegram_test

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/handlers/enginetest"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/internal/testlog"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/verification"
)

// restart stops the bot and the engines, lets the verification clock run
// on by idle (time passing while the process is down), and starts new
// engines and a new bot on the same store.
func (h *harness) restart(idle time.Duration) {
	h.t.Helper()
	h.stop()
	h.eng.Restart(idle)
	h.start(nil)
}

// setEngine changes an engine setting of a group as its owner would.
func (h *harness) setEngine(chat int64, key, value string) {
	h.t.Helper()
	c := &command.Settings{Store: h.s, Router: h.router, Recorder: h.rec}
	if _, err := c.SetEngineSetting(context.Background(), command.Scope{Platform: audit.Telegram, Property: id(chat)},
		command.Admin{ID: "1", Name: "test"}, key, value); err != nil {
		h.t.Fatal(err)
	}
}

func engineHarness(t *testing.T, cfg enginetest.Config) *harness {
	return newHarnessWith(t, fast(config{engines: &cfg}))
}

// deleted reports whether message msgID of chat is gone.
func (h *harness) deleted(chat int64, msgID int) bool {
	_, ok := h.fake.MessageByID(chat, msgID)
	return !ok
}

// logText is everything the bot posted in a log chat.
func (h *harness) logText(chat int64) string { return h.text(chat) }

func TestLinkFilterDeletesPhishingOnceAndKeepsAllowedLinks(t *testing.T) {
	h := engineHarness(t, enginetest.Config{})
	f := h.fake
	owner, ann := f.NewUser("Owner"), f.NewUser("Ann")
	g := f.NewSupergroup("G", owner, ann)
	logChat := f.NewSupergroup("G logs", owner)
	h.setLog(g.ID, logChat.ID)

	// The owner sets the deny list; a bad value is explained.
	f.Command(g, owner, "/settings link_filter.denylist evil-login.com, phish.net")
	h.waitText(g.ID, "link_filter.denylist is now evil-login.com,phish.net.")
	f.Command(g, owner, "/settings link_filter.mode sometimes")
	h.waitText(g.ID, `"sometimes" is not one of denylist, allowlist`)
	if ch := h.exactly(g.ID, audit.SettingsChange, 1)[0]; ch.Params[audit.ParamSetting] != "link_filter.denylist" ||
		ch.Params[audit.ParamNewValue] != "evil-login.com,phish.net" || ch.ActorID != id(owner.ID) {
		t.Fatalf("settings change %+v", ch)
	}

	phish := f.Message(g, ann, "urgent: verify at https://secure.evil-login.com/account now").Message.MessageID
	allowed := f.Message(g, ann, "the docs are at https://go.dev/doc/").Message.MessageID
	textLink := f.MessageWith(telegramtest.MessageSpec{Chat: g, From: ann, Text: "claim your prize",
		Entities: []telegramtest.MessageEntity{{Type: "text_link", Offset: 6, Length: 4, URL: "https://phish.net/prize"}}}).Message.MessageID
	caption := f.MessageWith(telegramtest.MessageSpec{Chat: g, From: ann, Text: "read https://phish.net/free.pdf",
		Document: &telegramtest.File{Name: "free.pdf", Data: []byte("%PDF-1.4")}}).Message.MessageID

	links := h.wait(g.ID, audit.ModerationLink, 3)
	h.eng.Flush()
	links = h.exactly(g.ID, audit.ModerationLink, 3)
	deletes := h.exactly(g.ID, audit.ChatMessageDelete, 3)
	self := id(f.Bot().ID)
	byMsg := map[string]*audit.Event{}
	for _, l := range links {
		if l.ActorID != self || l.ActorType != audit.ActorBot || l.Target() != id(ann.ID) || l.Function != audit.FuncLinkFilter {
			t.Errorf("MODERATION_LINK %+v", l)
		}
		byMsg[l.MessageID] = l
	}
	for _, d := range deletes {
		if d.ActorID != self || d.ActorType != audit.ActorBot || d.Function != audit.FuncLinkFilter || d.Target() != id(ann.ID) {
			t.Errorf("CHAT_MESSAGE_DELETE %+v", d)
		}
	}
	for _, c := range []struct {
		msg    int
		domain string
	}{{phish, "secure.evil-login.com"}, {textLink, "phish.net"}, {caption, "phish.net"}} {
		l := byMsg[strconv.Itoa(c.msg)]
		if l == nil || l.Params[audit.ParamDomain] != c.domain || l.Params[audit.ParamOutcome] != moderation.OutcomeDone {
			t.Errorf("message %d: MODERATION_LINK %+v", c.msg, l)
		}
		if !h.deleted(g.ID, c.msg) {
			t.Errorf("message %d was not deleted", c.msg)
		}
	}
	if h.deleted(g.ID, allowed) {
		t.Error("the allowed link was deleted")
	}

	// The log chat tells each removal once: the MODERATION_LINK entry, not
	// also the bot's deletion.
	h.waitText(logChat.ID, "removed by link filtering")
	waitFor(t, "three link-filter entries", func() bool {
		return strings.Count(h.logText(logChat.ID), "removed by link filtering") >= 3
	})
	time.Sleep(300 * time.Millisecond)
	text := h.logText(logChat.ID)
	if n := strings.Count(text, "removed by link filtering"); n != 3 {
		t.Errorf("%d link-filter entries in the log chat:\n%s", n, text)
	}
	if !strings.Contains(text, "claim your prize") || !strings.Contains(text, "urgent: verify at") {
		t.Errorf("the removed messages' content is not in the log chat:\n%s", text)
	}
	if strings.Contains(text, "deleted a message") {
		t.Errorf("the bot's deletion is logged besides the MODERATION_LINK:\n%s", text)
	}
}

func TestImpersonationOfTheOwnerIsFlaggedThenQuarantined(t *testing.T) {
	h := engineHarness(t, enginetest.Config{})
	f := h.fake
	owner := f.AddUser(telegramtest.User{FirstName: "Olga", LastName: "Petrova", Username: "olga_petrova"})
	ann := f.NewUser("Ann")
	g := f.NewSupergroup("G", owner, ann)

	// Cyrillic О, а and е in "Оlgа Pеtrova".
	fake1 := f.AddUser(telegramtest.User{FirstName: "\u041elg\u0430", LastName: "P\u0435trova", Username: "olga_help"})
	f.JoinMember(g, fake1)
	sec := h.wait(g.ID, audit.SecurityEvent, 1)[0]
	if sec.Params[audit.ParamKind] != audit.KindImpersonation || sec.Target() != id(fake1.ID) ||
		!slices.Contains(sec.TargetIDs, id(owner.ID)) || sec.Params[audit.ParamAction] != moderation.ActFlag {
		t.Fatalf("impersonation record %+v", sec)
	}
	if st := f.ChatMember(g.ID, fake1.ID).Status; st != telegramtest.StatusMember {
		t.Fatalf("a flagged member is %s", st)
	}

	// Quarantine restricts the next one.
	h.setEngine(g.ID, "impersonation.action", "quarantine")
	fake2 := f.AddUser(telegramtest.User{FirstName: "\u041elga", LastName: "Petr\u043eva"})
	f.JoinMember(g, fake2)
	waitFor(t, "the impersonator's quarantine", func() bool {
		return f.ChatMember(g.ID, fake2.ID).Status == telegramtest.StatusRestricted
	})
	restricted := false
	for _, c := range f.Calls("restrictChatMember") {
		restricted = restricted || c.Params.Get("user_id") == id(fake2.ID)
	}
	if !restricted {
		t.Fatal("no restrictChatMember for the impersonator")
	}
	evs := h.wait(g.ID, audit.SecurityEvent, 2)
	if q := evs[0]; q.Target() != id(fake2.ID) || q.Params[audit.ParamAction] != moderation.ActQuarantine ||
		q.Params[audit.ParamOutcome] != moderation.OutcomeDone {
		t.Fatalf("quarantine record %+v", q)
	}

	// A new admin's names are protected at once: the engine's staff cache
	// (whose clock does not move here) is refreshed by the promotion.
	maxim := f.AddUser(telegramtest.User{FirstName: "Maximilian", Username: "maximilian"})
	f.JoinMember(g, maxim)
	h.wait(g.ID, audit.UserJoin, 3)
	f.PromoteAdmin(g, owner, maxim, telegramtest.ModeratorRights())
	h.wait(g.ID, audit.UserUpdate, 2) // the quarantine's restriction, then the promotion
	fake3 := f.AddUser(telegramtest.User{FirstName: "M\u0430ximili\u0430n"})
	f.JoinMember(g, fake3)
	waitFor(t, "the new admin's impersonator", func() bool {
		for _, e := range h.records(g.ID, audit.SecurityEvent) {
			if e.Target() == id(fake3.ID) && slices.Contains(e.TargetIDs, id(maxim.ID)) {
				return true
			}
		}
		return false
	})
}

// Impersonation compares whole names: a newcomer, or a member renaming
// themselves, called by the owner's first name alone ("Olga" for "Olga
// Petrova") is not flagged; one who copies the whole name is, and the
// alert names the staff name matched.
func TestImpersonationByWholeNames(t *testing.T) {
	h := engineHarness(t, enginetest.Config{})
	f := h.fake
	owner := f.AddUser(telegramtest.User{FirstName: "Olga", LastName: "Petrova", Username: "olga_petrova"})
	ann := f.AddUser(telegramtest.User{FirstName: "Ann", LastName: "Smith"})
	g := f.NewSupergroup("G", owner, ann)
	f.Message(g, ann, "hi")
	olga := f.AddUser(telegramtest.User{FirstName: "Olga"})
	f.JoinMember(g, olga)
	renamed := ann
	renamed.FirstName = "Olga" // Olga Smith
	f.Message(g, renamed, "hi again")
	h.wait(g.ID, audit.UserUpdate, 1)
	copycat := f.AddUser(telegramtest.User{FirstName: "Оlga", LastName: "Petrova"}) // Cyrillic О
	f.JoinMember(g, copycat)
	h.wait(g.ID, audit.SecurityEvent, 1)
	h.eng.Flush()
	sec := h.exactly(g.ID, audit.SecurityEvent, 1)[0]
	if sec.Target() != id(copycat.ID) || sec.Params[audit.ParamMatchedName] != "Olga Petrova" || !slices.Contains(sec.TargetIDs, id(owner.ID)) {
		t.Fatalf("impersonation record %+v", sec)
	}
}

func TestBotAddedByAMemberIsAnUnauthorizedIntegration(t *testing.T) {
	h := engineHarness(t, enginetest.Config{})
	f := h.fake
	owner, ann := f.NewUser("Owner"), f.NewUser("Ann")
	g := f.NewSupergroup("G", owner, ann)
	spam := f.AddUser(telegramtest.User{FirstName: "Free Crypto", Username: "free_crypto_bot", IsBot: true})
	f.AddMemberByAdmin(g, ann, spam)
	sec := h.wait(g.ID, audit.SecurityEvent, 1)[0]
	if sec.Params[audit.ParamKind] != audit.KindUnauthorizedIntegration || sec.Params[moderation.ParamIntegration] != moderation.IntegrationBot ||
		!slices.Equal(sec.TargetIDs, []string{id(spam.ID), id(ann.ID)}) || sec.ActorID != id(f.Bot().ID) {
		t.Fatalf("integration record %+v", sec)
	}
	h.eng.Flush()
	h.exactly(g.ID, audit.SecurityEvent, 1)
}

// TestJoinRaidIsOneEntryWithItsActions: 200 joins arriving in getUpdates
// batches of 100 are one raid entry in the log chat, sent while the raid
// runs and edited when it ends, with no join entry of a raider; its
// "Ban all" bans exactly the raiders, once.
func TestJoinRaidIsOneEntryWithItsActions(t *testing.T) {
	h := engineHarness(t, enginetest.Config{})
	f := h.fake
	owner := f.NewUser("Owner")
	g := f.NewSupergroup("G", owner)
	logChat := f.NewSupergroup("G logs", owner)
	h.setLog(g.ID, logChat.ID)
	early := f.NewUser("Early")
	f.JoinMember(g, early)
	waitFor(t, "the engines to see the first join", func() bool { return h.eng.Joins.Load() >= 1 })
	h.eng.ModClock.Advance(5 * time.Second) // past the join hold
	h.waitText(logChat.ID, "Early joined.")

	// The raid's updates queue up and arrive in batches of 100.
	const n = 200
	f.PauseUpdates()
	var raiders []telegramtest.User
	for i := range n {
		u := f.NewUser("raider" + strconv.Itoa(i))
		raiders = append(raiders, u)
		f.JoinMember(g, u)
	}
	f.ResumeUpdates()
	h.wait(g.ID, audit.UserJoin, n+1)
	waitFor(t, "the engines to see every join", func() bool { return h.eng.Joins.Load() >= n+1 })
	mod, _ := h.eng.Engines()
	if !mod.InRaid(audit.Telegram, id(g.ID)) {
		t.Fatal("no raid under way after 200 joins")
	}
	big := 0
	for _, n := range f.BatchSizes() {
		big = max(big, n)
	}
	if big != 100 {
		t.Fatalf("the largest getUpdates batch held %d updates, want 100", big)
	}
	// The raid's entry comes while the engines' clock stands still: within
	// 2 s (none at all) of virtual time after detection. The join hold runs
	// on that clock too, so no raider's join entry can come first, and the
	// count below, after the clock moved past every hold, finds none after.
	entry := h.waitButton(logChat.ID, "Ban all")
	if !strings.Contains(entry.Text, "Join raid in progress") {
		t.Fatalf("raid entry %q", entry.Text)
	}
	h.eng.ModClock.Advance(11 * time.Second)
	h.waitText(logChat.ID, "Join raid over: 200 accounts joined.")
	count := func(sub string) int {
		k := 0
		for _, m := range h.sent(logChat.ID) {
			if strings.Contains(m.Text, sub) {
				k++
			}
		}
		return k
	}
	if count("Join raid") != 1 || count("Member joined") != 1 {
		t.Fatalf("%d raid entries and %d join entries in the log chat:\n%s", count("Join raid"), count("Member joined"),
			h.logText(logChat.ID))
	}

	// Ban all asks first, on the entry; the confirmation bans the raiders.
	entry, _ = msgNow(f, logChat.ID, entry.MessageID)
	if ans := h.press(logChat, owner, entry, "Ban all"); !strings.Contains(ans.Text, "confirm") {
		t.Fatalf("Ban all: %+v", ans)
	}
	var confirm string
	waitFor(t, "the confirmation button", func() bool {
		entry, _ = msgNow(f, logChat.ID, entry.MessageID)
		confirm = buttons(entry)["Ban 200 accounts"]
		return confirm != ""
	})
	if len(h.records(g.ID, audit.UserBan)) != 0 {
		t.Fatal("banned before the confirmation")
	}
	if ans := h.press(logChat, owner, entry, "Ban 200 accounts"); !strings.Contains(ans.Text, "Banning") {
		t.Fatalf("the confirmation: %+v", ans)
	}
	if got := h.forgedPress(logChat, owner, entry.MessageID, confirm); !strings.Contains(got, "Already") {
		t.Errorf("a second confirmation: %q", got)
	}
	bans := h.wait(g.ID, audit.UserBan, n)
	waitFor(t, "the result on the entry", func() bool {
		m, _ := msgNow(f, logChat.ID, entry.MessageID)
		_, ok := buttons(m)["✓ Banned 200 of 200 (Owner)"]
		return ok
	})
	for _, u := range raiders {
		if st := f.ChatMember(g.ID, u.ID).Status; st != telegramtest.StatusKicked {
			t.Fatalf("raider %s is %s", u.FirstName, st)
		}
	}
	if st := f.ChatMember(g.ID, early.ID).Status; st != telegramtest.StatusMember {
		t.Fatalf("the member who joined before the raid is %s", st)
	}
	for _, b := range bans {
		if b.ActorID != id(owner.ID) || b.Function != audit.FuncCommand {
			t.Fatalf("ban record %+v", b)
		}
	}
	h.exactly(g.ID, audit.UserBan, n)
}

// msgNow returns a message of the log chat as it stands now.
func msgNow(f *telegramtest.Server, chat int64, msgID int) (telegramtest.SentMessage, bool) {
	m, ok := f.MessageByID(chat, msgID)
	return telegramtest.SentMessage{Message: m}, ok
}

// challenge waits for the verification challenge naming a member.
func (h *harness) challenge(chat int64, name string) telegramtest.SentMessage {
	h.t.Helper()
	return h.waitMessage(chat, "Welcome, "+name+"!")
}

// current returns a message as the fake holds it now (after edits).
func (h *harness) current(chat int64, m telegramtest.SentMessage) telegramtest.SentMessage {
	h.t.Helper()
	for _, s := range h.fake.Messages(chat) {
		if s.MessageID == m.MessageID {
			return s
		}
	}
	h.t.Fatalf("message %d is gone", m.MessageID)
	return m
}

// join makes u join chat and returns the id of the "X joined" service
// message.
func (h *harness) join(chat telegramtest.Chat, u telegramtest.User) int {
	h.t.Helper()
	for _, up := range h.fake.JoinMember(chat, u) {
		if up.Message != nil && len(up.Message.NewChatMembers) > 0 {
			return up.Message.MessageID
		}
	}
	h.t.Fatalf("no join message for %s", u.FirstName)
	return 0
}

func verifying(h *harness, chat int64, kind string) {
	h.setEngine(chat, "verification.enabled", "on")
	h.setEngine(chat, "verification.kind", kind)
}

func TestVerificationPassesOnlyByTheNewcomer(t *testing.T) {
	h := engineHarness(t, enginetest.Config{})
	f := h.fake
	owner, ann, zoe, bob := f.NewUser("Owner"), f.NewUser("Ann"), f.NewUser("Zoe"), f.NewUser("Bob")
	g := f.NewSupergroup("G", owner, ann)
	verifying(h, g.ID, verification.KindButton)

	join := h.join(g, zoe)
	ch := h.challenge(g.ID, "Zoe")
	if st := f.ChatMember(g.ID, zoe.ID).Status; st != telegramtest.StatusRestricted {
		t.Fatalf("the newcomer is %s while the challenge is shown", st)
	}
	if ans := h.press(g, ann, ch, "I'm human"); !strings.Contains(ans.Text, "for someone else") {
		t.Fatalf("another member's press: %+v", ans)
	}
	if st := f.ChatMember(g.ID, zoe.ID).Status; st != telegramtest.StatusRestricted {
		t.Fatalf("another member's press made the newcomer %s", st)
	}
	if ans := h.press(g, zoe, ch, "I'm human"); !strings.Contains(ans.Text, "verified") {
		t.Fatalf("the newcomer's press: %+v", ans)
	}
	ok := h.wait(g.ID, audit.VerificationSuccess, 1)[0]
	if ok.Target() != id(zoe.ID) || ok.Params[audit.ParamVerifyKind] != "BUTTON" || ok.Params[audit.ParamAction] != "UNRESTRICT" ||
		ok.Params[audit.ParamOutcome] != "DONE" || ok.Params[audit.ParamAttempts] != "1" {
		t.Fatalf("success record %+v", ok.Params)
	}
	if st := f.ChatMember(g.ID, zoe.ID).Status; st != telegramtest.StatusMember {
		t.Fatalf("after passing the newcomer is %s", st)
	}
	if !h.deleted(g.ID, ch.MessageID) {
		t.Fatal("the challenge stays after success")
	}
	if h.deleted(g.ID, join) {
		t.Fatal("the join message of a verified member was deleted")
	}

	// A member an admin adds skips the challenge (the default).
	f.AddMemberByAdmin(g, owner, bob)
	h.wait(g.ID, audit.UserJoin, 2)
	h.eng.Flush()
	_, ver := h.eng.Engines()
	if p, err := ver.Pending(audit.Telegram, id(g.ID)); err != nil || len(p) != 0 {
		t.Fatalf("pending after an admin's addition: %v %v", p, err)
	}
	if st := f.ChatMember(g.ID, bob.ID).Status; st != telegramtest.StatusMember {
		t.Fatalf("a member the owner added is %s", st)
	}
}

var sum = regexp.MustCompile(`What is (\d+) \+ (\d+)\?`)

// wrongLabel returns a wrong answer's label of a math challenge.
func wrongLabel(t *testing.T, m telegramtest.SentMessage) string {
	t.Helper()
	q := sum.FindStringSubmatch(m.Text)
	if q == nil {
		t.Fatalf("no sum in %q", m.Text)
	}
	a, _ := strconv.Atoi(q[1])
	b, _ := strconv.Atoi(q[2])
	for label := range buttons(m) {
		if label != strconv.Itoa(a+b) {
			return label
		}
	}
	t.Fatalf("no wrong answer among %v", buttons(m))
	return ""
}

func TestVerificationFailsByWrongAnswers(t *testing.T) {
	h := engineHarness(t, enginetest.Config{})
	f := h.fake
	owner, zoe := f.NewUser("Owner"), f.NewUser("Zoe")
	g := f.NewSupergroup("G", owner)
	verifying(h, g.ID, verification.KindMath)
	h.setEngine(g.ID, "verification.max_attempts", "2")

	join := h.join(g, zoe)
	ch := h.challenge(g.ID, "Zoe")
	if len(buttons(ch)) != 4 {
		t.Fatalf("math challenge buttons %v", buttons(ch))
	}
	h.press(g, zoe, ch, wrongLabel(t, ch))
	var retry telegramtest.SentMessage
	waitFor(t, "the second question", func() bool {
		retry = h.current(g.ID, ch)
		return strings.Contains(retry.Text, "Wrong answer, 1 attempt left")
	})
	if ans := h.press(g, zoe, retry, wrongLabel(t, retry)); !strings.Contains(ans.Text, "Verification failed") {
		t.Fatalf("the last wrong answer: %+v", ans)
	}
	fail := h.wait(g.ID, audit.VerificationFailure, 1)[0]
	if fail.Target() != id(zoe.ID) || fail.Params[audit.ParamReason] != audit.ReasonWrongAnswer ||
		fail.Params[audit.ParamAttempts] != "2" || fail.Params[audit.ParamAction] != "KICK" || fail.Params[audit.ParamVerifyKind] != "MATH" {
		t.Fatalf("failure record %+v", fail.Params)
	}
	if st := f.ChatMember(g.ID, zoe.ID).Status; st != telegramtest.StatusLeft {
		t.Fatalf("after failing the newcomer is %s, want kicked (left)", st)
	}
	waitFor(t, "the challenge and the join message deleted", func() bool {
		return h.deleted(g.ID, ch.MessageID) && h.deleted(g.ID, join)
	})
	if rm := h.wait(g.ID, audit.UserRemove, 1)[0]; rm.Function != audit.FuncVerification || rm.Target() != id(zoe.ID) {
		t.Fatalf("kick record %+v", rm)
	}
}

func TestVerificationTimesOutAcrossARestart(t *testing.T) {
	h := engineHarness(t, enginetest.Config{})
	f := h.fake
	owner, zoe := f.NewUser("Owner"), f.NewUser("Zoe")
	g := f.NewSupergroup("G", owner)
	verifying(h, g.ID, verification.KindButton)
	h.setEngine(g.ID, "verification.timeout", "1m")

	join := h.join(g, zoe)
	ch := h.challenge(g.ID, "Zoe")
	h.eng.Flush()

	// Down for two minutes: the deadline passes while nothing runs.
	h.restart(2 * time.Minute)
	fail := h.wait(g.ID, audit.VerificationFailure, 1)[0]
	if fail.Params[audit.ParamReason] != audit.ReasonTimeout || fail.Params[audit.ParamAction] != "KICK" || fail.Target() != id(zoe.ID) {
		t.Fatalf("timeout record %+v", fail.Params)
	}
	waitFor(t, "the kick and the deletions", func() bool {
		return f.ChatMember(g.ID, zoe.ID).Status == telegramtest.StatusLeft &&
			h.deleted(g.ID, ch.MessageID) && h.deleted(g.ID, join)
	})
	// A press on the old challenge is not a way back in.
	_, ver := h.eng.Engines()
	if p, _ := ver.Pending(audit.Telegram, id(g.ID)); len(p) != 0 {
		t.Fatalf("still pending: %+v", p)
	}
}

func TestSettingsCommandIsForAdminsAndShowsEngineSettings(t *testing.T) {
	h := engineHarness(t, enginetest.Config{})
	f := h.fake
	owner, ann := f.NewUser("Owner"), f.NewUser("Ann")
	g := f.NewSupergroup("G", owner, ann)

	f.Command(g, ann, "/settings link_filter.enabled off")
	h.waitText(g.ID, "Only the admins of this group can use /settings")
	f.Command(g, owner, "/settings keys")
	h.waitText(g.ID, "Settings you can change", "raid_guard.window", "verification.kind")
	f.Command(g, owner, "/settings verification.timeout 90s")
	h.waitText(g.ID, "verification.timeout is now 1m30s.")
	f.Command(g, owner, "/settings")
	h.waitText(g.ID, "chatwarden settings", "locale: en (default)", "verification.timeout: 1m30s")
	f.Command(g, owner, "/settings no.such.key 1")
	h.waitText(g.ID, "is not a setting")

	ch := h.exactly(g.ID, audit.SettingsChange, 1)[0]
	if ch.ActorID != id(owner.ID) || ch.Params[audit.ParamSetting] != "verification.timeout" || ch.Params[audit.ParamNewValue] != "1m30s" {
		t.Fatalf("settings change %+v", ch)
	}
	if v, _ := command.GetEngineSetting(h.settings(g.ID), "link_filter.enabled"); v != "" {
		t.Fatalf("a member's /settings changed link_filter.enabled to %q", v)
	}
	var menu []string
	waitFor(t, "the private chats' menu", func() bool {
		menu = nil
		for _, c := range f.Commands(telegramtest.BotCommandScope{Type: "all_private_chats"}, "") {
			menu = append(menu, c.Command)
		}
		return len(menu) > 0
	})
	if !slices.Equal(menu, []string{"apitoken", "viewer"}) {
		t.Fatalf("private menu %v", menu)
	}
}

var tokenRE = regexp.MustCompile(command.TokenPrefix + `[A-Za-z0-9_-]{43}`)

func TestAPITokensInAPrivateChat(t *testing.T) {
	logs := &testlog.Buffer{}
	h := newHarnessWith(t, fast(config{engines: &enginetest.Config{}, opts: func(o *telegram.Options) {
		o.Logger = zerolog.New(logs).Level(zerolog.DebugLevel)
	}}))
	f := h.fake
	owner, ann := f.NewUser("Owner"), f.NewUser("Ann")
	g := f.NewSupergroup("G", owner, ann)
	dm, annDM := f.PrivateChat(owner), f.PrivateChat(ann)

	// In the group the command only points to the private chat.
	f.Command(g, owner, "/apitoken create "+id(g.ID))
	h.waitText(g.ID, "send /apitoken to me in a private chat")
	// Only the group's admins.
	f.Command(annDM, ann, "/apitoken create "+id(g.ID))
	h.waitText(annDM.ID, "Only the admins of that chat")

	f.Command(dm, owner, "/apitoken create "+id(g.ID)+" grafana board")
	created := h.waitMessage(dm.ID, "Copy it now")
	token := tokenRE.FindString(created.Text)
	if token == "" {
		t.Fatalf("no token in %q", created.Text)
	}
	info, err := h.eng.Tokens.Lookup(context.Background(), token)
	if err != nil || info.Property != id(g.ID) || info.CreatedBy != id(owner.ID) || info.Label != "grafana board" {
		t.Fatalf("lookup %+v %v", info, err)
	}
	f.Command(dm, owner, "/apitoken list "+id(g.ID))
	h.waitText(dm.ID, "API tokens of chat", info.ID, "grafana board")
	f.Command(dm, owner, "/apitoken revoke "+id(g.ID)+" "+info.ID)
	h.waitText(dm.ID, "is revoked")
	if _, err := h.eng.Tokens.Lookup(context.Background(), token); err == nil {
		t.Fatal("the revoked token still works")
	}
	changes := h.exactly(g.ID, audit.SettingsChange, 2)
	for i, want := range []string{"revoked", "created"} {
		c := changes[i]
		if c.Params[audit.ParamSetting] != "api_token" || c.Params[command.ParamTokenID] != info.ID ||
			c.Params[audit.ParamNewValue] != want || c.ActorID != id(owner.ID) {
			t.Fatalf("change %d %+v", i, c.Params)
		}
	}
	// The token is in no record and no log line.
	for _, e := range h.records(g.ID) {
		if strings.Contains(e.Content, token) || slices.ContainsFunc(mapValues(e.Params), func(v string) bool { return strings.Contains(v, token) }) {
			t.Fatalf("a record holds the token: %+v", e)
		}
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), token[len(command.TokenPrefix):]) {
		t.Fatal("the token was logged")
	}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
