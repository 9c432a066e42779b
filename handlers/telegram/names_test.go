package telegram_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/enginetest"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/verification"
)

// A bare number after "#" in an entry: a channel shown by its id alone.
var bareChannel = regexp.MustCompile(`#-?[0-9]+\b`)

// entryOf waits for the log chat's entry of a record and returns its text
// (a log message may hold several entries, a blank line apart).
func (h *harness) entryOf(logChat int64, e *audit.Event) string {
	h.t.Helper()
	text := h.waitMessage(logChat, e.ID.String()).Text
	for _, entry := range strings.Split(text, "\n\n") {
		if strings.Contains(entry, e.ID.String()) {
			return entry
		}
	}
	return text
}

// Entries name the forum topic a record is in, with its thread id as the
// detail, as the handler last saw it (created, renamed, or named by the
// topic's creation message Telegram attaches to a message in it); a record
// in the group itself has no channel line, the admin who added a member is
// named, and no entry shows the group's id or a topic's id alone.
func TestEntriesNameTopicsNotIDs(t *testing.T) {
	h := engineHarness(t, enginetest.Config{})
	f := h.fake
	owner, ann, zoe := f.NewUser("Owner"), f.NewUser("Ann"), f.NewUser("Zoe")
	g := f.NewForum("G", owner, ann)
	logChat := f.NewSupergroup("G logs", owner)
	h.setLog(g.ID, logChat.ID)
	f.Command(g, owner, "/settings link_filter.denylist evil-login.com")
	h.waitText(g.ID, "link_filter.denylist is now evil-login.com.")

	topic := f.ForumTopicCreated(g, owner, "Announcements").Message.MessageID
	thread := strconv.Itoa(topic)
	posted := f.TopicMessage(g, ann, topic, "hello topic").Message.MessageID
	if _, err := f.EditMessage(g, posted, "hello topic, edited"); err != nil {
		t.Fatal(err)
	}
	f.Message(g, ann, "hello group")
	msgs := h.wait(g.ID, audit.ChatMessage, 3) // the command, the topic's message, the group's
	edit := h.wait(g.ID, audit.ChatMessageEdit, 1)[0]
	var inTopic, inGroup *audit.Event
	for _, m := range msgs {
		switch m.Content {
		case "hello topic":
			inTopic = m
		case "hello group":
			inGroup = m
		}
	}
	if inTopic == nil || inGroup == nil {
		t.Fatalf("messages %+v", msgs)
	}
	want := "Topic: #Announcements (" + thread + ")"
	for what, e := range map[string]*audit.Event{"the topic's message": inTopic, "its edit": edit} {
		if e.ChannelID != thread || e.Params[audit.ParamChannelName] != "Announcements" {
			t.Errorf("%s: channel %q named %q", what, e.ChannelID, e.Params[audit.ParamChannelName])
		}
		if text := h.entryOf(logChat.ID, e); !strings.Contains(text, want) {
			t.Errorf("%s's entry lacks %q:\n%s", what, want, text)
		}
	}
	if text := h.entryOf(logChat.ID, inGroup); strings.Contains(text, "Topic:") || strings.Contains(text, "Channel:") {
		t.Errorf("the group's message has a channel line:\n%s", text)
	}

	// Renamed: the rename is one entry, and later records use the new name,
	// also the link filter's, whose deletion is in the topic too.
	f.ForumTopicEdited(g, owner, topic, "News")
	rename := h.wait(g.ID, audit.ChannelUpdate, 1)[0]
	if text := h.entryOf(logChat.ID, rename); !strings.Contains(text, "Owner updated the topic #News.") ||
		!strings.Contains(text, "Topic: #News ("+thread+")") {
		t.Errorf("the rename's entry:\n%s", text)
	}
	f.TopicMessage(g, ann, topic, "free nitro at https://evil-login.com/x")
	link := h.wait(g.ID, audit.ModerationLink, 1)[0]
	if text := h.entryOf(logChat.ID, link); !strings.Contains(text, "Topic: #News ("+thread+")") {
		t.Errorf("the link filter's entry:\n%s", text)
	}
	del := h.wait(g.ID, audit.ChatMessageDelete, 1)[0]
	if del.ChannelID != thread || del.Params[audit.ParamChannelName] != "News" {
		t.Errorf("the deletion's channel %q named %q", del.ChannelID, del.Params[audit.ParamChannelName])
	}

	// A topic the handler never saw created (as if made before the bot
	// came) is named by the creation message its messages reply to.
	old := f.ForumTopicCreated(g, owner, "Old topic").Message.MessageID
	h.wait(g.ID, audit.ChannelCreate, 2)
	if err := h.s.DeleteKV("telegram/topic", []byte(id(g.ID)+"/"+strconv.Itoa(old))); err != nil {
		t.Fatal(err)
	}
	f.TopicMessage(g, ann, old, "in the old topic")
	var inOld *audit.Event
	waitFor(t, "the old topic's message", func() bool {
		for _, m := range h.records(g.ID, audit.ChatMessage) {
			if m.Content == "in the old topic" {
				inOld = m
			}
		}
		return inOld != nil
	})
	if text := h.entryOf(logChat.ID, inOld); !strings.Contains(text, "Topic: #Old topic ("+strconv.Itoa(old)+")") {
		t.Errorf("the old topic's message:\n%s", text)
	}

	// Verification passing in the group: its entry names no channel.
	verifying(h, g.ID, verification.KindButton)
	h.join(g, zoe)
	ch := h.challenge(g.ID, "Zoe")
	h.press(g, zoe, ch, "I'm human")
	ok := h.wait(g.ID, audit.VerificationSuccess, 1)[0]
	if ok.ChannelID != "" {
		t.Errorf("the verification record's channel is %q", ok.ChannelID)
	}
	if text := h.entryOf(logChat.ID, ok); strings.Contains(text, "Topic:") || strings.Contains(text, "Channel:") {
		t.Errorf("the verification entry has a channel line:\n%s", text)
	}

	// A member an admin added: the entry names the admin, id as detail.
	bob := f.NewUser("Bob")
	f.AddMemberByAdmin(g, owner, bob)
	var added *audit.Event
	waitFor(t, "the added member's join", func() bool {
		for _, j := range h.records(g.ID, audit.UserJoin) {
			if j.ActorID == id(bob.ID) {
				added = j
			}
		}
		return added != nil
	})
	h.eng.ModClock.Advance(5 * time.Second) // past the join hold
	if text := h.entryOf(logChat.ID, added); !strings.Contains(text, "Added by: Owner ("+id(owner.ID)+")") {
		t.Errorf("the added member's join entry:\n%s", text)
	}

	all := h.logText(logChat.ID)
	if m := bareChannel.FindAllString(all, -1); len(m) > 0 || strings.Contains(all, id(g.ID)) {
		t.Errorf("the log chat shows bare ids %v or the group's id:\n%s", m, all)
	}
}

