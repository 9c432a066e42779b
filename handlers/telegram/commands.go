package telegram

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
)

// The commands. Every one but /report is for the group's admins, checked
// on the server for each use (getChatMember, cached briefly); answers go
// to the group and, with the command, are deleted after
// Options.DeleteCommandsAfter.
type commandInfo struct {
	name, desc string
	admin      bool
	private    bool // served in a private chat with the bot, not in groups
}

var commands = []commandInfo{
	{"logs", "Search the audit log: /logs [type] [@user|id] [since] [limit]", true, false},
	{"setlog", "Link a log chat: /setlog <chat id>, or forward /setlog from a channel", true, false},
	{"unsetlog", "Stop sending entries to a log chat", true, false},
	{"logtypes", "Choose what a log chat receives: /logtypes <types or presets>", true, false},
	{"locale", "Language of log entries: /locale en|fr|hi", true, false},
	{"settings", "Show or change settings: /settings [keys | <key> <value>]", true, false},
	{"doctor", "Check the bot's rights here and in the log chats", true, false},
	{"erase", "Erase a member's personal data: reply with /erase, or /erase <user id>; then confirm", true, false},
	{"report", "Reply to a message with /report to tell the admins", false, false},
	{"apitoken", "HTTP API tokens of a group you administer: /apitoken create|list|revoke <chat id>", true, true},
	{"viewer", "A one-time link to the web viewer of a group you administer: /viewer <chat id>", true, true},
}

// registerCommands puts the commands in the clients' menus: everything
// for group admins, /report for every group member.
func (b *Bot) registerCommands() {
	type cmd struct {
		Command     string `json:"command"`
		Description string `json:"description"`
	}
	var all, members, private []cmd
	for _, c := range commands {
		switch {
		case c.private:
			private = append(private, cmd{c.name, c.desc})
		case !c.admin:
			members = append(members, cmd{c.name, c.desc})
			fallthrough
		default:
			all = append(all, cmd{c.name, c.desc})
		}
	}
	for _, set := range []struct {
		scope string
		cmds  []cmd
	}{{"all_group_chats", members}, {"all_chat_administrators", all}, {"all_private_chats", private}} {
		err := b.call("setMyCommands", tgbotapi.Params{"commands": jsonParam(set.cmds),
			"scope": jsonParam(map[string]string{"type": set.scope})}, nil)
		if err != nil && b.life.Err() == nil {
			b.log.Warn().Err(err).Str("scope", set.scope).Msg("setMyCommands")
		}
	}
}

// parseCommand splits "/name@bot args": ok is false for text that is not
// a command addressed to this bot.
func (b *Bot) parseCommand(text string) (name string, args []string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", nil, false
	}
	fields := strings.Fields(text)
	name, at, _ := strings.Cut(strings.TrimPrefix(fields[0], "/"), "@")
	if at != "" && !strings.EqualFold(at, b.self.UserName) {
		return "", nil, false
	}
	return strings.ToLower(name), fields[1:], name != ""
}

// command looks at a message for a command: /report is recorded with the
// batch (the log chat learns of it through the outbox); the others run
// once the batch is durable.
func (b *Bot) command(t *batch, m *tgbotapi.Message, ext *messageExt) []*audit.Event {
	text := m.Text
	if text == "" {
		text = m.Caption
	}
	name, args, ok := b.parseCommand(text)
	if !ok {
		return nil
	}
	if m.Chat.Type == "channel" {
		if name == "setlog" {
			t.after(func() {
				b.answer(m, "Now forward this message to the group whose audit log should come here. "+
					"(Or send <code>/setlog "+esc(chatID(m.Chat))+"</code> in the group.)", nil)
			})
		}
		return nil
	}
	switch name {
	case "report":
		return b.report(t, m, ext)
	case "apitoken":
		t.after(func() {
			b.answer(m, "API tokens are secrets: send <code>/apitoken</code> to me in a private chat.", nil)
		})
		return nil
	case "viewer":
		t.after(func() {
			b.answer(m, "Viewer links are personal: send <code>/viewer "+esc(chatID(m.Chat))+"</code> to me in a private chat.", nil)
		})
		return nil
	case "setlog":
		if from, msgID := forwardedFrom(m, ext); from != 0 {
			t.after(func() { b.setlogForwarded(m, from, msgID) })
			return nil
		}
	}
	if i := slices.IndexFunc(commands, func(c commandInfo) bool { return c.name == name }); i < 0 {
		return nil
	}
	if from, _ := forwardedFrom(m, ext); from != 0 || m.ForwardFrom != nil {
		return nil // a forwarded command is not the forwarder's
	}
	t.after(func() { b.adminCommand(m, name, args) })
	return nil
}

// caller is who sent a command: a member, or an anonymous admin (the
// message comes from the group itself).
type caller struct {
	id, name string
	anon     bool
}

