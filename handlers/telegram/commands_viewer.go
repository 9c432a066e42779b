package telegram

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/platform"
)

// ViewerLinkFunc mints a one-time login link to the web viewer of a
// property for a moderator, and says when it expires.
type ViewerLinkFunc func(ctx context.Context, property string, user command.Admin) (link string, expires time.Time, err error)

const viewerUsage = "<code>/viewer &lt;chat id&gt;</code>"

// viewer serves /viewer in a private chat: a one-time link to the web
// viewer of a group the caller administers, shown in this chat only.
func (b *Bot) viewer(m *tgbotapi.Message, args []string) {
	if b.opts.ViewerLink == nil {
		b.answer(m, "The web viewer is not set up on this chatwarden (the operator sets api.listen and api.public_url).", nil)
		return
	}
	if len(args) < 1 {
		b.answer(m, "Usage: "+viewerUsage+". Find a group's id with /settings there, or in its log entries.", nil)
		return
	}
	chat, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || chat >= 0 {
		b.answer(m, "<code>"+esc(args[0])+"</code> is not a group's id (a negative number such as -1001234567890).", nil)
		return
	}
	property := b.current(itoa(chat))
	chat, _ = parseChat(property)
	mem, err := b.freshMember(chat, m.From.ID)
	if err != nil {
		b.log.Info().Err(err).Int64("chat", chat).Msg("viewer: check the caller's rights")
		b.answer(m, "Your rights in that chat could not be checked: is chatwarden in it?", nil)
		return
	}
	if !isAdminMember(mem) {
		b.answer(m, "Only the admins of that chat can open its audit log.", nil)
		return
	}
	ctx, cancel := context.WithTimeout(b.life, 10*time.Second)
	defer cancel()
	link, expires, err := b.opts.ViewerLink(ctx, property, command.Admin{ID: userID(m.From), Name: userName(m.From)})
	if err != nil {
		b.log.Error().Err(err).Int64("chat", chat).Msg("viewer link")
		b.answer(m, "The link could not be made; try again.", nil)
		return
	}
	b.answer(m, "Your link to the audit log viewer of chat <code>"+esc(property)+"</code>. It is yours alone and works once, until "+
		esc(expires.UTC().Format("15:04 UTC"))+":\n"+esc(link), nil)
}

// ViewerAllowed reports whether user may still read chat's audit log in
// the web viewer: Telegram says (getChatMember, never the cache) that
// they are its creator or an administrator. Someone no longer in the chat
// may not; err when Telegram could not say.
func (b *Bot) ViewerAllowed(ctx context.Context, chat, user string) (bool, error) {
	c, err := parseChat(chat)
	if err != nil {
		return false, nil
	}
	u, err := strconv.ParseInt(user, 10, 64)
	if err != nil {
		return false, nil
	}
	mem, err := b.freshMember(c, u)
	if errors.Is(err, platform.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("may %s read the audit log of %s: %w", user, chat, err)
	}
	return isAdminMember(mem), nil
}