// A group's title and its forum topics' names are kept from every update
// that shows them: the title from a member change as from a message
// (ChatTitle, which log entries and a rename's old title read, and the
// store's property name, which the viewer shows), a rename's new title,
// a topic's name from its creation, its rename and the creation message
// a topic message replies to; a property name gone stale is written again
// by the next process that sees the group.
func TestGroupAndTopicNames(t *testing.T) {
	h := newHarness(t)
	f := h.fake
	owner, ann := f.NewUser("Owner"), f.NewUser("Ann")
	named := func(chat int64, want string) {
		t.Helper()
		var title, prop string
		waitFor(t, "the group named "+want, func() bool {
			title = h.bot.ChatTitle(id(chat))
			var err error
			if prop, err = h.s.PropertyName(audit.Telegram, id(chat)); err != nil {
				t.Fatal(err)
			}
			return title == want && prop == want
		})
	}
	topicNamed := func(chat int64, thread int, want string) {
		t.Helper()
		waitFor(t, "the topic named "+want, func() bool { return h.bot.TopicName(id(chat), strconv.Itoa(thread)) == want })
	}

	// Seen through a member change only (no message yet).
	quiet := f.NewSupergroup("Quiet <group>", owner, ann)
	f.PromoteAdmin(quiet, owner, ann, telegramtest.AdminRights{CanDeleteMessages: true})
	named(quiet.ID, "Quiet <group>")

	g := f.NewForum("Growers", owner, ann)
	f.Message(g, ann, "hello")
	h.wait(g.ID, audit.ChatMessage, 1)
	named(g.ID, "Growers")
	f.SetTitle(g, owner, "Growers & friends")
	rename := h.wait(g.ID, audit.PropertyUpdate, 1)[0]
	if rename.Params[audit.ParamOldValue] != "Growers" || rename.Params[audit.ParamNewValue] != "Growers & friends" {
		t.Errorf("the rename's record: %v", rename.Params)
	}
	named(g.ID, "Growers & friends")

	topic := f.ForumTopicCreated(g, owner, "Ideas").Message.MessageID
	topicNamed(g.ID, topic, "Ideas")
	f.ForumTopicEdited(g, owner, topic, "Plans")
	topicNamed(g.ID, topic, "Plans")
	if err := h.s.DeleteKV("telegram/topic", []byte(id(g.ID)+"/"+strconv.Itoa(topic))); err != nil {
		t.Fatal(err)
	}
	f.TopicMessage(g, ann, topic, "in the topic")
	topicNamed(g.ID, topic, "Ideas") // as its creation message says

	// A restarted process writes a stale property name again.
	h.stop()
	if err := h.s.SetPropertyName(audit.Telegram, id(g.ID), "stale"); err != nil {
		t.Fatal(err)
	}
	h.start(nil)
	f.Message(g, ann, "after the restart")
	h.wait(g.ID, audit.ChatMessage, 3)
	named(g.ID, "Growers & friends")
}
