package telegram

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/store"
)

var _ platform.Actions = (*Bot)(nil)

// Platform implements platform.Actions.
func (b *Bot) Platform() audit.Platform { return audit.Telegram }

// deleteWindow is how long Telegram lets a bot delete others' messages.
const deleteWindow = 48 * time.Hour

// actionEvent starts the record of an action the bot performs: the bot is
// the actor, or the admin who acted through it (a button, a command).
func (b *Bot) actionEvent(property string, typ audit.EventType, platformType string, c platform.Cause) *audit.Event {
	e := &audit.Event{Time: time.Now(), Platform: audit.Telegram, PropertyID: property, Type: typ,
		PlatformType: platformType, Function: c.Function, ActorType: audit.ActorBot}
	if !e.Function.Valid() {
		e.Function = audit.FuncCommand
	}
	if c.ActorID != "" {
		e.ActorID, e.ActorName, e.ActorType = c.ActorID, c.ActorName, audit.ActorAdmin
	} else {
		e.ActorID, e.ActorName = itoa(b.self.ID), b.self.UserName
	}
	c.Mark(e)
	return e
}

func (b *Bot) target(e *audit.Event, chat, user int64) {
	e.TargetIDs = []string{itoa(user)}
	if p, ok := b.storedProfile(chat, user); ok {
		e.Params.Set(audit.ParamTargetName, strings.TrimSpace(p.FirstName+" "+p.LastName))
	}
}

// record makes an action's record durable before the action returns.
// Its channel is named (a forum topic), or left out when it is the group
// itself.
func (b *Bot) record(ctx context.Context, e *audit.Event) error {
	b.nameChannel(e)
	if err := b.opts.Recorder.Record(ctx, e); err != nil {
		return fmt.Errorf("record %s: %w", e.Type, err)
	}
	return nil
}

func ids(property, user string) (int64, int64, error) {
	chat, err := parseChat(property)
	if err != nil {
		return 0, 0, err
	}
	u, err := strconv.ParseInt(user, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("telegram: %q is not a user id: %w", user, platform.ErrNotFound)
	}
	return chat, u, nil
}

// DeleteMessage implements platform.Actions. Telegram lets bots delete other
// members' messages for 48 hours: an older message fails with
// platform.ErrTooOld, before any request when the store knows its date. The
// record carries what the store knew of the message.
func (b *Bot) DeleteMessage(ctx context.Context, property, channel, message string, c platform.Cause) error {
	chat, err := parseChat(property)
	if err != nil {
		return err
	}
	if channel == property {
		channel = "" // the chat itself, not a topic
	}
	prev, ferr := b.opts.Store.FindMessage(ctx, audit.Telegram, property, message)
	if ferr != nil && !errors.Is(ferr, store.ErrNotFound) {
		prev = nil
	}
	old := prev != nil && b.opts.Now().Sub(prev.Time) >= deleteWindow
	if old {
		return fmt.Errorf("telegram: message %s was sent %s ago: %w (Telegram allows 48 hours)",
			message, b.opts.Now().Sub(prev.Time).Round(time.Hour), platform.ErrTooOld)
	}
	err = b.callPatient(ctx, "deleteMessage", tgbotapi.Params{"chat_id": itoa(chat), "message_id": message}, nil)
	if err != nil {
		te := apiError(err)
		switch {
		case te != nil && strings.Contains(te.Message, "message can't be deleted") && prev == nil:
			return fmt.Errorf("telegram: message %s can't be deleted: it may be older than 48 hours, or the bot lacks the right: %w", message, platform.ErrTooOld)
		case te != nil && strings.Contains(te.Message, "message can't be deleted"):
			return fmt.Errorf("telegram: message %s can't be deleted: %w", message, platform.ErrForbidden)
		}
		return actionErr("delete message", err)
	}
	return b.record(ctx, b.deletionEvent(property, channel, message, prev, c))
}

// deletionEvent is the record of the bot deleting a message: what the
// store knew of it (prev, nil when nothing) with its author as target.
func (b *Bot) deletionEvent(property, channel, message string, prev *audit.Event, c platform.Cause) *audit.Event {
	e := b.actionEvent(property, audit.ChatMessageDelete, "deleteMessage", c)
	e.ChannelID, e.MessageID = channel, message
	if prev != nil {
		e.Content, e.Attachments = prev.Content, prev.Attachments
		if prev.ActorID != "" {
			e.TargetIDs = []string{prev.ActorID}
			e.Params.Set(audit.ParamTargetName, prev.ActorName)
		}
		if e.ChannelID == "" || e.ChannelID == prev.ChannelID {
			e.ChannelID = prev.ChannelID
			e.Params.Set(audit.ParamChannelName, prev.Params.Get(audit.ParamChannelName))
		}
	}
	return e
}

