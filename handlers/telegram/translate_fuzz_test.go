package telegram

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/store"
)

// translatingBot is a Bot that translates updates without a Bot API
// behind it: what needs the network runs only as a batch's effects, which
// the tests below never run.
func translatingBot(tb testing.TB, dir string) *Bot {
	tb.Helper()
	s, err := store.Open(filepath.Join(dir, "t.db"), store.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	b := renderingBot()
	b.opts.Store, b.opts.DedupWindow, b.opts.Now = s, 2*time.Minute, time.Now
	b.self = tgbotapi.User{ID: 999, IsBot: true, FirstName: "chatwarden", UserName: "chatwarden_bot"}
	b.log = zerolog.Nop()
	b.life, b.stop = context.WithCancel(context.Background())
	tb.Cleanup(b.stop)
	b.admins.m = map[memberKey]cachedMember{}
	b.echo = platform.NewEchoes(time.Minute)
	return b
}

// updateChat is the chat an update concerns, as translate reads it.
func updateChat(u *update) (id int64, date int, ok bool) {
	switch {
	case u.Message != nil && u.Message.Chat != nil:
		return u.Message.Chat.ID, u.Message.Date, true
	case u.EditedMessage != nil && u.EditedMessage.Chat != nil:
		return u.EditedMessage.Chat.ID, u.EditedMessage.EditDate, true
	case u.ChannelPost != nil && u.ChannelPost.Chat != nil:
		return u.ChannelPost.Chat.ID, u.ChannelPost.Date, true
	case u.ChatMember != nil:
		return u.ChatMember.Chat.ID, u.ChatMember.Date, true
	case u.MyChatMember != nil:
		return u.MyChatMember.Chat.ID, u.MyChatMember.Date, true
	}
	return 0, 0, false
}

// FuzzTranslateUpdate decodes Bot API updates as the poller and webhook
// do and translates them in one batch, an earlier update first (so that
// renames, joins seen twice and edits of the batch's own messages are
// reached). Every record must be valid, belong to the update's chat, keep
// the message's text whole, stay within a few records per update, and
// render as a log entry Telegram accepts.
func FuzzTranslateUpdate(f *testing.F) {
	const group = `"chat":{"id":-1001234567890,"type":"supergroup","title":"G"}`
	ann := `"from":{"id":42,"is_bot":false,"first_name":"Ann","username":"ann"}`
	seeds := []struct{ before, raw string }{
		{"", `{"update_id":1,"message":{"message_id":5,"date":1764000000,` + ann + `,` + group + `,"text":"hello @everyone <b>x</b>"}}`},
		{`{"update_id":1,"message":{"message_id":5,"date":1764000000,` + ann + `,` + group + `,"text":"hi"}}`,
			`{"update_id":2,"message":{"message_id":6,"date":1764000001,"from":{"id":42,"is_bot":false,"first_name":"Ann\n<i>Reason:</i> forged","last_name":"\u202eevil","username":"admin"},` + group + `,"text":"/report","reply_to_message":{"message_id":5,"date":1764000000,` + group + `,"text":"hi"}}}`},
		{`{"update_id":1,"message":{"message_id":5,"date":1764000000,` + ann + `,` + group + `,"text":"before"}}`,
			`{"update_id":2,"edited_message":{"message_id":5,"date":1764000000,"edit_date":1764000100,` + ann + `,` + group + `,"text":"after"}}`},
		{"", `{"update_id":3,"channel_post":{"message_id":1,"date":1764000000,"chat":{"id":-1009,"type":"channel","title":"C"},"sender_chat":{"id":-1009,"type":"channel","title":"@everyone"},"caption":"x","photo":[{"file_id":"a","file_unique_id":"b","width":1,"height":1,"file_size":10}]}}`},
		{`{"update_id":4,"message":{"message_id":7,"date":1764000000,` + ann + `,` + group + `,"new_chat_members":[{"id":43,"is_bot":false,"first_name":"<a href=\"tg://user?id=1\">x</a>"}]}}`,
			`{"update_id":5,"chat_member":{` + group + `,"from":{"id":43,"is_bot":false,"first_name":"B"},"date":1764000000,"old_chat_member":{"status":"left","user":{"id":43,"is_bot":false,"first_name":"B"}},"new_chat_member":{"status":"member","user":{"id":43,"is_bot":false,"first_name":"B"}},"invite_link":{"invite_link":"https://t.me/+abc","creator":{"id":1,"is_bot":false,"first_name":"Owner"},"is_primary":false,"is_revoked":false,"member_limit":5}}}`},
		{"", `{"update_id":6,"chat_member":{` + group + `,"from":{"id":1,"is_bot":false,"first_name":"Owner"},"date":1764000000,"old_chat_member":{"status":"member","user":{"id":43,"is_bot":false,"first_name":"B"}},"new_chat_member":{"status":"kicked","until_date":99999999999,"user":{"id":43,"is_bot":false,"first_name":"B"}}}}`},
		{"", `{"update_id":7,"my_chat_member":{` + group + `,"from":{"id":1,"is_bot":false,"first_name":"Owner"},"date":1764000000,"old_chat_member":{"status":"administrator","user":{"id":999,"is_bot":true,"first_name":"cw"},"can_delete_messages":true},"new_chat_member":{"status":"member","user":{"id":999,"is_bot":true,"first_name":"cw"}}}}`},
		{"", `{"update_id":8,"message":{"message_id":9,"date":1764000000,` + ann + `,` + group + `,"new_chat_title":"\u200b\u200b\n@here"}}`},
		{"", `{"update_id":9,"message":{"message_id":10,"date":1764000000,` + ann + `,` + group + `,"message_thread_id":77,"forum_topic_created":{"name":"</b>","icon_color":1}}}`},
		{"", `{"update_id":10,"message":{"message_id":11,"date":1764000000,` + ann + `,` + group + `,"left_chat_member":{"id":43,"is_bot":false,"first_name":"B"}}}`},
		{"", `{"update_id":11,"message":{"message_id":12,"date":1764000000,` + ann + `,"chat":{"id":-5,"type":"group","title":"g"},"migrate_to_chat_id":-1005}}`},
		{"", `{"update_id":12,"message_reaction":{"chat":{"id":-1,"type":"group"},"message_id":1,"date":1,"old_reaction":[],"new_reaction":[]}}`},
		{"", `{"update_id":13,"message":{"message_id":-1,"date":-5,"from":{"id":-42},"chat":{"id":0,"type":""},"text":"/setlog@chatwarden_bot x","entities":[{"type":"text_link","offset":0,"length":1,"url":"javascript:alert(1)"}]}}`},
		{"", `{"update_id":14,"callback_query":{"id":"q","from":{"id":42,"is_bot":false,"first_name":"Ann"},"data":"r:ban:x"}}`},
		{"", `{"update_id":"x"}`},
		{"", `{"update_id":15,"message":{"message_id":13,"date":1764000000,` + ann + `,"chat":{"id":42,"type":"private"},"text":"/apitoken create -100 x"}}`},
	}
	for _, s := range seeds {
		f.Add([]byte(s.before), []byte(s.raw))
	}
	b := translatingBot(f, f.TempDir())
	f.Fuzz(func(t *testing.T, before, raw []byte) {
		tb := &batch{b: b, overlay: map[string]*kvOp{}}
		var prev update
		if prev.decode(before) == nil {
			tb.events = append(tb.events, b.translate(tb, &prev)...)
		}
		var u update
		if u.decode(raw) != nil {
			return // the poller skips it with a log line, past its update_id
		}
		evs := b.translate(tb, &u)
		chat, date, ok := updateChat(&u)
		limit := 5 // a message, three renames and a /report
		if u.Message != nil {
			limit += len(u.Message.NewChatMembers)
		}
		if len(evs) > limit {
			t.Fatalf("%d records from one update", len(evs))
		}
		if len(evs) > 0 && !ok {
			t.Fatalf("records %+v from an update without a chat", evs[0])
		}
		for _, e := range evs {
			if err := e.Validate(); err != nil {
				t.Fatalf("invalid record %+v: %v", e, err)
			}
			if e.Platform != audit.Telegram || e.PropertyID != strconv.FormatInt(chat, 10) {
				t.Fatalf("record of %s %q from chat %d", e.Platform, e.PropertyID, chat)
			}
			if date > 0 && e.Type != audit.MessageReport && !e.Time.Equal(time.Unix(int64(date), 0)) {
				t.Fatalf("record time %v, update date %d", e.Time, date)
			}
			if m := u.Message; e.Type == audit.ChatMessage && m != nil && e.MessageID == strconv.Itoa(m.MessageID) {
				want := m.Text
				if want == "" {
					want = m.Caption
				}
				if e.Content != want {
					t.Fatalf("content %q of a message that said %q", e.Content, want)
				}
			}
			e.ID = audit.MakeID(time.Unix(1764000000, 0), 1)
			e.Normalize(time.Unix(1764000000, 0))
			checkEntryHTML(t, e, b.entryHTML(e, maxText))
		}
	})
}
