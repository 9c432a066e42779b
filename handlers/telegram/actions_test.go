package telegram_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/platform"
)

func TestReversalButtonsCheckThePresserInTheGroup(t *testing.T) {
	h := newHarnessWith(t, fast(config{}))
	f := h.fake
	owner, mod, ann, zoe, other := f.NewUser("Owner"), f.NewUser("Mod"), f.NewUser("Ann"), f.NewUser("Zoe"), f.NewUser("Other")
	group := f.NewSupergroup("Group", owner, ann, zoe)
	f.SetAdmin(group, mod, telegramtest.ModeratorRights())
	logChat := f.NewSupergroup("Logs", owner, other, mod)
	f.SetAdmin(logChat, other, telegramtest.FullAdminRights()) // an admin of the log chat only
	h.setLog(group.ID, logChat.ID)

	// A ban's entry carries Unban.
	f.BanMember(group, owner, zoe, time.Time{})
	entry := h.waitMessage(logChat.ID, "banned")
	if ans := h.press(logChat, other, entry, "Unban"); !strings.Contains(ans.Text, "Only admins of the group") {
		t.Fatalf("an admin of the log chat only: %+v", ans)
	}
	if st := f.ChatMember(group.ID, zoe.ID).Status; st != telegramtest.StatusKicked {
		t.Fatalf("Zoe is %s after a refused press", st)
	}
	if ans := h.press(logChat, mod, entry, "Unban"); ans.Text != "Unbanned." {
		t.Fatalf("the moderator's press: %+v", ans)
	}
	if st := f.ChatMember(group.ID, zoe.ID).Status; st != telegramtest.StatusLeft {
		t.Fatalf("Zoe is %s after the unban", st)
	}
	unban := h.exactly(group.ID, audit.UserBanRemove, 1)[0]
	if unban.ActorID != id(mod.ID) || unban.ActorType != audit.ActorAdmin || unban.Target() != id(zoe.ID) ||
		unban.Params[audit.ParamReason] == "" || unban.PlatformType != "unbanChatMember" {
		t.Fatalf("unban record %+v", unban)
	}
	waitFor(t, "the buttons to say it was done", func() bool {
		m, _ := f.MessageByID(logChat.ID, entry.MessageID)
		_, still := buttons(telegramtest.SentMessage{Message: m})["Unban"]
		return !still
	})

	// A restriction's entry carries Unmute.
	f.Restrict(group, owner, ann, telegramtest.ChatPermissions{}, time.Time{})
	entry = h.waitButton(logChat.ID, "Unmute")
	if ans := h.press(logChat, mod, entry, "Unmute"); ans.Text != "Restrictions lifted." {
		t.Fatalf("unmute: %+v", ans)
	}
	if st := f.ChatMember(group.ID, ann.ID).Status; st != telegramtest.StatusMember {
		t.Fatalf("Ann is %s after the unmute", st)
	}

	// A security alert carries Ban; the forged variants are refused.
	alert := &audit.Event{Platform: audit.Telegram, PropertyID: id(group.ID), Type: audit.SecurityEvent,
		Function: audit.FuncImpersonation, ActorType: audit.ActorBot, ActorID: id(f.Bot().ID), TargetIDs: []string{id(ann.ID)},
		Params: audit.Params{audit.ParamKind: audit.KindImpersonation, audit.ParamTargetName: "Ann"}}
	if err := h.rec.Record(context.Background(), alert); err != nil {
		t.Fatal(err)
	}
	alertEntry := h.waitButton(logChat.ID, "Ban")
	// A member alert offers what applies to a member.
	for _, label := range []string{"Kick", "Time out"} {
		if _, ok := buttons(alertEntry)[label]; !ok {
			t.Errorf("the alert has no %s button: %v", label, buttons(alertEntry))
		}
	}
	data := buttons(alertEntry)["Ban"]
	parts := strings.Split(data, ":")
	forgedUser := strings.Join(append(parts[:4:4], id(owner.ID), parts[5]), ":")
	if got := h.forgedPress(logChat, mod, alertEntry.MessageID, forgedUser); !strings.Contains(got, "not valid") {
		t.Fatalf("a button altered to ban someone else answered %q", got)
	}
	other2 := f.NewSupergroup("Elsewhere", owner)
	forgedGroup := strings.Join([]string{parts[0], parts[1], parts[2], id(other2.ID), parts[4], parts[5]}, ":")
	if got := h.forgedPress(logChat, mod, alertEntry.MessageID, forgedGroup); !strings.Contains(got, "not valid") {
		t.Fatalf("a button altered for another group answered %q", got)
	}
	if ans := h.press(logChat, mod, alertEntry, "Ban"); ans.Text != "Banned." {
		t.Fatalf("ban: %+v", ans)
	}
	if st := f.ChatMember(group.ID, ann.ID).Status; st != telegramtest.StatusKicked {
		t.Fatalf("Ann is %s after the ban", st)
	}
	// The bot's own ban echoes back as chat_member; it is one record.
	bans := h.exactly(group.ID, audit.UserBan, 2) // Zoe's by the owner, Ann's by the button
	for _, b := range bans {
		if b.Target() == id(ann.ID) && (b.ActorID != id(mod.ID) || b.PlatformType != "banChatMember") {
			t.Fatalf("button ban %+v", b)
		}
	}
	noViolations(t, f)
}

