package discord_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/discord"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/internal/testlog"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// unavailable is the sentence entries show (its parentheses are
// escaped as Discord markdown in the posts).
const unavailable = "content not available: the bot lacks the Message Content intent"

// startWithoutContent starts the bot, its log channel taking every
// type, with the application's flags and options given, its log in buf.
func startWithoutContent(t *testing.T, opts discordtest.Options, configuredOff bool, buf *testlog.Buffer) *harness {
	t.Helper()
	h, err := startTweaked(t, opts, &settings.Community{LogChannels: []settings.LogChannel{{ID: logID}}}, func(o *discord.Options) {
		o.WithoutMessageContent = configuredOff
		o.Logger = zerolog.New(buf)
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// message waits for the record of a message id of a type.
func (h *harness) message(typ audit.EventType, id string) *audit.Event {
	h.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		page, err := h.s.Query(context.Background(), store.Query{Types: []audit.EventType{typ}})
		if err != nil {
			h.t.Fatal(err)
		}
		for _, e := range page.Events {
			if e.MessageID == id {
				return e
			}
		}
	}
	h.t.Fatalf("no %s record of message %s", typ, id)
	return nil
}

// TestWithoutMessageContentIntent runs the bot for an application whose
// MESSAGE CONTENT INTENT is off: it connects without asking for it and
// says so, records every message (those that mention it with their
// text, the others marked unavailable, never as empty), records edits
// without a diff to nothing, and its log entries say why the text is
// missing.
func TestWithoutMessageContentIntent(t *testing.T) {
	var buf testlog.Buffer
	h := startWithoutContent(t, discordtest.Options{AppFlags: discordtest.FlagGuildMembersLimited}, false, &buf)
	if ids := h.fake.Identifies(); len(ids) != 1 || ids[0].Intents&discordgo.IntentMessageContent != 0 ||
		ids[0].Intents != discord.Intents&^discordgo.IntentMessageContent {
		t.Fatalf("identify %+v: want every intent but MESSAGE_CONTENT", ids)
	}
	if log := buf.String(); !strings.Contains(log, "running without the Message Content intent") ||
		!strings.Contains(log, "MESSAGE CONTENT INTENT is off") || !strings.Contains(log, `"level":"warn"`) {
		t.Errorf("no warning at start:\n%s", log)
	}

	// Moderators are told too: /config show says it first.
	if a, _ := last(t, h.fake.Slash(guildID, owner, "config", "show"), 1); !strings.HasPrefix(a.Content, "chatwarden runs without the Message Content intent") {
		t.Errorf("/config show does not say the intent is off:\n%s", a.Content)
	}

	plain := h.fake.Say(guildID, channelID, member, "buy at https://scam.test now")
	mention := h.fake.Say(guildID, channelID, member, "<@"+h.fake.BotID()+"> help, https://scam.test")

	got := h.message(audit.ChatMessage, plain.ID)
	if got.Content != "" || got.Params[audit.ParamContentUnavailable] != "true" || got.ActorID != member.ID || got.ChannelID != channelID {
		t.Errorf("plain message recorded as %+v: want its author and channel, no text, marked unavailable", got)
	}
	got = h.message(audit.ChatMessage, mention.ID)
	if got.Content != mention.Content || got.Params[audit.ParamContentUnavailable] != "" {
		t.Errorf("message mentioning the bot recorded as %q %v: want its text, not marked", got.Content, got.Params)
	}

	// An edit of a message whose text was never known: no before, no
	// claim that it became empty.
	h.fake.Edit(plain, "now it says something else")
	edit := h.message(audit.ChatMessageEdit, plain.ID)
	if edit.Content != "" || edit.Params[audit.ParamContentUnavailable] != "true" || edit.Params[audit.ParamOldContent] != "" ||
		edit.Params[audit.ParamUnknownBefore] != "true" || edit.ActorID != member.ID {
		t.Errorf("edit of an unknown text recorded as %q %v", edit.Content, edit.Params)
	}
	// An edit that drops the mention: the earlier text is known, the new
	// one is not.
	h.fake.Edit(mention, "never mind")
	edit = h.message(audit.ChatMessageEdit, mention.ID)
	if edit.Content != "" || edit.Params[audit.ParamContentUnavailable] != "true" || edit.Params[audit.ParamOldContent] != mention.Content {
		t.Errorf("edit dropping the mention recorded as %q %v: want the old text and the new one unavailable", edit.Content, edit.Params)
	}
	// A deletion of a message whose text was never known says so.
	h.fake.Delete(plain)
	del := h.message(audit.ChatMessageDelete, plain.ID)
	if del.Content != "" || del.Params[audit.ParamContentUnavailable] != "true" || del.ActorID != member.ID {
		t.Errorf("deletion recorded as %q %v", del.Content, del.Params)
	}

	// The log channel's entries say why the text is missing, and show
	// the text of the message that mentioned the bot.
	var saying, withText int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && (saying < 4 || withText < 1); time.Sleep(20 * time.Millisecond) {
		saying, withText = 0, 0
		for _, body := range h.fake.Posts(logID) {
			saying += strings.Count(string(body), unavailable)
			if strings.Contains(string(body), "help, https://scam.test") {
				withText++
			}
		}
	}
	if saying < 4 || withText < 1 {
		t.Errorf("log entries: %d say the content is unavailable (want the message, the two edits and the deletion: 4), %d show the mention's text", saying, withText)
		for _, b := range h.fake.Posts(logID) {
			t.Logf("%s", b)
		}
	}
}

// TestMessageContentConfiguredOff: discord.message_content: false keeps
// the intent out even when the application has it; a DM-free guild
// message then arrives without its text.
func TestMessageContentConfiguredOff(t *testing.T) {
	var buf testlog.Buffer
	h := startWithoutContent(t, discordtest.Options{}, true, &buf)
	if ids := h.fake.Identifies(); len(ids) != 1 || ids[0].Intents&discordgo.IntentMessageContent != 0 {
		t.Fatalf("identify %+v asks for MESSAGE_CONTENT", ids)
	}
	if !strings.Contains(buf.String(), "discord.message_content is false") {
		t.Errorf("the warning does not name the setting:\n%s", buf.String())
	}
	m := h.fake.Say(guildID, channelID, member, "hello")
	if got := h.message(audit.ChatMessage, m.ID); got.Content != "" || got.Params[audit.ParamContentUnavailable] != "true" {
		t.Errorf("message recorded as %q %v", got.Content, got.Params)
	}
}

// TestWithMessageContentIntent: with the intent, nothing is marked.
func TestWithMessageContentIntent(t *testing.T) {
	var buf testlog.Buffer
	h := startWithoutContent(t, discordtest.Options{}, false, &buf)
	if strings.Contains(buf.String(), "without the Message Content intent") {
		t.Errorf("warned with the intent on:\n%s", buf.String())
	}
	if a, _ := last(t, h.fake.Slash(guildID, owner, "config", "show"), 1); strings.Contains(a.Content, "Message Content") {
		t.Errorf("/config show speaks of the intent while it is on:\n%s", a.Content)
	}
	m := h.fake.Say(guildID, channelID, member, "hello")
	if got := h.message(audit.ChatMessage, m.ID); got.Content != "hello" || got.Params[audit.ParamContentUnavailable] != "" {
		t.Errorf("message recorded as %q %v", got.Content, got.Params)
	}
	h.fake.Edit(m, "hello there")
	if got := h.message(audit.ChatMessageEdit, m.ID); got.Content != "hello there" || got.Params[audit.ParamOldContent] != "hello" ||
		got.Params[audit.ParamContentUnavailable] != "" {
		t.Errorf("edit recorded as %q %v", got.Content, got.Params)
	}
}