func (b *Bot) callerOf(m *tgbotapi.Message) (caller, bool) {
	if m.SenderChat != nil {
		if m.SenderChat.ID == m.Chat.ID {
			return caller{id: chatID(m.Chat), name: m.Chat.Title, anon: true}, true
		}
		return caller{}, false // a channel cannot administer the group
	}
	if m.From == nil {
		return caller{}, false
	}
	return caller{id: userID(m.From), name: userName(m.From)}, true
}

// checkAdmin answers whether the caller is an admin of the group.
func (b *Bot) checkAdmin(m *tgbotapi.Message, c caller) (bool, error) {
	if c.anon {
		return true, nil // only admins can post as the group
	}
	mem, err := b.member(m.Chat.ID, m.From.ID)
	if err != nil {
		return false, err
	}
	return isAdminMember(mem), nil
}

func (b *Bot) adminCommand(m *tgbotapi.Message, name string, args []string) {
	c, ok := b.callerOf(m)
	if !ok {
		return
	}
	admin, err := b.checkAdmin(m, c)
	switch {
	case err != nil:
		b.log.Warn().Err(err).Msg("check admin")
		b.answer(m, "Your rights could not be checked; try again.", nil)
		return
	case !admin:
		b.answer(m, "Only the admins of this group can use /"+esc(name)+".", nil)
		return
	}
	scope := command.Scope{Platform: audit.Telegram, Property: chatID(m.Chat)}
	who := command.Admin{ID: c.id, Name: c.name}
	switch name {
	case "logs":
		b.logs(m, c, args)
	case "setlog":
		b.setlog(m, c, scope, who, args)
	case "unsetlog":
		b.unsetlog(m, scope, who, args)
	case "logtypes":
		b.logtypes(m, scope, who, args)
	case "locale":
		b.setLocale(m, scope, who, args)
	case "settings":
		b.settingsCommand(m, scope, who, args)
	case "doctor":
		b.doctorCommand(m)
	case "erase":
		b.eraseCommand(m, c, args)
	}
}

// answer replies in the group with HTML and schedules the exchange for
// deletion. It returns the answer's message id (0 if it failed).
func (b *Bot) answer(m *tgbotapi.Message, html string, kb *tgbotapi.InlineKeyboardMarkup) int {
	msg := tgbotapi.NewMessage(m.Chat.ID, html)
	msg.ParseMode = tgbotapi.ModeHTML
	msg.DisableWebPagePreview = true
	msg.ReplyToMessageID = m.MessageID
	msg.AllowSendingWithoutReply = true
	if kb != nil {
		msg.ReplyMarkup = *kb
	}
	sent, err := b.send(msg)
	if err != nil {
		b.log.Warn().Err(err).Int64("chat", m.Chat.ID).Msg("answer command")
		b.scheduleDelete(m.Chat.ID, m.MessageID)
		return 0
	}
	b.scheduleDelete(m.Chat.ID, m.MessageID, sent.MessageID)
	return sent.MessageID
}

// send sends a message; over Telegram's pace for the chat it waits as
// told (a few seconds at most) and tries again.
func (b *Bot) send(c tgbotapi.Chattable) (tgbotapi.Message, error) {
	b.globalPace()
	sent, err := b.api.Send(c)
	for try := 0; try < 2 && err != nil; try++ {
		te := apiError(err)
		if te == nil || te.RetryAfter <= 0 || te.RetryAfter > 10 {
			break
		}
		select {
		case <-b.life.Done():
			return sent, b.life.Err()
		case <-time.After(time.Duration(te.RetryAfter) * time.Second):
		}
		sent, err = b.api.Send(c)
	}
	return sent, redact(err)
}

// changeFailed answers a failed settings change.
func (b *Bot) changeFailed(m *tgbotapi.Message, err error) {
	if errors.Is(err, command.ErrBadArgument) {
		b.answer(m, esc(command.Explain(err, "")), nil)
		return
	}
	b.log.Error().Err(err).Msg("settings command")
	b.answer(m, "The change could not be saved; try again.", nil)
}

// resolveChat reads a chat id or a public @username.
func (b *Bot) resolveChat(arg string) (tgbotapi.Chat, error) {
	var ch tgbotapi.Chat
	if _, err := strconv.ParseInt(arg, 10, 64); err != nil && !strings.HasPrefix(arg, "@") {
		return ch, fmt.Errorf("%w: chat: %q is neither a chat id nor a public @name", command.ErrBadArgument, arg)
	}
	if err := b.call("getChat", tgbotapi.Params{"chat_id": arg}, &ch); err != nil {
		return ch, fmt.Errorf("%w: chat: chatwarden cannot see %s; add it to that chat first", command.ErrBadArgument, arg)
	}
	return ch, nil
}
