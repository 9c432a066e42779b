package telegram_test

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
)

func TestCommandsAreRegisteredForAdminsAndMembers(t *testing.T) {
	h := newHarness(t)
	var admins, members []string
	waitFor(t, "setMyCommands", func() bool {
		admins, members = nil, nil
		for _, c := range h.fake.Commands(telegramtest.BotCommandScope{Type: "all_chat_administrators"}, "") {
			admins = append(admins, c.Command)
		}
		for _, c := range h.fake.Commands(telegramtest.BotCommandScope{Type: "all_group_chats"}, "") {
			members = append(members, c.Command)
		}
		return len(admins) > 0 && len(members) > 0
	})
	for _, c := range []string{"logs", "setlog", "unsetlog", "logtypes", "locale", "settings", "report"} {
		if !slices.Contains(admins, c) {
			t.Errorf("/%s is not in the admins' menu: %v", c, admins)
		}
	}
	if !slices.Equal(members, []string{"report"}) {
		t.Errorf("members' menu %v, want only /report", members)
	}
}

func TestLogsPagesOnlyForTheCallerAndOnlyInItsGroup(t *testing.T) {
	h := newHarnessWith(t, fast(config{}))
	f := h.fake
	owner, mod, ann := f.NewUser("Owner"), f.NewUser("Mod"), f.NewUser("Ann")
	a := f.NewSupergroup("A", owner, ann)
	b := f.NewSupergroup("B", owner, ann)
	f.SetAdmin(a, mod, telegramtest.ModeratorRights())
	f.SetAdmin(b, mod, telegramtest.ModeratorRights())
	for i := range 6 {
		f.Message(a, ann, "message in A number "+string(rune('0'+i)))
	}
	f.Message(b, ann, "secret message in B")
	h.wait(a.ID, audit.ChatMessage, 6)
	h.wait(b.ID, audit.ChatMessage, 1)

	// A member who is not an admin is refused.
	f.Command(a, ann, "/logs")
	h.waitText(a.ID, "Only the admins of this group can use /logs")

	// An admin gets a page, newest first, with an Older button.
	f.Command(a, owner, "/logs CHAT_MESSAGE 3")
	first := h.waitMessage(a.ID, "Audit log")
	if strings.Count(first.Text, "posted a message") != 3 || strings.Contains(first.Text, "secret message in B") {
		t.Fatalf("first page:\n%s", first.Text)
	}
	if _, ok := buttons(first)["Older ›"]; !ok {
		t.Fatalf("no Older button: %v", buttons(first))
	}
	// Another admin may not page through it.
	if ans := h.press(a, mod, first, "Older ›"); ans.Text != "Only the member who searched can page through these results." {
		t.Fatalf("another admin's press: %+v", ans)
	}
	// A page id the store does not know (tampered with, or its results
	// forgotten) says the results expired, as a sentence.
	older := buttons(first)["Older ›"]
	rest := strings.TrimPrefix(older, "cw:p:")
	cut := strings.Index(rest, ":")
	unknown := "cw:p:" + strings.Repeat("A", cut) + rest[cut:]
	if cut <= 0 || unknown == older {
		t.Fatalf("cannot tamper with %q", older)
	}
	if got := h.forgedPress(a, owner, first.MessageID, unknown); got != "These results have expired; run the search again." {
		t.Fatalf("a tampered page id answered %q", got)
	}
	// The caller may.
	h.press(a, owner, first, "Older ›")
	var second telegramtest.SentMessage
	waitFor(t, "the older page", func() bool {
		m, _ := f.MessageByID(a.ID, first.MessageID)
		second = telegramtest.SentMessage{Message: m}
		return m.EditDate != 0
	})
	if strings.Count(second.Text, "posted a message") != 3 || second.Text == first.Text {
		t.Fatalf("second page:\n%s", second.Text)
	}
	if _, ok := buttons(second)["‹ Newer"]; !ok {
		t.Fatalf("no Newer button on the older page: %v", buttons(second))
	}

	// The same button data replayed in group B (where the presser is an
	// admin too) shows nothing of A's.
	inB := f.Command(b, owner, "/settings")
	_ = inB
	bAnswer := h.waitMessage(b.ID, "chatwarden settings")
	if got := h.forgedPress(b, owner, bAnswer.MessageID, buttons(first)["Older ›"]); got != "These results belong to another community." {
		t.Fatalf("A's page button pressed in B answered %q", got)
	}
	if m, _ := f.MessageByID(b.ID, bAnswer.MessageID); m.EditDate != 0 {
		t.Fatal("B's message was edited with A's results")
	}
	// /logs in B never shows A's records.
	f.Command(b, owner, "/logs")
	page := h.waitMessage(b.ID, "Audit log")
	if strings.Contains(page.Text, "in A") || !strings.Contains(page.Text, "posted a message") {
		t.Fatalf("B's page:\n%s", page.Text)
	}
}

