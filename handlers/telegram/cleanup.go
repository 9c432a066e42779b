package telegram

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/platform"
)

// Command exchanges are deleted after Options.DeleteCommandsAfter. The
// deletions are kept in the store (due time first in the key, so a scan
// meets them in order), so a restart does not forget them.
const nsCleanup = "telegram/cleanup" // <due unix ns, 20 digits>/<chat>/<message> -> ""

func (b *Bot) scheduleDelete(chat int64, ids ...int) {
	if b.opts.DeleteCommandsAfter <= 0 {
		return
	}
	due := time.Now().Add(b.opts.DeleteCommandsAfter).UnixNano()
	for _, id := range ids {
		if id == 0 {
			continue
		}
		key := fmt.Sprintf("%020d/%d/%d", due, chat, id)
		if err := b.opts.Store.Put(nsCleanup, []byte(key), nil); err != nil {
			b.log.Error().Err(err).Msg("schedule the deletion of a command")
		}
	}
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *Bot) cleanupLoop() {
	tick := min(max(b.opts.DeleteCommandsAfter/4, 50*time.Millisecond), 5*time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		b.cleanupDue()
		select {
		case <-b.life.Done():
			return
		case <-t.C:
		case <-b.wake:
		}
	}
}

// cleanupDue deletes the messages whose time has come. A message already
// gone (deleted by an admin, or older than Telegram allows) is forgotten.
func (b *Bot) cleanupDue() {
	now := fmt.Sprintf("%020d", time.Now().UnixNano())
	var due []string
	_ = b.opts.Store.ScanKV(nsCleanup, nil, func(k, _ []byte) error {
		if string(k[:min(len(k), 20)]) > now {
			return errFound // the rest is later
		}
		due = append(due, string(k))
		return nil
	})
	for _, key := range due {
		if b.life.Err() != nil {
			return
		}
		parts := strings.Split(key, "/")
		if len(parts) != 3 {
			_ = b.opts.Store.DeleteKV(nsCleanup, []byte(key))
			continue
		}
		if _, err := strconv.ParseInt(parts[1], 10, 64); err != nil {
			_ = b.opts.Store.DeleteKV(nsCleanup, []byte(key))
			continue
		}
		err := b.call("deleteMessage", tgbotapi.Params{"chat_id": parts[1], "message_id": parts[2]}, nil)
		if te := apiError(err); err != nil && te == nil {
			continue // the network: try again later
		} else if te != nil && te.RetryAfter > 0 {
			return
		}
		if err == nil {
			b.recordCleanup(parts[1], parts[2])
		}
		_ = b.opts.Store.DeleteKV(nsCleanup, []byte(key))
	}
}

// recordCleanup records the deletion of a command or of the bot's answer
// as housekeeping: kept in the store with what it knew of the message,
// posted to no log channel.
func (b *Bot) recordCleanup(chat, message string) {
	prev, err := b.opts.Store.FindMessage(b.life, audit.Telegram, chat, message)
	if err != nil {
		prev = nil // the bot's own answer: the store never saw it
	}
	e := b.deletionEvent(chat, "", message, prev, platform.Cause{Function: audit.FuncCommand,
		Reason: "delete_commands_after", Quiet: audit.QuietHousekeeping})
	if err := b.record(b.life, e); err != nil {
		b.log.Error().Err(err).Str("chat", chat).Str("message", message).Msg("record the deletion of a command exchange")
	}
}
