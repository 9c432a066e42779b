package telegram

import (
	"fmt"
	"strconv"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
)

// report records MESSAGE_REPORT with the batch; the log chats get it
// through the outbox, with a link to the message.
func (b *Bot) report(t *batch, m *tgbotapi.Message, ext *messageExt) []*audit.Event {
	r := m.ReplyToMessage
	if r != nil && ext != nil && ext.IsTopicMessage && r.MessageID == ext.MessageThreadID {
		r = nil // in a forum topic, a message that replies to nothing "replies" to the topic
	}
	if r == nil {
		t.after(func() { b.answer(m, "Reply to the message you want to report with /report.", nil) })
		return nil
	}
	e := b.event(m.Chat, audit.MessageReport, "message", m.Date)
	e.Function = audit.FuncReport
	b.setActor(e, m.From)
	if m.SenderChat != nil {
		e.ActorID, e.ActorName = chatID(m.SenderChat), m.SenderChat.Title
	}
	e.MessageID = strconv.Itoa(r.MessageID)
	b.inTopic(t, e, m.Chat, ext)
	var author, name string
	switch {
	case r.SenderChat != nil:
		author, name = chatID(r.SenderChat), r.SenderChat.Title
	case r.From != nil:
		author, name = userID(r.From), userName(r.From)
	}
	if author != "" {
		e.TargetIDs = []string{author}
		e.Params.Set(audit.ParamTargetName, name)
		e.Params.Set(audit.ParamReportedAuthor, author)
	}
	e.Params.Set(audit.ParamReportedID, e.MessageID)
	e.Params.Set(audit.ParamLink, messageLink(m.Chat, r.MessageID))
	e.Content = r.Text
	if e.Content == "" {
		e.Content = r.Caption
	}
	t.after(func() { b.answer(m, "Thank you: the admins have been told.", nil) })
	return []*audit.Event{e}
}

// messageLink links to a message of a supergroup or channel ("" for basic
// groups, whose messages have no links).
func messageLink(c *tgbotapi.Chat, id int) string {
	switch {
	case c.UserName != "":
		return fmt.Sprintf("https://t.me/%s/%d", c.UserName, id)
	case c.ID < -1000000000000:
		return fmt.Sprintf("https://t.me/c/%d/%d", -c.ID-1000000000000, id)
	}
	return ""
}
