package telegram_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
)

var joinedRE = regexp.MustCompile(`Joiner(\d+) joined\.`)

// joined counts each joiner's entries in the log chat.
func joined(text string) map[string]int {
	out := map[string]int{}
	for _, m := range joinedRE.FindAllStringSubmatch(text, -1) {
		out[m[1]]++
	}
	return out
}

func TestJoinWaveReachesTheLogChatWithinTheLimits(t *testing.T) {
	h := newHarnessWith(t, fast(config{}))
	f := h.fake
	owner := f.NewUser("Owner")
	group := f.NewSupergroup("Raided", owner)
	logChat := f.NewSupergroup("Logs", owner)
	h.setLog(group.ID, logChat.ID)
	const n = 500
	for i := range n {
		f.JoinMember(group, f.NewUser(fmt.Sprintf("Joiner%d", i)))
	}
	h.exactly(group.ID, audit.UserJoin, n)
	var got map[string]int
	waitFor(t, "every join in the log chat", func() bool {
		got = joined(h.text(logChat.ID))
		return len(got) == n
	})
	for who, c := range got {
		if c != 1 {
			t.Fatalf("Joiner%s posted %d times", who, c)
		}
	}
	noViolations(t, f)
	msgs := h.sent(logChat.ID)
	if len(msgs) > n/5 {
		t.Fatalf("%d messages for %d entries: not batched", len(msgs), n)
	}
	for _, m := range msgs {
		if telegramtest.UTF16Len(m.Text) > 4096 {
			t.Fatalf("a message of %d characters", telegramtest.UTF16Len(m.Text))
		}
	}
}

func TestRestartDuringDeliveryLosesNothing(t *testing.T) {
	c := fast(config{})
	c.opts = func(o *telegram.Options) { o.LogInterval = 250 * time.Millisecond }
	h := newHarnessWith(t, c)
	f := h.fake
	owner := f.NewUser("Owner")
	group := f.NewSupergroup("Group", owner)
	logChat := f.NewSupergroup("Logs", owner)
	h.setLog(group.ID, logChat.ID)
	const n = 120
	for i := range n {
		f.JoinMember(group, f.NewUser(fmt.Sprintf("Joiner%d", i)))
	}
	h.exactly(group.ID, audit.UserJoin, n)
	waitFor(t, "the first log message", func() bool { return len(h.sent(logChat.ID)) > 0 })
	h.stop()
	if depth, _ := h.s.OutboxDepth("telegram"); depth == 0 {
		t.Fatal("everything was delivered before the restart: the test proves nothing")
	}
	// Telegram is down for a while after the restart.
	f.Inject5xx("sendMessage", 1, 502)
	h.start(nil)
	var got map[string]int
	waitFor(t, "every join after the restart", func() bool {
		got = joined(h.text(logChat.ID))
		return len(got) == n
	})
	waitFor(t, "an empty outbox", func() bool { d, _ := h.s.OutboxDepth("telegram"); return d == 0 })
	dups := 0
	for _, c := range got {
		dups += c - 1
	}
	// At least once: a message in flight when the bot stopped may be
	// posted again, never more than one message's worth.
	if dups > 40 {
		t.Fatalf("%d duplicate entries", dups)
	}
	noViolations(t, f)
}

func TestLostAccessPausesTheLogChat(t *testing.T) {
	h := newHarnessWith(t, fast(config{}))
	f := h.fake
	owner := f.NewUser("Owner")
	group := f.NewSupergroup("Group", owner)
	logChat := f.NewChannel("Logs", "", owner)
	h.setLog(group.ID, logChat.ID)
	f.SetChatMember(logChat.ID, telegramtest.ChatMember{Status: telegramtest.StatusLeft, User: f.Bot()})
	f.Message(group, owner, "while the bot cannot post")
	waitFor(t, "the pause", func() bool {
		set := h.settings(group.ID)
		lc := set.LogChannel(id(logChat.ID))
		return lc != nil && lc.Paused != ""
	})
	f.Command(group, owner, "/settings")
	h.waitText(group.ID, "PAUSED")
	// An admin fixes it and sets the chat again: the kept entries arrive.
	f.SetBotRights(logChat, &telegramtest.AdminRights{CanPostMessages: true})
	f.Command(group, owner, "/setlog "+id(logChat.ID))
	h.waitText(logChat.ID, "while the bot cannot post")
	set := h.settings(group.ID)
	if lc := set.LogChannel(id(logChat.ID)); lc.Paused != "" {
		t.Fatalf("still paused: %q", lc.Paused)
	}
}

func TestALogChatThatMigratesIsFollowed(t *testing.T) {
	h := newHarnessWith(t, fast(config{}))
	f := h.fake
	owner, ann := f.NewUser("Owner"), f.NewUser("Ann")
	group := f.NewSupergroup("Group", owner, ann)
	logChat := f.NewGroup("Basic logs", owner)
	h.setLog(group.ID, logChat.ID)
	f.Message(group, ann, "before the log chat moved")
	h.waitText(logChat.ID, "before the log chat moved")
	newLog, _, err := f.MigrateToSupergroup(logChat, owner)
	if err != nil {
		t.Fatal(err)
	}
	f.Message(group, ann, "after the log chat moved")
	h.waitText(newLog.ID, "after the log chat moved")
	waitFor(t, "the settings to follow", func() bool {
		set := h.settings(group.ID)
		return set.LogChannel(id(newLog.ID)) != nil && set.LogChannel(id(logChat.ID)) == nil
	})
}

func TestServiceMessagesAreDeletedWhenConfigured(t *testing.T) {
	h := newHarnessWith(t, fast(config{opts: func(o *telegram.Options) { o.DeleteServiceMessages = true }}))
	f := h.fake
	owner, zoe := f.NewUser("Owner"), f.NewUser("Zoe")
	g := f.NewSupergroup("G", owner)
	ups := f.JoinMember(g, zoe)
	service := ups[1].Message.MessageID
	h.exactly(g.ID, audit.UserJoin, 1)
	waitFor(t, "the join message to go", func() bool { _, ok := f.MessageByID(g.ID, service); return !ok })
	ups = f.LeaveMember(g, zoe)
	service = ups[1].Message.MessageID
	h.exactly(g.ID, audit.UserRemove, 1)
	waitFor(t, "the leave message to go", func() bool { _, ok := f.MessageByID(g.ID, service); return !ok })
}