// permissions builds a ChatPermissions object with every permission set
// to allow, including those tgbotapi v5.5.1 does not know.
func permissions(allow bool) string {
	p := map[string]bool{}
	for _, k := range []string{"can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
		"can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
		"can_send_other_messages", "can_add_web_page_previews", "can_change_info", "can_invite_users",
		"can_pin_messages", "can_manage_topics"} {
		p[k] = allow
	}
	return jsonParam(p)
}

// Timeout implements platform.Actions: the member may not send anything until
// the given time (Telegram treats less than 30 seconds or more than 366
// days as forever).
func (b *Bot) Timeout(ctx context.Context, property, user string, until time.Time, c platform.Cause) error {
	chat, u, err := ids(property, user)
	if err != nil {
		return err
	}
	b.echo.Expect("restrict", itoa(chat), itoa(u))
	params := tgbotapi.Params{"chat_id": itoa(chat), "user_id": itoa(u),
		"permissions": permissions(false), "use_independent_chat_permissions": "true"}
	if !until.IsZero() {
		params["until_date"] = strconv.FormatInt(until.Unix(), 10)
	}
	err = b.callPatient(ctx, "restrictChatMember", params, nil)
	if err != nil {
		b.echo.Forget("restrict", itoa(chat), itoa(u))
		return actionErr("restrict member", err)
	}
	e := b.actionEvent(property, audit.UserUpdate, "restrictChatMember", c)
	b.target(e, chat, u)
	e.Params.Set(audit.ParamField, "status")
	e.Params.Set(audit.ParamNewValue, "restricted")
	if !until.IsZero() {
		e.Params.Set(audit.ParamUntil, until.UTC().Format(time.RFC3339))
	}
	return b.record(ctx, e)
}

// RemoveTimeout implements platform.Actions: every permission is given back.
func (b *Bot) RemoveTimeout(ctx context.Context, property, user string, c platform.Cause) error {
	chat, u, err := ids(property, user)
	if err != nil {
		return err
	}
	b.echo.Expect("unrestrict", itoa(chat), itoa(u))
	err = b.callPatient(ctx, "restrictChatMember", tgbotapi.Params{"chat_id": itoa(chat), "user_id": itoa(u),
		"permissions": permissions(true), "use_independent_chat_permissions": "true"}, nil)
	if err != nil {
		b.echo.Forget("unrestrict", itoa(chat), itoa(u))
		return actionErr("lift restrictions", err)
	}
	e := b.actionEvent(property, audit.UserUpdate, "restrictChatMember", c)
	b.target(e, chat, u)
	e.Params.Set(audit.ParamField, "status")
	e.Params.Set(audit.ParamOldValue, "restricted")
	e.Params.Set(audit.ParamNewValue, "member")
	return b.record(ctx, e)
}

// Kick implements platform.Actions: a ban lifted at once, so the member may
// come back.
func (b *Bot) Kick(ctx context.Context, property, user string, c platform.Cause) error {
	chat, u, err := ids(property, user)
	if err != nil {
		return err
	}
	if u < 0 {
		return fmt.Errorf("telegram: a chat cannot be kicked, only banned: %w", platform.ErrUnsupported)
	}
	b.echo.Expect("ban", itoa(chat), itoa(u))
	b.echo.Expect("unban", itoa(chat), itoa(u))
	if err := b.callPatient(ctx, "banChatMember", tgbotapi.Params{"chat_id": itoa(chat), "user_id": itoa(u)}, nil); err != nil {
		b.echo.Forget("ban", itoa(chat), itoa(u))
		b.echo.Forget("unban", itoa(chat), itoa(u))
		return actionErr("kick", err)
	}
	uerr := b.callPatient(ctx, "unbanChatMember", tgbotapi.Params{"chat_id": itoa(chat), "user_id": itoa(u), "only_if_banned": "true"}, nil)
	e := b.actionEvent(property, audit.UserRemove, "banChatMember", c)
	b.target(e, chat, u)
	e.Params.Set(audit.ParamRemoval, audit.RemovalKicked)
	if uerr != nil {
		// The member was removed but stays banned: say so.
		b.echo.Forget("unban", itoa(chat), itoa(u))
		e.Params.Set(audit.ParamOutcome, "BANNED_NOT_LIFTED")
	}
	if err := b.record(ctx, e); err != nil {
		return err
	}
	if uerr != nil {
		return actionErr("kick (lift the ban)", uerr)
	}
	return nil
}

