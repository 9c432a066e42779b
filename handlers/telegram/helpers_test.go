package telegram_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// fast shrinks Telegram's pacing windows twentyfold (1 message per 50 ms
// per chat, 20 per second per group) and paces the deliverer to match, so
// that tests stay fast while every limit is still enforced.
func fast(c config) config {
	c.fake.Limits = telegramtest.Limits{PerChatInterval: 50 * time.Millisecond, PerChatBurst: 3,
		GroupMessages: 20, GroupWindow: time.Second, GlobalMessages: 30, GlobalWindow: time.Second}
	prev := c.opts
	c.opts = func(o *telegram.Options) {
		o.LogInterval = 80 * time.Millisecond
		o.RaidActionInterval = time.Millisecond
		if prev != nil {
			prev(o)
		}
	}
	return c
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// sent returns what the bot posted in a chat (service messages left out).
func (h *harness) sent(chat int64) []telegramtest.SentMessage {
	var out []telegramtest.SentMessage
	for _, m := range h.fake.Messages(chat) {
		if m.Method != "service" {
			out = append(out, m)
		}
	}
	return out
}

func (h *harness) text(chat int64) string {
	var all []string
	for _, m := range h.sent(chat) {
		all = append(all, m.Text)
	}
	return strings.Join(all, "\n")
}

// waitText waits until the chat's messages from the bot contain every
// substring.
func (h *harness) waitText(chat int64, subs ...string) string {
	h.t.Helper()
	var text string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		text = h.text(chat)
		missing := ""
		for _, s := range subs {
			if !strings.Contains(text, s) {
				missing = s
				break
			}
		}
		if missing == "" {
			return text
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("chat %d never showed %q; it has:\n%.3000s", chat, missing, text)
		}
	}
}

// waitMessage waits for the bot's newest message in chat containing sub.
func (h *harness) waitMessage(chat int64, sub string) telegramtest.SentMessage {
	h.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		msgs := h.sent(chat)
		for i := len(msgs) - 1; i >= 0; i-- {
			if strings.Contains(msgs[i].Text, sub) {
				return msgs[i]
			}
		}
	}
	h.t.Fatalf("no message with %q in chat %d:\n%.3000s", sub, chat, h.text(chat))
	return telegramtest.SentMessage{}
}

// buttons maps a message's button labels to their data.
func buttons(m telegramtest.SentMessage) map[string]string {
	out := map[string]string{}
	if m.ReplyMarkup == nil {
		return out
	}
	for _, row := range m.ReplyMarkup.InlineKeyboard {
		for _, b := range row {
			if b.CallbackData != nil {
				out[b.Text] = *b.CallbackData
			}
		}
	}
	return out
}

// press presses a button and waits for the bot's answer.
func (h *harness) press(chat telegramtest.Chat, user telegramtest.User, m telegramtest.SentMessage, label string) telegramtest.CallbackAnswer {
	h.t.Helper()
	data, ok := buttons(m)[label]
	if !ok {
		h.t.Fatalf("message %d has no %q button: %v", m.MessageID, label, buttons(m))
	}
	cb, err := h.fake.PressButton(chat, user, m.MessageID, data)
	if err != nil {
		h.t.Fatal(err)
	}
	ans, ok := cb.Wait(5 * time.Second)
	if !ok {
		h.t.Fatalf("the %q press was not answered", label)
	}
	return ans
}

// forgedPress injects a callback query with any data (the fake's
// PressButton only presses real buttons) and returns the bot's answer.
func (h *harness) forgedPress(chat telegramtest.Chat, user telegramtest.User, messageID int, data string) string {
	h.t.Helper()
	msg, ok := h.fake.MessageByID(chat.ID, messageID)
	if !ok {
		h.t.Fatalf("no message %d", messageID)
	}
	qid := "forged" + strconv.Itoa(messageID) + data[len(data)-3:]
	h.fake.InjectUpdate(telegramtest.Update{CallbackQuery: &telegramtest.CallbackQuery{ID: qid, From: user,
		Message: &msg, ChatInstance: "1", Data: data}})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, c := range h.fake.Calls("answerCallbackQuery") {
			if c.Params.Get("callback_query_id") == qid {
				return c.Params.Get("text")
			}
		}
	}
	h.t.Fatal("the forged press was not answered")
	return ""
}

func (h *harness) records(chat int64, types ...audit.EventType) []*audit.Event {
	h.t.Helper()
	page, err := h.s.Query(context.Background(), store.Query{Platform: audit.Telegram, Property: id(chat), Types: types, Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	return page.Events
}

func (h *harness) settings(chat int64) settings.Community {
	h.t.Helper()
	s, err := h.s.Settings(context.Background(), audit.Telegram, id(chat))
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func noViolations(t *testing.T, fake *telegramtest.Server) {
	t.Helper()
	if v := fake.RateLimitViolations(); len(v) > 0 {
		t.Fatalf("%d requests over the pacing limits, first %+v", len(v), v[0])
	}
}

// waitButton waits for a message of the bot in chat with a button labelled
// label.
func (h *harness) waitButton(chat int64, label string) telegramtest.SentMessage {
	h.t.Helper()
	var found telegramtest.SentMessage
	waitFor(h.t, "a "+label+" button", func() bool {
		for _, m := range h.sent(chat) {
			if _, ok := buttons(m)[label]; ok {
				found = m
				return true
			}
		}
		return false
	})
	return found
}
