package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
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
	{"report", "Reply to a message with /report to tell the admins", false, false},
	{"apitoken", "HTTP API tokens of a group you administer: /apitoken create|list|revoke <chat id>", true, true},
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

func (b *Bot) settingsCore() *command.Settings {
	return &command.Settings{Store: b.opts.Store, Router: b.opts.Router, Recorder: b.opts.Recorder}
}

func (b *Bot) settingsOf(chat string) settings.Community {
	if b.opts.Router != nil {
		return b.opts.Router.Settings(audit.Telegram, chat)
	}
	s, _ := b.opts.Store.Settings(context.Background(), audit.Telegram, chat)
	return s
}

// changeFailed answers a failed settings change.
func (b *Bot) changeFailed(m *tgbotapi.Message, err error) {
	if errors.Is(err, command.ErrBadArgument) {
		b.answer(m, esc(err.Error()), nil)
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

// setlog links a log chat given by id: the caller must be an admin of
// both chats, and the bot must be able to post there.
func (b *Bot) setlog(m *tgbotapi.Message, c caller, scope command.Scope, who command.Admin, args []string) {
	if len(args) == 0 {
		b.answer(m, "To link a log channel, send <code>/setlog</code> in the channel and forward that message here. "+
			"For any chat, send <code>/setlog &lt;chat id&gt;</code> here; you must be an admin of both.", nil)
		return
	}
	logChat, err := b.resolveChat(args[0])
	if err != nil {
		b.changeFailed(m, err)
		return
	}
	if c.anon {
		b.answer(m, "Anonymous admins cannot prove they run the log chat: use <code>/setlog</code> without anonymity, or forward it from the channel.", nil)
		return
	}
	if logChat.ID != m.Chat.ID {
		mem, err := b.member(logChat.ID, m.From.ID)
		if err != nil || !isAdminMember(mem) {
			b.answer(m, "You must be an admin of that chat too.", nil)
			return
		}
	}
	b.linkLogChat(m, scope, who, logChat.ID, logChat.Title)
}

// setlogForwarded links the channel a forwarded /setlog came from: only
// its admins can post there, and the forwarder must be an admin here.
func (b *Bot) setlogForwarded(m *tgbotapi.Message, from int64, msgID int) {
	c, ok := b.callerOf(m)
	if !ok {
		return
	}
	admin, err := b.checkAdmin(m, c)
	if err != nil || !admin {
		b.answer(m, "Only the admins of this group can link a log chat.", nil)
		return
	}
	if from == m.Chat.ID {
		b.answer(m, "Forward /setlog from the log channel, not from this group.", nil)
		return
	}
	title := ""
	var ch tgbotapi.Chat
	if err := b.call("getChat", tgbotapi.Params{"chat_id": itoa(from)}, &ch); err == nil {
		title = ch.Title
	}
	scope := command.Scope{Platform: audit.Telegram, Property: chatID(m.Chat)}
	if b.linkLogChat(m, scope, command.Admin{ID: c.id, Name: c.name}, from, title) && msgID != 0 {
		_ = b.call("deleteMessage", tgbotapi.Params{"chat_id": itoa(from), "message_id": strconv.Itoa(msgID)}, nil)
	}
}

// linkLogChat checks the bot can post in the log chat, saves it and
// resumes it if it was paused.
func (b *Bot) linkLogChat(m *tgbotapi.Message, scope command.Scope, who command.Admin, logChat int64, title string) bool {
	hello := tgbotapi.NewMessage(logChat, "chatwarden will post the audit log of <b>"+esc(m.Chat.Title)+"</b> here.")
	hello.ParseMode = tgbotapi.ModeHTML
	hello.DisableNotification = true
	if _, err := b.send(hello); err != nil {
		b.log.Info().Err(err).Int64("chat", logChat).Msg("cannot post in the log chat")
		b.answer(m, "chatwarden cannot post in that chat: add it there as an admin who may post messages, then try again.", nil)
		return false
	}
	id := itoa(logChat)
	types := ""
	set := b.settingsOf(scope.Property)
	if lc := set.LogChannel(id); lc != nil {
		types = typeNames(lc.Types)
	}
	if _, err := b.settingsCore().SetLogChannel(context.Background(), scope, who, id, types); err != nil {
		b.changeFailed(m, err)
		return false
	}
	if b.deliverer != nil {
		b.deliverer.Resume(id)
	}
	name := id
	if title != "" {
		name = title + " (" + id + ")"
	}
	b.answer(m, "Log entries of this group now go to <b>"+esc(name)+"</b>. Choose what with /logtypes.", nil)
	return true
}

func typeNames(ts []audit.EventType) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.String()
	}
	return strings.Join(names, ",")
}

