package telegram

import (
	"strconv"
	"sync"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
)

// The names records carry: a group's title and its forum topics' names,
// as the handler last saw them. Both are kept with the batch of the
// update that showed them (nsChat, nsTopic), so that a record and the
// name it was given are durable together; a group's title is also the
// store's property name, the viewer's name for the community.

// titledChat returns the chat whose current title an update shows: the
// chat of a message, a channel post or a member change. A rename
// (new_chat_title) is left to its own case, which reads the old title
// first.
func titledChat(u *update) *tgbotapi.Chat {
	switch {
	case u.Message != nil:
		if u.Message.NewChatTitle == "" {
			return u.Message.Chat
		}
	case u.ChannelPost != nil:
		return u.ChannelPost.Chat
	case u.ChatMember != nil:
		return &u.ChatMember.Chat
	case u.MyChatMember != nil:
		return &u.MyChatMember.Chat
	}
	return nil
}

// noteTitle keeps title as the title of group c: with the batch when it
// differs from the one kept (ChatTitle), and as the store's property name
// when this process has not yet written it.
func (b *Bot) noteTitle(t *batch, c *tgbotapi.Chat, title string) {
	if c == nil || title == "" || c.Type == "private" {
		return
	}
	key := chatID(c)
	if old, ok := t.get(nsChat, key); !ok || string(old) != title {
		t.put(nsChat, key, []byte(title))
	}
	if b.titles.changed(c.ID, title) {
		if err := b.opts.Store.SetPropertyName(audit.Telegram, key, title); err != nil {
			b.log.Error().Err(err).Int64("chat", c.ID).Msg("save the group's title")
		}
	}
}

// chatTitles remembers the titles this process wrote as property names,
// so that the store is written when a title is first seen or changes,
// not for every message.
type chatTitles struct {
	mu   sync.Mutex
	seen map[int64]string
}

// changed notes title as chat's and reports whether it was not already.
func (c *chatTitles) changed(chat int64, title string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[int64]string{}
	}
	if c.seen[chat] == title {
		return false
	}
	c.seen[chat] = title
	return true
}

// ChatTitle returns a chat's title as the handler last saw it (in the
// chat object of its updates, a new_chat_title, or getChat when it was
// linked as a log chat), or "".
func (b *Bot) ChatTitle(chat string) string {
	v, err := b.opts.Store.GetKV(nsChat, []byte(chat))
	if err != nil {
		return ""
	}
	return string(v)
}

// rememberTitle keeps a chat's title outside a batch (a log chat the bot
// was told about by a command).
func (b *Bot) rememberTitle(chat int64, title string) {
	if title == "" || b.ChatTitle(itoa(chat)) == title {
		return
	}
	if err := b.opts.Store.Put(nsChat, []byte(itoa(chat)), []byte(title)); err != nil {
		b.log.Warn().Err(err).Int64("chat", chat).Msg("remember a chat's title")
	}
}

func topicKey(chat *tgbotapi.Chat, thread string) string { return chatID(chat) + "/" + thread }

// noteTopic keeps name as the name of the forum topic thread of chat,
// with the batch (its creation, a rename, or the creation message a topic
// message replies to).
func noteTopic(t *batch, chat *tgbotapi.Chat, thread, name string) {
	t.put(nsTopic, topicKey(chat, thread), []byte(name))
}

// TopicName returns the name of a group's forum topic as the handler last
// saw it (its creation, its last rename, or a message in it), or "".
func (b *Bot) TopicName(property, thread string) string {
	v, err := b.opts.Store.GetKV(nsTopic, []byte(property+"/"+thread))
	if err != nil {
		return ""
	}
	return string(v)
}

// inTopic places e in the forum topic of its message, if any: the thread
// id as the channel, named as the handler last saw the topic (created or
// renamed), else with the name of the topic's creation message, which
// Telegram attaches to a topic message that replies to nothing (a topic
// created before the bot came).
func (b *Bot) inTopic(t *batch, e *audit.Event, chat *tgbotapi.Chat, ext *messageExt) {
	if ext == nil || !ext.IsTopicMessage || ext.MessageThreadID == 0 {
		return
	}
	e.ChannelID = strconv.Itoa(ext.MessageThreadID)
	if name, ok := t.get(nsTopic, topicKey(chat, e.ChannelID)); ok && len(name) > 0 {
		e.Params.Set(audit.ParamChannelName, string(name))
		return
	}
	if r := ext.ReplyToMessage; r != nil && r.MessageID == ext.MessageThreadID &&
		r.ForumTopicCreated != nil && r.ForumTopicCreated.Name != "" {
		noteTopic(t, chat, e.ChannelID, r.ForumTopicCreated.Name)
		e.Params.Set(audit.ParamChannelName, r.ForumTopicCreated.Name)
	}
}

// nameChannel names the forum topic of a record the handler makes, and
// drops a channel that is the group itself: on Telegram a record outside
// topics has no channel, so that no entry shows the group's id as one.
func (b *Bot) nameChannel(e *audit.Event) {
	switch {
	case e.ChannelID == "":
	case e.ChannelID == e.PropertyID:
		e.ChannelID = ""
	case e.Params.Get(audit.ParamChannelName) == "":
		e.Params.Set(audit.ParamChannelName, b.TopicName(e.PropertyID, e.ChannelID))
	}
}
