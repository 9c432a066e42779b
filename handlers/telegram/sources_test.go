package telegram_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/logentry"
)

// TestEverySourceReachesTheLogChat injects each Telegram source of
// EVENTS.md and checks the record it makes and its entry in the log chat
// (the entry's summary and record id).
func TestEverySourceReachesTheLogChat(t *testing.T) {
	h := newHarnessWith(t, fast(config{}))
	f := h.fake
	owner, ann, bob, zoe := f.NewUser("Owner"), f.NewUser("Ann"), f.NewUser("Bob"), f.NewUser("Zoe")
	group := f.NewSupergroup("Group", owner, ann, bob)
	forum := f.NewForum("Forum", owner)
	channel := f.NewChannel("News", "news", owner)
	logChat := f.NewChannel("Logs", "", owner)
	for _, c := range []telegramtest.Chat{group, forum, channel} {
		h.setLog(c.ID, logChat.ID)
	}

	type check struct {
		name   string
		chat   telegramtest.Chat
		typ    audit.EventType
		inject func()
		verify func(e *audit.Event) bool
		button string // the reversal button the entry carries
	}
	var sentID, topic int
	checks := []check{
		{name: "message", chat: group, typ: audit.ChatMessage,
			inject: func() { sentID = f.Message(group, ann, "hello <b>all</b>").Message.MessageID },
			verify: func(e *audit.Event) bool {
				return e.Content == "hello <b>all</b>" && e.ActorID == id(ann.ID) && e.ActorType == audit.ActorNonAdmin &&
					e.PlatformType == "message" && e.Function == audit.FuncGateway
			}},
		{name: "edited_message", chat: group, typ: audit.ChatMessageEdit,
			inject: func() {
				if _, err := f.EditMessage(group, sentID, "hello again"); err != nil {
					t.Fatal(err)
				}
			},
			verify: func(e *audit.Event) bool {
				return e.Content == "hello again" && e.Params[audit.ParamOldContent] == "hello <b>all</b>" && e.PlatformType == "edited_message"
			}},
		{name: "channel_post", chat: channel, typ: audit.ChatMessage,
			inject: func() { f.ChannelPost(channel, "breaking news") },
			verify: func(e *audit.Event) bool {
				return e.PlatformType == "channel_post" && e.ActorID == id(channel.ID) && e.Content == "breaking news"
			}},
		{name: "sender_chat", chat: group, typ: audit.ChatMessage,
			inject: func() { f.MessageFromChannel(group, channel, "posted as the channel") },
			verify: func(e *audit.Event) bool {
				return e.ActorID == id(channel.ID) && e.Params[audit.ParamSenderChat] == id(channel.ID) && e.Content == "posted as the channel"
			}},
		{name: "chat_member join and new_chat_members", chat: group, typ: audit.UserJoin,
			inject: func() { f.JoinMember(group, zoe, telegramtest.JoinOptions{InviteLink: "https://t.me/+AbCdEfGhIj"}) },
			verify: func(e *audit.Event) bool {
				return e.ActorID == id(zoe.ID) && e.PlatformType == "chat_member" && e.Params[audit.ParamInviteCode] != ""
			}},
		{name: "invite link first seen", chat: group, typ: audit.PropertyInviteCreate,
			inject: func() {},
			verify: func(e *audit.Event) bool {
				return e.ActorID == id(owner.ID) && strings.HasPrefix(e.Params[audit.ParamInviteCode], "https://t.me/+")
			}},
		{name: "added by an admin", chat: group, typ: audit.UserJoin,
			inject: func() { f.AddMemberByAdmin(group, owner, f.NewUser("Added")) },
			verify: func(e *audit.Event) bool { return e.Params["added_by"] == id(owner.ID) && e.ActorName == "Added" }},
		{name: "leave", chat: group, typ: audit.UserRemove,
			inject: func() { f.LeaveMember(group, bob) },
			verify: func(e *audit.Event) bool {
				return e.Target() == id(bob.ID) && e.Params[audit.ParamRemoval] == audit.RemovalLeft
			}},
		{name: "ban", chat: group, typ: audit.UserBan, button: "Unban",
			inject: func() { f.BanMember(group, owner, zoe, time.Time{}) },
			verify: func(e *audit.Event) bool {
				return e.ActorID == id(owner.ID) && e.ActorType == audit.ActorAdmin && e.Target() == id(zoe.ID)
			}},
		{name: "unban", chat: group, typ: audit.UserBanRemove,
			inject: func() { f.Unban(group, owner, zoe) },
			verify: func(e *audit.Event) bool { return e.Target() == id(zoe.ID) && e.ActorID == id(owner.ID) }},
		{name: "restriction", chat: group, typ: audit.UserUpdate, button: "Unmute",
			inject: func() { f.Restrict(group, owner, ann, telegramtest.ChatPermissions{}, f.Now().Add(time.Hour)) },
			verify: func(e *audit.Event) bool {
				return e.Target() == id(ann.ID) && strings.HasPrefix(e.Params[audit.ParamNewValue], "restricted") && e.Params[audit.ParamUntil] != ""
			}},
		{name: "admin rights", chat: forum, typ: audit.UserUpdate,
			inject: func() { f.PromoteAdmin(forum, owner, ann, telegramtest.AdminRights{CanDeleteMessages: true}) },
			verify: func(e *audit.Event) bool {
				return e.Target() == id(ann.ID) && strings.HasPrefix(e.Params[audit.ParamNewValue], "administrator")
			}},
		{name: "name change", chat: forum, typ: audit.UserUpdate,
			inject: func() {
				f.Message(forum, bob, "first")
				renamed := bob
				renamed.FirstName, renamed.Username = "Robert", "robert"
				f.Message(forum, renamed, "second")
			},
			verify: func(e *audit.Event) bool {
				return e.Params[audit.ParamField] == "name" && e.Params[audit.ParamOldValue] == "Bob" && e.Params[audit.ParamNewValue] == "Robert" && e.Params["new_username"] == "robert"
			}},
		{name: "new_chat_title", chat: group, typ: audit.PropertyUpdate,
			inject: func() { f.SetTitle(group, owner, "Renamed <group>") },
			verify: func(e *audit.Event) bool {
				// The old title is known from the chat object of earlier messages.
				return e.Params[audit.ParamOldValue] == "Group" && e.Params[audit.ParamNewValue] == "Renamed <group>"
			}},
		{name: "new_chat_photo", chat: forum, typ: audit.PropertyUpdate,
			inject: func() { f.SetPhoto(forum, owner) },
			verify: func(e *audit.Event) bool { return e.PlatformType == "new_chat_photo" }},
		{name: "forum_topic_created", chat: forum, typ: audit.ChannelCreate,
			inject: func() { topic = f.ForumTopicCreated(forum, owner, "Announcements").Message.MessageID },
			verify: func(e *audit.Event) bool {
				return e.Params[audit.ParamChannelName] == "Announcements" && e.ChannelID != "" && e.ChannelID != "0"
			}},
		{name: "forum_topic_edited", chat: forum, typ: audit.ChannelUpdate,
			inject: func() { f.ForumTopicEdited(forum, owner, topic, "News & <b>notes</b>") },
			verify: func(e *audit.Event) bool {
				return e.ChannelID == strconv.Itoa(topic) && e.Params[audit.ParamChanged] == "name" &&
					e.Params["old_name"] == "Announcements" && e.Params["new_name"] == "News & <b>notes</b>" &&
					e.Params[audit.ParamChannelName] == "News & <b>notes</b>" && e.ActorID == id(owner.ID)
			}},
		{name: "forum_topic_closed", chat: forum, typ: audit.ChannelUpdate,
			inject: func() { f.ForumTopicClosed(forum, owner, topic, true) },
			verify: func(e *audit.Event) bool {
				return e.PlatformType == "forum_topic_closed" && e.ChannelID == strconv.Itoa(topic) &&
					e.Params[audit.ParamChanged] == "closed" && e.Params["new_closed"] == "true" &&
					e.Params[audit.ParamChannelName] == "News & <b>notes</b>"
			}},
		{name: "forum_topic_reopened", chat: forum, typ: audit.ChannelUpdate,
			inject: func() { f.ForumTopicClosed(forum, owner, topic, false) },
			verify: func(e *audit.Event) bool {
				return e.PlatformType == "forum_topic_reopened" && e.Params["old_closed"] == "true" && e.Params["new_closed"] == "false"
			}},
		{name: "report", chat: group, typ: audit.MessageReport,
			inject: func() {
				bad := f.Message(group, bob, "buy followers now").Message.MessageID
				f.ReplyTo(group, ann, bad, "/report")
			},
			verify: func(e *audit.Event) bool {
				return e.Function == audit.FuncReport && e.ActorID == id(ann.ID) && e.Target() == id(bob.ID) &&
					e.Content == "buy followers now" && strings.HasPrefix(e.Params[audit.ParamLink], "https://t.me/c/")
			}},
		{name: "my_chat_member: rights lost", chat: forum, typ: audit.SecurityEvent,
			inject: func() { f.BotRightsChanged(forum, owner, &telegramtest.AdminRights{CanInviteUsers: true}) },
			verify: func(e *audit.Event) bool {
				return e.Params[audit.ParamKind] == audit.KindBotRightsLost && strings.Contains(e.Params[audit.ParamReason], "delete messages") &&
					strings.Contains(e.Params[audit.ParamChanged], "can_restrict_members")
			}},
	}
	seen := map[string]bool{}
	for _, c := range checks {
		before := len(h.records(c.chat.ID, c.typ))
		c.inject()
		var rec *audit.Event
		waitFor(t, c.name+" record", func() bool {
			for _, e := range h.records(c.chat.ID, c.typ) {
				if !seen[e.ID.String()] && c.verify(e) {
					rec = e
					return true
				}
			}
			return false
		})
		seen[rec.ID.String()] = true
		_ = before
		entry := h.waitMessage(logChat.ID, rec.ID.String())
		summary := logentry.Render(rec, "en").Summary
		if !strings.Contains(entry.Text, summary) {
			t.Errorf("%s: the log entry lacks the summary %q:\n%s", c.name, summary, entry.Text)
		}
		if c.button != "" {
			if _, ok := buttons(entry)[c.button]; !ok {
				t.Errorf("%s: the entry has no %s button: %v", c.name, c.button, buttons(entry))
			}
		}
	}
	// A topic's service messages are not messages.
	for _, m := range h.records(forum.ID, audit.ChatMessage) {
		if m.Content == "" && len(m.Attachments) == 0 {
			t.Errorf("an empty CHAT_MESSAGE in the forum: %+v", m)
		}
	}
	// Both forms of a join or leave were delivered; each is one record.
	if n := len(h.records(group.ID, audit.UserJoin)); n != 2 {
		t.Errorf("%d USER_JOIN records in the group, want 2 (chat_member and its service message are one join)", n)
	}
	if n := len(h.records(group.ID, audit.UserRemove)); n != 1 {
		t.Errorf("%d USER_REMOVE records, want 1 (the ban is not a removal too)", n)
	}
	text := h.text(logChat.ID)
	if !strings.Contains(text, "can no longer") {
		t.Error("the log chat was not told what the bot can no longer do")
	}
	if !strings.Contains(text, "https://t.me/c/") {
		t.Error("the report's entry has no link to the message")
	}
	noViolations(t, f)
	for _, m := range h.sent(logChat.ID) {
		if !m.DisableNotify || !m.LinkPreviewOff || m.ParseMode != "HTML" {
			t.Fatalf("log message sent with sound or previews: %+v", m)
		}
	}
}