// Ban implements platform.Actions. A negative id is a chat that posted on its
// own behalf (sender_chat): it is banned with banChatSenderChat.
func (b *Bot) Ban(ctx context.Context, property, user string, c platform.Cause) error {
	chat, u, err := ids(property, user)
	if err != nil {
		return err
	}
	method, params := "banChatMember", tgbotapi.Params{"chat_id": itoa(chat), "user_id": itoa(u)}
	if u < 0 {
		method, params = "banChatSenderChat", tgbotapi.Params{"chat_id": itoa(chat), "sender_chat_id": itoa(u)}
	} else {
		b.echo.Expect("ban", itoa(chat), itoa(u))
	}
	if err := b.callPatient(ctx, method, params, nil); err != nil {
		b.echo.Forget("ban", itoa(chat), itoa(u))
		return actionErr("ban", err)
	}
	e := b.actionEvent(property, audit.UserBan, method, c)
	b.target(e, chat, u)
	return b.record(ctx, e)
}

// Unban implements platform.Actions (unbanChatSenderChat for a chat).
func (b *Bot) Unban(ctx context.Context, property, user string, c platform.Cause) error {
	chat, u, err := ids(property, user)
	if err != nil {
		return err
	}
	method, params := "unbanChatMember", tgbotapi.Params{"chat_id": itoa(chat), "user_id": itoa(u), "only_if_banned": "true"}
	if u < 0 {
		method, params = "unbanChatSenderChat", tgbotapi.Params{"chat_id": itoa(chat), "sender_chat_id": itoa(u)}
	} else {
		b.echo.Expect("unban", itoa(chat), itoa(u))
	}
	if err := b.callPatient(ctx, method, params, nil); err != nil {
		b.echo.Forget("unban", itoa(chat), itoa(u))
		return actionErr("unban", err)
	}
	e := b.actionEvent(property, audit.UserBanRemove, method, c)
	b.target(e, chat, u)
	return b.record(ctx, e)
}

// AddRole implements platform.Actions: Telegram has no roles.
func (b *Bot) AddRole(ctx context.Context, property, user, role string, c platform.Cause) error {
	return fmt.Errorf("telegram: roles: %w", platform.ErrUnsupported)
}

// RemoveRole implements platform.Actions: Telegram has no roles.
func (b *Bot) RemoveRole(ctx context.Context, property, user, role string, c platform.Cause) error {
	return fmt.Errorf("telegram: roles: %w", platform.ErrUnsupported)
}

// Send implements platform.Actions: the text (escaped, shown as typed) with
// inline buttons, in the chat or, when channel is a topic's thread id, in
// that forum topic. Only Message.Mention may be notified: a link to them
// opens the message.
func (b *Bot) Send(ctx context.Context, property, channel string, m platform.Message) (string, error) {
	chat, err := parseChat(property)
	if err != nil {
		return "", err
	}
	text := esc(cutUTF16(m.Text, maxText-10))
	if isUserID(m.Mention) {
		text = `<a href="tg://user?id=` + m.Mention + `">👋</a> ` + text
	}
	params := tgbotapi.Params{"chat_id": itoa(chat), "text": text, "parse_mode": tgbotapi.ModeHTML,
		"link_preview_options": `{"is_disabled":true}`, "disable_web_page_preview": "true"}
	if n, err := strconv.Atoi(channel); err == nil && n > 0 {
		params["message_thread_id"] = channel // a forum topic; the chat's own id means the chat
	}
	if _, err := strconv.Atoi(m.ReplyTo); err == nil {
		params["reply_parameters"] = jsonParam(map[string]any{"message_id": mustAtoi(m.ReplyTo), "allow_sending_without_reply": true})
	}
	if kb := keyboard(m.Buttons); kb != nil {
		params["reply_markup"] = jsonParam(kb)
	}
	var sent tgbotapi.Message
	if err := b.callPatient(ctx, "sendMessage", params, &sent); err != nil {
		return "", actionErr("send message", err)
	}
	return strconv.Itoa(sent.MessageID), nil
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// EditMessage replaces the text and buttons of a message the bot sent (a
// verification challenge, for example).
func (b *Bot) EditMessage(ctx context.Context, property, message string, m platform.Message) error {
	chat, err := parseChat(property)
	if err != nil {
		return err
	}
	id, err := strconv.Atoi(message)
	if err != nil {
		return fmt.Errorf("telegram: message %q: %w", message, platform.ErrNotFound)
	}
	if err := b.editMessage(chat, id, esc(cutUTF16(m.Text, maxText-10)), keyboard(m.Buttons)); err != nil {
		return actionErr("edit message", err)
	}
	return nil
}