// pickLogChat reads an optional log chat id from args: it may be left out
// when the group has exactly one log chat.
func (b *Bot) pickLogChat(m *tgbotapi.Message, args []string) (string, []string, bool) {
	set := b.settingsOf(chatID(m.Chat))
	if len(args) > 0 {
		if _, err := strconv.ParseInt(args[0], 10, 64); err == nil {
			if set.LogChannel(args[0]) == nil {
				b.answer(m, esc(args[0])+" is not a log chat of this group. See /settings.", nil)
				return "", nil, false
			}
			return args[0], args[1:], true
		}
	}
	switch len(set.LogChannels) {
	case 0:
		b.answer(m, "This group has no log chat: link one with /setlog.", nil)
		return "", nil, false
	case 1:
		return set.LogChannels[0].ID, args, true
	}
	b.answer(m, "This group has several log chats: name one by its id (see /settings).", nil)
	return "", nil, false
}

func (b *Bot) unsetlog(m *tgbotapi.Message, scope command.Scope, who command.Admin, args []string) {
	id, _, ok := b.pickLogChat(m, args)
	if !ok {
		return
	}
	if _, err := b.settingsCore().RemoveLogChannel(context.Background(), scope, who, id); err != nil {
		b.changeFailed(m, err)
		return
	}
	b.answer(m, "Log chat "+esc(id)+" no longer receives this group's entries.", nil)
}

func (b *Bot) logtypes(m *tgbotapi.Message, scope command.Scope, who command.Admin, args []string) {
	id, rest, ok := b.pickLogChat(m, args)
	if !ok {
		return
	}
	if len(rest) == 0 {
		set := b.settingsOf(scope.Property)
		cur := ""
		if lc := set.LogChannel(id); lc != nil {
			cur = typeNames(lc.Types)
		}
		if cur == "" {
			cur = "all"
		}
		b.answer(m, "Log chat "+esc(id)+" receives: <code>"+esc(cur)+"</code>\n"+
			"Change it with <code>/logtypes [chat id] &lt;types&gt;</code>: event types such as USER_BAN, "+
			"or the presets all, members, messages, moderation, server, separated by spaces or commas.", nil)
		return
	}
	types := strings.Join(rest, ",")
	if _, err := b.settingsCore().SetLogChannel(context.Background(), scope, who, id, types); err != nil {
		b.changeFailed(m, err)
		return
	}
	if b.deliverer != nil {
		b.deliverer.Resume(id)
	}
	b.answer(m, "Log chat "+esc(id)+" now receives: <code>"+esc(types)+"</code>", nil)
}

func (b *Bot) setLocale(m *tgbotapi.Message, scope command.Scope, who command.Admin, args []string) {
	if len(args) != 1 {
		b.answer(m, "Log entries are written in <code>"+esc(b.locale(scope.Property))+"</code>. Choose with <code>/locale "+
			esc(strings.Join(logentry.Locales(), "|"))+"</code>.", nil)
		return
	}
	if _, err := b.settingsCore().SetLocale(context.Background(), scope, who, strings.ToLower(args[0])); err != nil {
		b.changeFailed(m, err)
		return
	}
	b.answer(m, "Log entries will be written in <code>"+esc(strings.ToLower(args[0]))+"</code>.", nil)
}

func (b *Bot) showSettings(m *tgbotapi.Message) {
	def := b.opts.DefaultLocale
	if b.opts.Router != nil {
		def = b.opts.Router.Locale(audit.Telegram, "")
	}
	set := b.settingsOf(chatID(m.Chat))
	lines := command.Show(set, def)
	lines = append(lines, command.ShowEngineSettings(set)...)
	if b.opts.DeleteCommandsAfter > 0 {
		lines = append(lines, "commands and answers are deleted after "+b.opts.DeleteCommandsAfter.String())
	}
	for i := range lines {
		lines[i] = esc(lines[i])
	}
	b.answer(m, "<b>chatwarden settings</b>\n"+strings.Join(lines, "\n"), nil)
}

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
	if ext != nil && ext.IsTopicMessage {
		e.ChannelID = strconv.Itoa(ext.MessageThreadID)
	}
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

