package telegram

import (
	"sync"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
)

// chatTitles remembers the titles of the groups whose updates arrive, so
// that the store's property name (shown by the web viewer) is written
// when a title is first seen or changes, not for every message.
type chatTitles struct {
	mu   sync.Mutex
	seen map[int64]string
}

// notePropertyName stores a group's title as its property name (the
// viewer's name for the community) when it is new; noteTitle keeps it for
// log entries, in the batch.
func (b *Bot) notePropertyName(c *tgbotapi.Chat) {
	if c == nil || c.Title == "" || c.Type == "private" {
		return
	}
	b.titles.mu.Lock()
	if b.titles.seen == nil {
		b.titles.seen = map[int64]string{}
	}
	same := b.titles.seen[c.ID] == c.Title
	b.titles.seen[c.ID] = c.Title
	b.titles.mu.Unlock()
	if same {
		return
	}
	if err := b.opts.Store.SetPropertyName(audit.Telegram, itoa(c.ID), c.Title); err != nil {
		b.log.Error().Err(err).Int64("chat", c.ID).Msg("save the group's title")
	}
}
