package telegram

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/platform"
)

// Press is an inline button pressed in a group, for handlers registered
// with HandleButtons (the verification engine's buttons).
type Press struct {
	Property  string // the chat the button's message is in
	User      string // who pressed it
	UserName  string
	MessageID string
	Data      string
}

// Answer is the reply to a press. Text is shown to the presser (at most
// 200 characters); with Edit, the pressed message is replaced by Text and
// Buttons instead.
type Answer struct {
	Text    string
	Buttons []platform.Button
	Edit    bool
	Alert   bool
}

// HandleButtons routes presses of buttons whose data starts with prefix to
// fn. Every press is answered, whatever fn does; fn runs on the update
// loop and should be quick.
func (b *Bot) HandleButtons(prefix string, fn func(ctx context.Context, p Press) Answer) {
	b.buttonsMu.Lock()
	b.buttons[prefix] = fn
	b.buttonsMu.Unlock()
}

// Button data chatwarden's own buttons carry.
const (
	pagePrefix     = "cw:p:" // cw:p:<page id>:<generation><cursor>
	doneData       = "cw:done"
	reversalPrefix = "cw:r:" // cw:r:<action>:<property>:<user>:<mac>
)

// onCallback serves a pressed button; every callback query is answered.
func (b *Bot) onCallback(q *tgbotapi.CallbackQuery) {
	ans := b.press(q)
	params := tgbotapi.Params{"callback_query_id": q.ID}
	params.AddNonEmpty("text", cutUTF16(ans.Text, 200))
	params.AddBool("show_alert", ans.Alert)
	if err := b.call("answerCallbackQuery", params, nil); err != nil {
		b.log.Warn().Err(err).Msg("answerCallbackQuery")
	}
}

func (b *Bot) press(q *tgbotapi.CallbackQuery) Answer {
	if q.From == nil || q.Message == nil || q.Message.Chat == nil {
		return Answer{Text: "This button no longer works."}
	}
	switch {
	case strings.HasPrefix(q.Data, pagePrefix):
		return b.onPage(q)
	case strings.HasPrefix(q.Data, reversalPrefix):
		return b.onReversal(q)
	case strings.HasPrefix(q.Data, raidPrefix):
		return b.onRaidPress(q)
	case q.Data == doneData:
		return Answer{Text: "Already done."}
	}
	b.buttonsMu.RLock()
	var fn func(context.Context, Press) Answer
	for prefix, h := range b.buttons {
		if strings.HasPrefix(q.Data, prefix) {
			fn = h
			break
		}
	}
	b.buttonsMu.RUnlock()
	if fn == nil {
		return Answer{Text: "This button no longer works."}
	}
	ans := fn(b.life, Press{Property: chatID(q.Message.Chat), User: userID(q.From), UserName: userName(q.From),
		MessageID: strconv.Itoa(q.Message.MessageID), Data: q.Data})
	if ans.Edit {
		if err := b.editMessage(q.Message.Chat.ID, q.Message.MessageID, esc(ans.Text), keyboard(ans.Buttons)); err != nil {
			b.log.Warn().Err(err).Msg("edit pressed message")
		}
		return Answer{}
	}
	return ans
}

// editMessage replaces a message's HTML text and buttons.
func (b *Bot) editMessage(chat int64, id int, html string, kb *tgbotapi.InlineKeyboardMarkup) error {
	edit := tgbotapi.NewEditMessageText(chat, id, html)
	edit.ParseMode = tgbotapi.ModeHTML
	edit.DisableWebPagePreview = true
	edit.ReplyMarkup = kb
	_, err := b.api.Request(edit)
	if te := apiError(err); te != nil && strings.Contains(te.Message, "message is not modified") {
		return nil
	}
	return redact(err)
}

// keyboard lays buttons out eight to a row, Telegram's limit.
func keyboard(buttons []platform.Button) *tgbotapi.InlineKeyboardMarkup {
	if len(buttons) == 0 {
		return nil
	}
	var rows [][]tgbotapi.InlineKeyboardButton
	for i := 0; i < len(buttons); i += 8 {
		var row []tgbotapi.InlineKeyboardButton
		for _, bt := range buttons[i:min(i+8, len(buttons))] {
			row = append(row, tgbotapi.NewInlineKeyboardButtonData(logentry.OneLine(bt.Label, 60), bt.Data))
		}
		rows = append(rows, row)
	}
	kb := tgbotapi.NewInlineKeyboardMarkup(rows...)
	return &kb
}

// One-tap reversal buttons on log entries. The data names the action,
// the group and the member, signed with a key only the bot holds, so a
// button cannot be made for another group or member; the presser must be
// an admin of that group (not of the log chat) who may restrict members.
type reversal struct {
	code, label string
	do          func(b *Bot, ctx context.Context, property, user string, c platform.Cause) error
	done        string
}

// memberTimeout is how long the Time out button restricts a member.
const memberTimeout = 24 * time.Hour

var reversals = map[string]reversal{
	"u": {"u", "Unban", func(b *Bot, ctx context.Context, p, u string, c platform.Cause) error { return b.Unban(ctx, p, u, c) }, "Unbanned"},
	"m": {"m", "Unmute", func(b *Bot, ctx context.Context, p, u string, c platform.Cause) error {
		return b.RemoveTimeout(ctx, p, u, c)
	}, "Restrictions lifted"},
	"b": {"b", "Ban", func(b *Bot, ctx context.Context, p, u string, c platform.Cause) error { return b.Ban(ctx, p, u, c) }, "Banned"},
	"k": {"k", "Kick", func(b *Bot, ctx context.Context, p, u string, c platform.Cause) error { return b.Kick(ctx, p, u, c) }, "Kicked"},
	"t": {"t", "Time out", func(b *Bot, ctx context.Context, p, u string, c platform.Cause) error {
		return b.Timeout(ctx, p, u, b.opts.Now().Add(memberTimeout), c)
	}, "Timed out for a day"},
	// An unapproved bot is removed (kicked), not banned like a member.
	"r": {"r", "Remove", func(b *Bot, ctx context.Context, p, u string, c platform.Cause) error { return b.Kick(ctx, p, u, c) }, "Removed"},
}