func TestLogsArgumentsAreCheckedWithClearErrors(t *testing.T) {
	h := newHarnessWith(t, fast(config{}))
	f := h.fake
	owner, ann := f.NewUser("Owner"), f.NewUser("Ann")
	g := f.NewSupergroup("G", owner, ann)
	f.Message(g, ann, "hi")
	h.wait(g.ID, audit.ChatMessage, 1)
	for _, c := range []struct{ args, want string }{
		{"NOT_A_TYPE", "type"},
		{"limit=abc", `Limit: "abc" is not a number.`},
		{"500", "At most 20 entries fit one Telegram message."},
		{"@nobody", "Chatwarden has not seen @nobody"},
		{"colour=red", "Colour is not an argument"},
	} {
		f.Command(g, owner, "/logs "+c.args)
		m := h.waitMessage(g.ID, c.want)
		if strings.Contains(m.Text, "Audit log") {
			t.Errorf("/logs %s ran: %s", c.args, m.Text)
		}
	}
	// @username of a member the bot has seen, a type preset and a time.
	f.Command(g, owner, "/logs messages @"+ann.Username+" 24h 5")
	m := h.waitMessage(g.ID, "Audit log")
	if strings.Count(m.Text, "posted a message") != 1 {
		t.Fatalf("filtered page:\n%s", m.Text)
	}
}

