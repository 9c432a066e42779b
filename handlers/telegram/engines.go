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
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/verification"
)

// The engines' view of Telegram. The Bot is their platform.Actions; directory
// tells them who the bot is, who the staff of a group are and which names a
// member showed.
type directory struct{ b *Bot }

var (
	_ moderation.Directory           = directory{}
	_ moderation.NameLister          = directory{}
	_ verification.Directory         = directory{}
	_ verification.JoinMessageFinder = directory{}
)

// nsJoinMsg remembers the join service message of each member (chat/user
// -> message id) while verification is on, so that a failed newcomer's
// "X joined" message can be deleted even when the join was recorded from
// chat_member.
const nsJoinMsg = "telegram/joinmsg"

func (d directory) Self() (id, name string) { return d.b.Self() }

func (d directory) IsAdmin(ctx context.Context, property, user string) (bool, error) {
	return d.b.IsAdmin(ctx, property, user)
}

// Staff adapts Bot.Staff to the moderation engine's members.
func (d directory) Staff(ctx context.Context, property string) ([]moderation.Member, error) {
	staff, err := d.b.Staff(ctx, property)
	if err != nil {
		return nil, fmt.Errorf("telegram staff of %s: %w", property, err)
	}
	out := make([]moderation.Member, len(staff))
	for i, m := range staff {
		out[i] = moderation.Member{ID: m.ID, Names: m.Names}
	}
	return out, nil
}

func (d directory) MemberNames(ctx context.Context, property, user string) ([]string, error) {
	return d.b.MemberNames(ctx, property, user)
}

// JoinMessage returns the join service message of a member, if seen.
func (d directory) JoinMessage(ctx context.Context, property, user string) (string, bool) {
	chat, u, err := ids(property, user)
	if err != nil {
		return "", false
	}
	v, err := d.b.opts.Store.GetKV(nsJoinMsg, []byte(profileKey(chat, u)))
	if err != nil || len(v) == 0 {
		return "", false
	}
	return string(v), true
}

// verifyPrefix starts every verification button's data (see
// verification.IsButton, which decides).
const verifyPrefix = "v"

// attachEngines registers the Bot with the engines it was given: their
// actions and directory, and the verification buttons.
func (b *Bot) attachEngines() {
	dir := directory{b}
	if b.opts.Moderation != nil {
		b.opts.Moderation.Attach(b, dir)
	}
	if b.opts.Verification != nil {
		b.HandleButtons(verifyPrefix, b.onVerifyPress)
		b.opts.Verification.Attach(b, dir)
	}
}

// onVerifyPress hands a verification button to the engine, which checks
// that the presser is the member challenged, and renders its reply: an
// update replaces the challenge (a new question), anything else answers
// the press.
func (b *Bot) onVerifyPress(ctx context.Context, p Press) Answer {
	if b.opts.Verification == nil || !verification.IsButton(p.Data) {
		return Answer{Text: "This button no longer works."}
	}
	r, err := b.opts.Verification.OnPress(ctx, b.current(p.Property), p.User, p.Data)
	if err != nil {
		b.log.Error().Err(err).Str("chat", p.Property).Str("user", p.User).Msg("verification press")
	}
	if r.Text == "" && !r.Update {
		r.Text = "Something went wrong; please try again in a moment."
	}
	return Answer{Text: r.Text, Buttons: r.Buttons, Edit: r.Update}
}

// forgetStaff makes the moderation engine ask again for a group's staff
// (an admin was promoted, demoted or renamed).
func (b *Bot) forgetStaff(chat string) {
	if b.opts.Moderation != nil {
		b.opts.Moderation.ForgetStaff(audit.Telegram, chat)
	}
}

// staffChanged reports whether a chat_member update changes who is staff
// or what rights they have.
func staffChanged(oldM, newM tgbotapi.ChatMember) bool {
	if !isAdminMember(oldM) && !isAdminMember(newM) {
		return false
	}
	return oldM.Status != newM.Status || rights(oldM) != rights(newM) ||
		(oldM.User != nil && newM.User != nil && profileOf(oldM.User) != profileOf(newM.User))
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

// privateMessage serves the commands of a private chat with the bot:
// /apitoken, and /start or /help explaining it.
func (b *Bot) privateMessage(t *batch, m *tgbotapi.Message, ext *messageExt) {
	text := m.Text
	name, args, ok := b.parseCommand(text)
	if !ok || m.From == nil || m.From.IsBot {
		return
	}
	if from, _ := forwardedFrom(m, ext); from != 0 || m.ForwardFrom != nil {
		return
	}
	switch name {
	case "apitoken":
		t.after(func() { b.apitoken(m, args) })
	case "start", "help":
		t.after(func() {
			b.answer(m, "chatwarden keeps the audit log of the groups it moderates. Group admins use its commands "+
				"in the group. Here you can manage a group's HTTP API tokens: "+apitokenUsage, nil)
		})
	}
}

const apitokenUsage = "<code>/apitoken create &lt;chat id&gt; [label]</code>, <code>/apitoken list &lt;chat id&gt;</code> " +
	"or <code>/apitoken revoke &lt;chat id&gt; &lt;token id&gt;</code>."

// freshMember asks Telegram for user's status in chat, whatever is
// cached: it guards secrets.
func (b *Bot) freshMember(chat, user int64) (tgbotapi.ChatMember, error) {
	var m tgbotapi.ChatMember
	err := b.call("getChatMember", tgbotapi.Params{"chat_id": itoa(chat), "user_id": itoa(user)}, &m)
	if err != nil {
		return m, actionErr("getChatMember", err)
	}
	if m.User == nil {
		m.User = &tgbotapi.User{ID: user}
	}
	b.admins.note(chat, m, time.Now())
	return m, nil
}

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