func TestActions(t *testing.T) {
	var fakeNow atomic.Pointer[func() time.Time]
	h := newHarnessWith(t, fast(config{opts: func(o *telegram.Options) {
		o.Now = func() time.Time {
			if fn := fakeNow.Load(); fn != nil {
				return (*fn)()
			}
			return time.Now()
		}
	}}))
	f := h.fake
	now := f.Now
	fakeNow.Store(&now)
	owner, ann, bob := f.NewUser("Owner"), f.NewUser("Ann"), f.NewUser("Bob")
	g := f.NewSupergroup("G", owner, ann, bob)
	channel := f.NewChannel("Spam channel", "", owner)
	ctx := context.Background()
	b := h.bot
	cause := platform.Cause{Function: audit.FuncLinkFilter, Reason: "test reason"}
	prop := id(g.ID)

	// Delete a recent message: the record keeps what it said.
	msg := f.Message(g, ann, "a link to delete").Message.MessageID
	h.wait(g.ID, audit.ChatMessage, 1)
	if err := b.DeleteMessage(ctx, prop, "", id(int64(msg)), cause); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.MessageByID(g.ID, msg); ok {
		t.Fatal("the message is still there")
	}
	del := h.exactly(g.ID, audit.ChatMessageDelete, 1)[0]
	if del.ActorType != audit.ActorBot || del.ActorID != id(f.Bot().ID) || del.Function != audit.FuncLinkFilter ||
		del.Content != "a link to delete" || del.Target() != id(ann.ID) || del.Params[audit.ParamReason] != "test reason" {
		t.Fatalf("delete record %+v", del)
	}

	// Older than 48 hours: a clear error, and no request.
	old := f.Message(g, ann, "old news").Message.MessageID
	h.wait(g.ID, audit.ChatMessage, 2)
	f.Advance(49 * time.Hour)
	calls := len(f.Calls("deleteMessage"))
	err := b.DeleteMessage(ctx, prop, "", id(int64(old)), cause)
	if !errors.Is(err, platform.ErrTooOld) || !strings.Contains(err.Error(), "48 hours") {
		t.Fatalf("deleting an old message: %v", err)
	}
	if len(f.Calls("deleteMessage")) != calls {
		t.Fatal("asked Telegram to delete a message known to be too old")
	}
	f.SetNow(time.Now())
	fakeNow.Store(nil)

	// Restrict and lift: one record each, the echo is not a second.
	if err := b.Timeout(ctx, prop, id(bob.ID), time.Now().Add(time.Hour), cause); err != nil {
		t.Fatal(err)
	}
	if m := f.ChatMember(g.ID, bob.ID); m.Status != telegramtest.StatusRestricted || m.Permissions.CanSendMessages {
		t.Fatalf("Bob is %+v", m)
	}
	if err := b.RemoveTimeout(ctx, prop, id(bob.ID), cause); err != nil {
		t.Fatal(err)
	}
	if st := f.ChatMember(g.ID, bob.ID).Status; st != telegramtest.StatusMember {
		t.Fatalf("Bob is %s after the lift", st)
	}
	ups := h.exactly(g.ID, audit.UserUpdate, 2)
	for _, u := range ups {
		if u.ActorType != audit.ActorBot || u.Target() != id(bob.ID) || u.PlatformType != "restrictChatMember" {
			t.Fatalf("restriction record %+v", u)
		}
	}

	// Kick: removed, free to come back, one USER_REMOVE and nothing else.
	if err := b.Kick(ctx, prop, id(bob.ID), cause); err != nil {
		t.Fatal(err)
	}
	if st := f.ChatMember(g.ID, bob.ID).Status; st != telegramtest.StatusLeft {
		t.Fatalf("Bob is %s after the kick", st)
	}
	kick := h.exactly(g.ID, audit.UserRemove, 1)[0]
	if kick.Params[audit.ParamRemoval] != audit.RemovalKicked || kick.Target() != id(bob.ID) {
		t.Fatalf("kick record %+v", kick)
	}
	if n := len(h.records(g.ID, audit.UserBan, audit.UserBanRemove)); n != 0 {
		t.Fatalf("the kick left %d ban records", n)
	}

	// A message sent as a channel: the channel is banned.
	f.MessageFromChannel(g, channel, "spam as a channel")
	sc := h.wait(g.ID, audit.ChatMessage, 3)[0]
	if err := b.Ban(ctx, prop, sc.ActorID, cause); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.BannedSenderChats(g.ID)[channel.ID]; !ok {
		t.Fatal("the channel was not banned")
	}
	if err := b.Unban(ctx, prop, sc.ActorID, cause); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.BannedSenderChats(g.ID)[channel.ID]; ok {
		t.Fatal("the channel is still banned")
	}

	// Send with buttons; a registered handler serves the press, which is
	// answered.
	var pressed atomic.Value
	b.HandleButtons("verify:", func(ctx context.Context, p telegram.Press) telegram.Answer {
		pressed.Store(p)
		return telegram.Answer{Text: "Welcome!"}
	})
	sent, err := b.Send(ctx, prop, "", platform.Message{Text: "Press <here>", Mention: id(ann.ID),
		Buttons: []platform.Button{{Label: "I'm human", Data: "verify:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	m := h.waitMessage(g.ID, "Press <here>")
	if id(int64(m.MessageID)) != sent {
		t.Fatalf("Send returned %s, the message is %d", sent, m.MessageID)
	}
	if ans := h.press(g, ann, m, "I'm human"); ans.Text != "Welcome!" {
		t.Fatalf("answer %+v", ans)
	}
	if p := pressed.Load().(telegram.Press); p.User != id(ann.ID) || p.Property != prop || p.Data != "verify:1" {
		t.Fatalf("press %+v", p)
	}
	// A button nobody handles is still answered.
	stray, _ := b.Send(ctx, prop, "", platform.Message{Text: "stray", Buttons: []platform.Button{{Label: "x", Data: "nobody:1"}}})
	_ = stray
	if ans := h.press(g, ann, h.waitMessage(g.ID, "stray"), "x"); ans.Text == "" {
		t.Fatal("an unhandled press got an empty answer")
	}

	if err := b.AddRole(ctx, prop, id(ann.ID), "r", cause); !errors.Is(err, platform.ErrUnsupported) {
		t.Fatalf("AddRole: %v", err)
	}
	// No rights: a clear error.
	f.SetBotRights(g, nil)
	if err := b.Ban(ctx, prop, id(ann.ID), cause); !errors.Is(err, platform.ErrForbidden) {
		t.Fatalf("ban without rights: %v", err)
	}
}