func TestSetlogByForwardAndByIDWithSettingsChanges(t *testing.T) {
	h := newHarnessWith(t, fast(config{}))
	f := h.fake
	owner, mod, ann := f.NewUser("Owner"), f.NewUser("Mod"), f.NewUser("Ann")
	group := f.NewSupergroup("Group", owner, ann)
	f.SetAdmin(group, mod, telegramtest.ModeratorRights())
	channel := f.NewChannel("Audit channel", "", owner)
	logGroup := f.NewSupergroup("Owner's logs", owner) // mod is not in it

	// Rose style: /setlog in the channel, forwarded to the group.
	post := f.ChannelPost(channel, "/setlog")
	h.waitText(channel.ID, "Now forward this message")
	if _, err := f.Forward(group, ann, channel, post.ChannelPost.MessageID); err != nil { // a member: refused
		t.Fatal(err)
	}
	h.waitText(group.ID, "Only the admins of this group can link a log chat")
	if _, err := f.Forward(group, owner, channel, post.ChannelPost.MessageID); err != nil {
		t.Fatal(err)
	}
	h.waitText(group.ID, "now go to", "Audit channel")
	h.waitText(channel.ID, "chatwarden will post the audit log of Group here")
	if set := h.settings(group.ID); set.LogChannel(id(channel.ID)) == nil || len(set.LogChannel(id(channel.ID)).Types) != 0 {
		t.Fatalf("settings %+v", h.settings(group.ID))
	}
	waitFor(t, "the /setlog post to go", func() bool {
		_, ok := f.MessageByID(channel.ID, post.ChannelPost.MessageID)
		return !ok
	})
	change := h.wait(group.ID, audit.SettingsChange, 1)[0]
	if change.ActorID != id(owner.ID) || change.ActorType != audit.ActorAdmin || change.Function != audit.FuncCommand ||
		change.Params[audit.ParamSetting] != "log_channel:"+id(channel.ID) || change.Params[audit.ParamNewValue] != "all" ||
		change.Params[audit.ParamLogChannelName] != "Audit channel" {
		t.Fatalf("SETTINGS_CHANGE %+v", change)
	}
	// Entries arrive, and the change itself is one of them, naming the
	// log chat.
	h.waitText(channel.ID, "changed a setting", "Log channel: Audit channel")

	// /setlog <id>: the caller must be an admin of both chats.
	f.Command(group, mod, "/setlog "+id(logGroup.ID))
	h.waitText(group.ID, "You must be an admin of that chat too")
	f.Command(group, owner, "/setlog "+id(logGroup.ID))
	h.waitText(logGroup.ID, "chatwarden will post the audit log of Group here")
	waitFor(t, "the second log chat", func() bool { return len(h.settings(group.ID).LogChannels) == 2 })

	// /logtypes: the log group gets bans only.
	f.Command(group, owner, "/logtypes "+id(logGroup.ID)+" USER_BAN")
	h.waitText(group.ID, "now receives: USER_BAN")
	f.Message(group, ann, "not for the log group")
	f.BanMember(group, owner, ann, time.Time{})
	h.waitText(logGroup.ID, "banned")
	h.waitText(channel.ID, "not for the log group")
	if strings.Contains(h.text(logGroup.ID), "not for the log group") {
		t.Fatal("a message reached a log chat that takes bans only")
	}

	// /locale and /settings.
	f.Command(group, ann, "/locale fr")
	h.waitText(group.ID, "Only the admins of this group can use /locale")
	f.Command(group, owner, "/locale xx")
	h.waitText(group.ID, "Locale must be one of en, fr, hi.")
	f.Command(group, owner, "/locale fr")
	h.waitText(group.ID, "Log entries will be written in fr")
	f.Command(group, mod, "/settings")
	s := h.waitMessage(group.ID, "chatwarden settings")
	for _, want := range []string{"locale: fr", id(channel.ID) + ": all", id(logGroup.ID) + ": USER_BAN"} {
		if !strings.Contains(s.Text, want) {
			t.Fatalf("/settings lacks %q:\n%s", want, s.Text)
		}
	}

	// /unsetlog with several log chats needs the id.
	f.Command(group, owner, "/unsetlog")
	h.waitText(group.ID, "several log chats")
	f.Command(group, owner, "/unsetlog "+id(logGroup.ID))
	waitFor(t, "the removal", func() bool { return len(h.settings(group.ID).LogChannels) == 1 })
	// /logtypes and /unsetlog name the log chat too: its title was
	// remembered when it was linked.
	for _, c := range h.records(group.ID, audit.SettingsChange) {
		if c.Params[audit.ParamSetting] == "log_channel:"+id(logGroup.ID) && c.Params[audit.ParamLogChannelName] != "Owner's logs" {
			t.Errorf("a change of the log group names it %q", c.Params[audit.ParamLogChannelName])
		}
	}

	changes := h.records(group.ID, audit.SettingsChange)
	settings := map[string]int{}
	for _, c := range changes {
		settings[c.Params[audit.ParamSetting]]++
		if c.ActorID != id(owner.ID) {
			t.Errorf("change by %s: %+v", c.ActorName, c.Params)
		}
	}
	if settings["locale"] != 1 || settings["log_channel:"+id(logGroup.ID)] != 3 || settings["log_channel:"+id(channel.ID)] != 1 {
		t.Fatalf("SETTINGS_CHANGE records by setting: %v", settings)
	}
}

func TestCommandExchangesAreDeleted(t *testing.T) {
	h := newHarnessWith(t, fast(config{opts: func(o *telegram.Options) { o.DeleteCommandsAfter = 300 * time.Millisecond }}))
	f := h.fake
	owner := f.NewUser("Owner")
	g := f.NewSupergroup("G", owner)
	cmd := f.Command(g, owner, "/settings")
	answer := h.waitMessage(g.ID, "chatwarden settings")
	time.Sleep(100 * time.Millisecond)
	if _, ok := f.MessageByID(g.ID, answer.MessageID); !ok {
		t.Fatal("the answer was deleted at once")
	}
	waitFor(t, "the exchange to be deleted", func() bool {
		_, a := f.MessageByID(g.ID, answer.MessageID)
		_, c := f.MessageByID(g.ID, cmd.Message.MessageID)
		return !a && !c
	})
}