// Telegram messages hold about 4096 characters: /logs pages are short.
const maxPage = 20

// parseLogs reads /logs arguments in any order: event types or presets,
// @username or a user id, a time (24h, 7d, a date), a limit (a number up
// to 1000), or key=value (type=, user=, since=, until=, limit=, topic=).
func (b *Bot) parseLogs(chat string, args []string) (command.Search, error) {
	var s command.Search
	var types []string
	for _, a := range args {
		key, val, kv := strings.Cut(a, "=")
		if !kv {
			key, val = "", a
		}
		switch strings.ToLower(key) {
		case "type", "types":
			types = append(types, val)
			continue
		case "user":
			u, err := b.resolveUser(chat, val)
			if err != nil {
				return s, err
			}
			s.User = u
			continue
		case "since":
			s.Since = val
			continue
		case "until":
			s.Until = val
			continue
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil {
				return s, fmt.Errorf("%w: limit: %q is not a number", command.ErrBadArgument, val)
			}
			s.Limit = n
			continue
		case "topic", "channel":
			s.Channel = val
			continue
		case "":
		default:
			return s, fmt.Errorf("%w: %s: unknown argument (use type, user, since, until, limit or topic)", command.ErrBadArgument, key)
		}
		switch n, err := strconv.ParseInt(val, 10, 64); {
		case strings.HasPrefix(val, "@"):
			u, err := b.resolveUser(chat, val)
			if err != nil {
				return s, err
			}
			s.User = u
		case err == nil && n >= 1 && n <= store.MaxLimit && s.Limit == 0:
			s.Limit = int(n)
		case err == nil:
			s.User = val
		default:
			if _, terr := command.ParseTime(val, time.Now()); terr == nil {
				if s.Since == "" {
					s.Since = val
				} else {
					s.Until = val
				}
				continue
			}
			types = append(types, val)
		}
	}
	s.Types = strings.Join(types, ",")
	if s.Limit > maxPage {
		return s, fmt.Errorf("%w: limit: at most %d entries fit one Telegram message", command.ErrBadArgument, maxPage)
	}
	return s, nil
}

// resolveUser turns @username into the id of a member the handler has
// seen in the group (Telegram cannot look users up by name).
func (b *Bot) resolveUser(chat, arg string) (string, error) {
	if _, err := strconv.ParseInt(arg, 10, 64); err == nil {
		return arg, nil
	}
	name := strings.TrimPrefix(arg, "@")
	found := ""
	for _, c := range b.history(chat) {
		_ = b.opts.Store.ScanKV(nsProfile, []byte(c+"/"), func(k, v []byte) error {
			var p profile
			if json.Unmarshal(v, &p) == nil && p.Username != "" && strings.EqualFold(p.Username, name) {
				found = strings.TrimPrefix(string(k), c+"/")
				return errFound
			}
			return nil
		})
		if found != "" {
			return found, nil
		}
	}
	return "", fmt.Errorf("%w: user: chatwarden has not seen @%s in this group; use their numeric id", command.ErrBadArgument, name)
}

var errFound = errors.New("found")

func (b *Bot) storedProfile(chat, user int64) (profile, bool) {
	var p profile
	v, err := b.opts.Store.GetKV(nsProfile, []byte(profileKey(chat, user)))
	if err != nil || json.Unmarshal(v, &p) != nil {
		return p, false
	}
	return p, true
}

// logs answers /logs with the first page of results and Older/Newer
// buttons that only the caller may press.
func (b *Bot) logs(m *tgbotapi.Message, c caller, args []string) {
	chat := chatID(m.Chat)
	s, err := b.parseLogs(chat, args)
	if err == nil && s.User == "" && m.ReplyToMessage != nil && m.ReplyToMessage.From != nil && !m.ReplyToMessage.From.IsBot {
		s.User = userID(m.ReplyToMessage.From) // /logs as a reply: that member's entries
	}
	var q store.Query
	if err == nil {
		q, err = s.Query(command.Scope{Platform: audit.Telegram, Property: chat}, time.Now())
	}
	if err != nil {
		b.answer(m, esc(err.Error()), nil)
		return
	}
	st := command.PageState{Scope: command.Scope{Platform: audit.Telegram, Property: chat}, Invoker: c.id, Query: q}
	id, err := (&command.Pages{Store: b.opts.Store}).Save(st)
	if err != nil {
		b.answer(m, "The search could not be saved; try again.", nil)
		return
	}
	text, kb, err := b.page(chat, id, q, 0, "")
	if err != nil {
		b.answer(m, "The audit log could not be read; try again.", nil)
		return
	}
	b.answer(m, text, kb)
}