// reversalsFor lists the buttons an entry carries: only actions that can
// apply to its target, and not the one already done.
func reversalsFor(e *audit.Event) []string {
	target := e.Target()
	if _, err := strconv.ParseInt(target, 10, 64); err != nil || target == e.PropertyID {
		return nil
	}
	switch e.Type {
	case audit.UserBan:
		return []string{"u"}
	case audit.UserUpdate:
		if e.Params[audit.ParamField] == "status" && strings.HasPrefix(e.Params[audit.ParamNewValue], "restricted") {
			return []string{"m"}
		}
	case audit.SecurityEvent:
		switch e.Params[audit.ParamKind] {
		case audit.KindBotRightsLost, audit.KindJoinRaid:
			return nil // a raid's entry has its own buttons (raid.go)
		case audit.KindUnauthorizedIntegration:
			// Telegram reports bots only; a bot already kicked needs
			// nothing.
			if e.Params["integration"] == "BOT" && !done(e, "KICK") { // moderation.ParamIntegration, IntegrationBot
				return []string{"r"}
			}
			return nil
		}
		return memberButtons(e)
	case audit.VerificationFailure:
		return memberButtons(e)
	}
	return nil
}

// done reports whether an engine's record says it did action.
func done(e *audit.Event, action string) bool {
	return e.Params[audit.ParamAction] == action && e.Params[audit.ParamOutcome] == "DONE"
}

// memberButtons are a member alert's buttons, after what the engine did:
// Kick, Ban and Time out; Unban after a ban; Ban after a kick; Unmute,
// Kick and Ban after a quarantine.
func memberButtons(e *audit.Event) []string {
	if strings.HasPrefix(e.Target(), "-") {
		return []string{"b"} // a chat (sender_chat) can only be banned
	}
	switch {
	case done(e, "BAN"):
		return []string{"u"}
	case done(e, "KICK"):
		return []string{"b"}
	case done(e, "QUARANTINE"):
		return []string{"m", "k", "b"}
	}
	return []string{"k", "b", "t"}
}

func (b *Bot) reversalButtons(e *audit.Event) []tgbotapi.InlineKeyboardButton {
	var row []tgbotapi.InlineKeyboardButton
	for _, code := range reversalsFor(e) {
		data := b.reversalData(code, e.PropertyID, e.Target())
		row = append(row, tgbotapi.NewInlineKeyboardButtonData(reversals[code].label, data))
	}
	return row
}

func (b *Bot) mac(parts ...string) string {
	m := hmac.New(sha256.New, b.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:8])
}

// reversalData is at most 5+1+1+20+1+20+1+11 = 60 bytes, under
// Telegram's 64.
func (b *Bot) reversalData(code, property, user string) string {
	return reversalPrefix + code + ":" + property + ":" + user + ":" + b.mac("r", code, property, user)
}

// pressedByBanner checks that the presser of a log entry's button may ban
// members in the group the entry is about, and returns the group's chat,
// or the answer that refuses the press.
func (b *Bot) pressedByBanner(q *tgbotapi.CallbackQuery, property string) (int64, *Answer) {
	chat, err := parseChat(b.current(property))
	if err != nil {
		return 0, &Answer{Text: "This button is not valid."}
	}
	m, err := b.member(chat, q.From.ID)
	if err != nil {
		return 0, &Answer{Text: "Your rights in the group could not be checked; try again.", Alert: true}
	}
	if !canRestrict(m) {
		return 0, &Answer{Text: "Only admins of the group who may ban members can use this.", Alert: true}
	}
	return chat, nil
}

func (b *Bot) onReversal(q *tgbotapi.CallbackQuery) Answer {
	parts := strings.Split(strings.TrimPrefix(q.Data, reversalPrefix), ":")
	if len(parts) != 4 {
		return Answer{Text: "This button is not valid."}
	}
	code, property, user, sig := parts[0], parts[1], parts[2], parts[3]
	r, ok := reversals[code]
	if !ok || !hmac.Equal([]byte(sig), []byte(b.mac("r", code, property, user))) {
		return Answer{Text: "This button is not valid.", Alert: true}
	}
	chat, refused := b.pressedByBanner(q, property)
	if refused != nil {
		return *refused
	}
	cause := platform.Cause{Function: audit.FuncCommand, Reason: "log entry button",
		ActorID: userID(q.From), ActorName: userName(q.From)}
	if err := r.do(b, b.life, itoa(chat), user, cause); err != nil {
		msg := "That did not work; try again."
		switch {
		case errors.Is(err, platform.ErrForbidden):
			msg = "chatwarden lacks the rights for this in the group (it must be an admin that can ban members)."
		case errors.Is(err, platform.ErrNotFound):
			msg = "Telegram does not know that member any more."
		}
		b.log.Warn().Err(err).Str("action", r.label).Msg("reversal button")
		return Answer{Text: msg, Alert: true}
	}
	// The entry keeps its text; its buttons go, with who pressed them.
	kb := tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("✓ "+r.done+" by "+logentry.OneLine(userName(q.From), 30), doneData)))
	edit := tgbotapi.NewEditMessageReplyMarkup(q.Message.Chat.ID, q.Message.MessageID, kb)
	if _, err := b.api.Request(edit); err != nil {
		b.log.Debug().Err(redact(err)).Msg("mark reversal done")
	}
	return Answer{Text: r.done + "."}
}
