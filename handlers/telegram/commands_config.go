package telegram

import (
	"context"
	"errors"
	"strconv"
	"strings"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/settings"
)

func (b *Bot) settingsCore() *command.Settings {
	return &command.Settings{Store: b.opts.Store, Router: b.opts.Router, Recorder: b.opts.Recorder, ChannelName: b.ChatTitle}
}

func (b *Bot) settingsOf(chat string) settings.Community {
	if b.opts.Router != nil {
		return b.opts.Router.Settings(audit.Telegram, chat)
	}
	s, _ := b.opts.Store.Settings(context.Background(), audit.Telegram, chat)
	return s
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
	b.rememberTitle(logChat, title)
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

// settingsCommand serves /settings: alone, what the group's settings are;
// "keys", the engine settings one may change; "<key> <value>", a change
// (recorded as SETTINGS_CHANGE).
func (b *Bot) settingsCommand(m *tgbotapi.Message, scope command.Scope, who command.Admin, args []string) {
	switch {
	case len(args) == 0:
		b.showSettings(m)
		return
	case len(args) == 1 && strings.EqualFold(args[0], "keys"):
		keys := command.EngineSettingKeys()
		for i := range keys {
			keys[i] = "<code>" + esc(keys[i]) + "</code>"
		}
		b.answer(m, "<b>Settings you can change</b> with <code>/settings &lt;key&gt; &lt;value&gt;</code> "+
			"(<code>default</code> returns to the operator's default):\n"+strings.Join(keys, "\n"), nil)
		return
	case len(args) == 1:
		b.answer(m, "Give a value: <code>/settings "+esc(args[0])+" &lt;value&gt;</code>, or <code>default</code>. "+
			"See <code>/settings keys</code>.", nil)
		return
	}
	key, value := strings.ToLower(args[0]), strings.Join(args[1:], " ")
	updated, err := b.settingsCore().SetEngineSetting(context.Background(), scope, who, key, value)
	if err != nil {
		b.changeFailed(m, err)
		return
	}
	now, _ := command.GetEngineSetting(updated, key)
	if now == "" {
		now = "the operator's default"
	}
	b.answer(m, "<code>"+esc(key)+"</code> is now <code>"+esc(now)+"</code>.", nil)
}

const apitokenUsage = "<code>/apitoken create &lt;chat id&gt; [label]</code>, <code>/apitoken list &lt;chat id&gt;</code> " +
	"or <code>/apitoken revoke &lt;chat id&gt; &lt;token id&gt;</code>."

// apitoken serves /apitoken in a private chat: the caller must be an admin
// of the chat named. A new token is shown once, in this chat only, and is
// never logged.
func (b *Bot) apitoken(m *tgbotapi.Message, args []string) {
	if b.opts.Tokens == nil {
		b.answer(m, "The HTTP API is not enabled on this chatwarden.", nil)
		return
	}
	if len(args) < 2 {
		b.answer(m, "Usage: "+apitokenUsage+" Find a group's id with /settings there, or in its log entries.", nil)
		return
	}
	op := strings.ToLower(args[0])
	chat, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil || chat >= 0 {
		b.answer(m, "<code>"+esc(args[1])+"</code> is not a group's id (a negative number such as -1001234567890).", nil)
		return
	}
	property := b.current(itoa(chat))
	chat, _ = parseChat(property)
	mem, err := b.freshMember(chat, m.From.ID)
	if err != nil {
		b.log.Info().Err(err).Int64("chat", chat).Msg("apitoken: check the caller's rights")
		b.answer(m, "Your rights in that chat could not be checked: is chatwarden in it?", nil)
		return
	}
	if !isAdminMember(mem) {
		b.answer(m, "Only the admins of that chat can manage its API tokens.", nil)
		return
	}
	ctx := b.life
	who := command.Admin{ID: userID(m.From), Name: userName(m.From)}
	switch op {
	case "create":
		label := strings.Join(args[2:], " ")
		token, info, err := b.opts.Tokens.Create(ctx, audit.Telegram, property, who, label)
		if err != nil {
			if errors.Is(err, command.ErrTooManyTokens) {
				b.answer(m, esc(command.ErrTooManyTokens.Error()), nil)
				return
			}
			b.log.Error().Err(err).Int64("chat", chat).Msg("apitoken create")
			b.answer(m, "The token could not be created; try again.", nil)
			return
		}
		b.log.Info().Int64("chat", chat).Str("token_id", info.ID).Msg("API token created")
		note := ""
		if b.opts.DeleteCommandsAfter > 0 {
			note = " This message is deleted in " + b.opts.DeleteCommandsAfter.String() + "."
		}
		b.answer(m, "API token <code>"+esc(info.ID)+"</code> for chat "+esc(property)+":\n<code>"+esc(token)+
			"</code>\nCopy it now: it is not shown again."+note, nil)
	case "list":
		list, err := b.opts.Tokens.List(ctx, audit.Telegram, property)
		if err != nil {
			b.log.Error().Err(err).Int64("chat", chat).Msg("apitoken list")
			b.answer(m, "The tokens could not be listed; try again.", nil)
			return
		}
		if len(list) == 0 {
			b.answer(m, "Chat "+esc(property)+" has no API tokens. Create one with <code>/apitoken create "+esc(property)+"</code>.", nil)
			return
		}
		lines := []string{"<b>API tokens of chat " + esc(property) + "</b>"}
		for _, t := range list {
			line := "<code>" + esc(t.ID) + "</code> created " + t.Created.UTC().Format("2006-01-02 15:04") + " by " + esc(t.CreatedByName)
			if t.Label != "" {
				line += " — " + esc(t.Label)
			}
			lines = append(lines, line)
		}
		b.answer(m, strings.Join(lines, "\n"), nil)
	case "revoke":
		if len(args) < 3 {
			b.answer(m, "Name the token: <code>/apitoken revoke "+esc(property)+" &lt;token id&gt;</code> (see <code>/apitoken list</code>).", nil)
			return
		}
		info, err := b.opts.Tokens.Revoke(ctx, audit.Telegram, property, args[2], who)
		switch {
		case errors.Is(err, command.ErrTokenNotFound):
			b.answer(m, "Chat "+esc(property)+" has no such token. See <code>/apitoken list "+esc(property)+"</code>.", nil)
		case err != nil && info.ID == "":
			b.log.Error().Err(err).Int64("chat", chat).Msg("apitoken revoke")
			b.answer(m, "The token could not be revoked; try again.", nil)
		default:
			if err != nil {
				b.log.Error().Err(err).Int64("chat", chat).Msg("apitoken revoke")
			}
			b.answer(m, "API token <code>"+esc(info.ID)+"</code> of chat "+esc(property)+" is revoked.", nil)
		}
	default:
		b.answer(m, "Usage: "+apitokenUsage, nil)
	}
}
