package telegram

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
)

// /erase: a member's personal data erased while the bot runs
// (command.Erase), by the group's creator or an administrator who may
// restrict members, in two steps: "/erase" as a reply to the member's
// message, or "/erase <user id>", says what it will do and asks for
// "/erase <user id> confirm". The erasure is recorded as DATA_RETENTION
// with the admin as actor; in a fleet it reaches the query nodes.

const eraseConfirm = "confirm"

// eraseCommand serves /erase for an admin of the group (adminCommand
// checked that much).
func (b *Bot) eraseCommand(m *tgbotapi.Message, c caller, args []string) {
	if c.anon {
		b.answer(m, "Erasing a member's data needs to know who asks: send /erase as yourself, not as the group.", nil)
		return
	}
	mem, err := b.member(m.Chat.ID, m.From.ID)
	if err != nil {
		b.log.Warn().Err(err).Msg("check admin rights")
		b.answer(m, "Your rights could not be checked; try again.", nil)
		return
	}
	if !canRestrict(mem) {
		b.answer(m, "Only the group's creator or an admin who may restrict members can erase a member's data.", nil)
		return
	}
	user, confirmed, ok := eraseTarget(m, args)
	if !ok {
		b.answer(m, "Reply to the member's message with /erase, or send <code>/erase &lt;user id&gt;</code>.", nil)
		return
	}
	if !confirmed {
		b.answer(m, fmt.Sprintf("This erases the personal data of user <code>%s</code> in this group: their names, messages, "+
			"attachments and details go from every record that names them, here and on the fleet's query nodes; ids, types and "+
			"times stay. It cannot be undone. To go ahead, send <code>/erase %s confirm</code>.", esc(user), esc(user)), nil)
		return
	}
	chat := chatID(m.Chat)
	who := command.Admin{ID: c.id, Name: c.name}
	// An erasure of many records takes a while: not in the polling loop.
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		n, err := command.Erase(context.WithoutCancel(b.life), b.opts.Store, b.opts.Recorder, audit.Telegram, chat, user, who, command.EraseByCommand)
		if err != nil {
			b.log.Error().Err(err).Str("chat", chat).Str("user", user).Msg("erase a member's data")
			b.answer(m, "The erasure did not finish; send the command again. What was erased stays erased.", nil)
			return
		}
		b.log.Info().Str("chat", chat).Str("user", user).Str("by", c.id).Int("records", n).Msg("erased a member's personal data")
		b.answer(m, fmt.Sprintf("Erased the personal data of user <code>%s</code> from %d records. The erasure is in the audit log.", esc(user), n), nil)
	}()
}

// eraseTarget reads /erase's arguments: the user is the id given, else
// the author of the message replied to; "confirm" ends a confirmed
// command.
func eraseTarget(m *tgbotapi.Message, args []string) (user string, confirmed, ok bool) {
	if n := len(args); n > 0 && strings.EqualFold(args[n-1], eraseConfirm) {
		confirmed, args = true, args[:n-1]
	}
	switch {
	case len(args) == 1:
		id, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || id <= 0 || strconv.FormatInt(id, 10) != args[0] {
			return "", false, false
		}
		return args[0], confirmed, true
	case len(args) == 0 && m.ReplyToMessage != nil && m.ReplyToMessage.From != nil && !m.ReplyToMessage.From.IsBot:
		return userID(m.ReplyToMessage.From), confirmed, true
	}
	return "", false, false
}