// The bot tidying its command exchanges is housekeeping: both deletions are
// in the store (the command's with its text and author), and the log chat,
// which takes every type, gets no entry about them.
func TestCommandExchangeDeletionsAreRecordedNotPosted(t *testing.T) {
	h := newHarnessWith(t, fast(config{opts: func(o *telegram.Options) { o.DeleteCommandsAfter = 300 * time.Millisecond }}))
	f := h.fake
	owner := f.NewUser("Owner")
	g := f.NewSupergroup("G", owner)
	logChat := f.NewSupergroup("G logs", owner)
	h.setLog(g.ID, logChat.ID)
	cmd := f.Command(g, owner, "/settings")
	answer := h.waitMessage(g.ID, "chatwarden settings")
	dels := h.wait(g.ID, audit.ChatMessageDelete, 2)
	byMsg := map[string]*audit.Event{}
	for _, d := range dels {
		if d.Params[audit.ParamQuiet] != audit.QuietHousekeeping || d.ActorID != id(f.Bot().ID) || d.ActorType != audit.ActorBot {
			t.Errorf("deletion record %+v", d)
		}
		byMsg[d.MessageID] = d
	}
	c, a := byMsg[strconv.Itoa(cmd.Message.MessageID)], byMsg[strconv.Itoa(answer.MessageID)]
	if c == nil || a == nil {
		t.Fatalf("deletions of messages %v, want the command %d and the answer %d", slices.Collect(maps.Keys(byMsg)),
			cmd.Message.MessageID, answer.MessageID)
	}
	if c.Content != "/settings" || c.Target() != id(owner.ID) {
		t.Errorf("the command's deletion: content %q, target %q", c.Content, c.Target())
	}
	// The log chat is in commit order: once a later message's entry is
	// there, an entry of the deletions would be too.
	f.Message(g, owner, "after the cleanup")
	h.waitText(logChat.ID, "after the cleanup")
	if text := h.logText(logChat.ID); strings.Contains(text, "deleted a message") || strings.Contains(text, "Message deleted") {
		t.Fatalf("the cleanup reached the log chat:\n%s", text)
	}
	h.exactly(g.ID, audit.ChatMessageDelete, 2)
}

func TestCommandsAddressedToAnotherBotAreIgnored(t *testing.T) {
	h := newHarnessWith(t, fast(config{}))
	f := h.fake
	owner := f.NewUser("Owner")
	g := f.NewSupergroup("G", owner)
	f.Command(g, owner, "/settings@some_other_bot")
	f.Command(g, owner, "/settings@"+f.Bot().Username)
	h.waitMessage(g.ID, "chatwarden settings")
	time.Sleep(200 * time.Millisecond)
	if n := strings.Count(h.text(g.ID), "chatwarden settings"); n != 1 {
		t.Fatalf("%d answers, want 1", n)
	}
}

func TestAdminStatusIsRefreshedByChatMemberUpdates(t *testing.T) {
	h := newHarnessWith(t, fast(config{opts: func(o *telegram.Options) { o.AdminCacheTTL = time.Hour }}))
	f := h.fake
	owner, mod := f.NewUser("Owner"), f.NewUser("Mod")
	g := f.NewSupergroup("G", owner, mod)
	f.Command(g, mod, "/settings")
	h.waitText(g.ID, "Only the admins of this group can use /settings")
	f.PromoteAdmin(g, owner, mod, telegramtest.ModeratorRights())
	h.wait(g.ID, audit.UserUpdate, 1)
	f.Command(g, mod, "/settings")
	h.waitText(g.ID, "chatwarden settings")
	f.DemoteAdmin(g, owner, mod)
	h.wait(g.ID, audit.UserUpdate, 2)
	calls := len(f.Calls("getChatMember"))
	f.Command(g, mod, "/locale fr")
	h.waitText(g.ID, "Only the admins of this group can use /locale")
	if n := len(f.Calls("getChatMember")); n != calls {
		t.Fatalf("asked Telegram again (%d calls) although the update said it", n-calls)
	}
}
