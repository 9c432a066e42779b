package telegram

import (
	"context"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/verification"
)

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
	case "viewer":
		t.after(func() { b.viewer(m, args) })
	case "start", "help":
		t.after(func() {
			b.answer(m, "chatwarden keeps the audit log of the groups it moderates. Group admins use its commands "+
				"in the group. Here you can manage a group's HTTP API tokens: "+apitokenUsage, nil)
		})
	}
}