// page renders one page of q. A group that migrated has its history under
// its earlier ids: generation gen of the chat's history is searched, and
// when it is exhausted, the Older button moves on to the next.
func (b *Bot) page(chat, pageID string, q store.Query, gen int, cursor string) (string, *tgbotapi.InlineKeyboardMarkup, error) {
	chain := b.history(chat)
	if gen < 0 || gen >= len(chain) {
		return "", nil, store.ErrBadCursor
	}
	var page store.Page
	for {
		qq := q
		qq.Property, qq.Cursor = chain[gen], cursor
		var err error
		if page, err = b.opts.Store.Query(b.life, qq); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				err = nil // a property the store has no records of
			} else {
				return "", nil, err
			}
		}
		if len(page.Events) > 0 || cursor != "" || gen+1 >= len(chain) {
			break
		}
		gen++ // nothing here yet: the history before the migration
	}
	locale := b.locale(chat)
	var sb strings.Builder
	sb.WriteString("<b>Audit log</b>")
	if gen > 0 {
		sb.WriteString(" (before the upgrade to a supergroup)")
	}
	if len(page.Events) == 0 {
		sb.WriteString("\nNo entries match.")
	}
	for _, e := range page.Events {
		en := logentry.Render(e, locale)
		fmt.Fprintf(&sb, "\n<code>%s</code> %s", e.Time.UTC().Format("01-02 15:04"), esc(cutUTF16(en.Summary, 160)))
	}
	var row []tgbotapi.InlineKeyboardButton
	if page.Newer != "" {
		row = append(row, tgbotapi.NewInlineKeyboardButtonData("‹ Newer", pageData(pageID, gen, page.Newer)))
	} else if gen > 0 {
		row = append(row, tgbotapi.NewInlineKeyboardButtonData("‹ Newer", pageData(pageID, gen-1, "")))
	}
	if page.Older != "" {
		row = append(row, tgbotapi.NewInlineKeyboardButtonData("Older ›", pageData(pageID, gen, page.Older)))
	} else if gen+1 < len(chain) {
		row = append(row, tgbotapi.NewInlineKeyboardButtonData("Older ›", pageData(pageID, gen+1, "")))
	}
	if len(row) == 0 {
		return sb.String(), nil, nil
	}
	kb := tgbotapi.NewInlineKeyboardMarkup(row)
	return sb.String(), &kb, nil
}

// pageData is at most 5+12+1+1+40 = 59 bytes, under Telegram's 64.
func pageData(id string, gen int, cursor string) string {
	return pagePrefix + id + ":" + strconv.Itoa(gen) + cursor
}

// onPage serves Older/Newer: only the member who searched, only in the
// group the search ran in, and the cursor must belong to that search.
func (b *Bot) onPage(q *tgbotapi.CallbackQuery) Answer {
	id, rest, ok := strings.Cut(strings.TrimPrefix(q.Data, pagePrefix), ":")
	if !ok || rest == "" {
		return Answer{Text: "This button is not valid."}
	}
	gen := int(rest[0] - '0')
	chat := chatID(q.Message.Chat)
	st, err := (&command.Pages{Store: b.opts.Store}).Load(id, command.Scope{Platform: audit.Telegram, Property: chat}, userID(q.From))
	if err != nil {
		// An anonymous admin's search: any admin of the group may page it.
		st2, err2 := (&command.Pages{Store: b.opts.Store}).Load(id, command.Scope{Platform: audit.Telegram, Property: chat}, chat)
		if err2 != nil {
			return Answer{Text: err.Error(), Alert: true}
		}
		if mem, merr := b.member(q.Message.Chat.ID, q.From.ID); merr != nil || !isAdminMember(mem) {
			return Answer{Text: err.Error(), Alert: true}
		}
		st = st2
	}
	text, kb, err := b.page(chat, id, st.Query, gen, rest[1:])
	if err != nil {
		return Answer{Text: "This button does not belong to these results.", Alert: true}
	}
	if err := b.editMessage(q.Message.Chat.ID, q.Message.MessageID, text, kb); err != nil {
		b.log.Warn().Err(err).Msg("edit /logs page")
		return Answer{Text: "The page could not be shown; try again."}
	}
	return Answer{}
}
