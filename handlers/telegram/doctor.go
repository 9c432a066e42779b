package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/doctor"
	"github.com/chatwarden/chatwarden/settings"
)

// DoctorOptions configure Doctor.
type DoctorOptions struct {
	Token      string
	APIURL     string       // default https://api.telegram.org
	HTTPClient *http.Client // default a client with a 20s timeout
	// Chats are the groups to check (the store's Telegram properties, or
	// the one group of /doctor).
	Chats []string
	// Settings reads a group's settings (its log chats); nil when they
	// cannot be read (the database is held by the running bot).
	Settings func(ctx context.Context, chat string) (settings.Community, error)
	// Logger gets tgbotapi's own messages, with the token redacted.
	Logger zerolog.Logger
}

// Doctor asks the Bot API with the token what chatwarden needs: the
// token (getMe), privacy mode off (can_read_all_group_messages), and in
// each group the bot's administrator rights and the right to post in each
// log chat. It returns the platform's section first, then one per group;
// what cannot be checked is reported as a failed check.
func Doctor(ctx context.Context, o DoctorOptions) []doctor.Section {
	sec := doctor.Section{Platform: "telegram"}
	if o.APIURL == "" {
		o.APIURL = "https://api.telegram.org"
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 20 * time.Second}
	}
	registerToken(o.Token, o.Logger)
	api, err := tgbotapi.NewBotAPIWithClient(o.Token, strings.TrimSuffix(o.APIURL, "/")+"/bot%s/%s", &ctxClient{c: hc, ctx: ctx})
	if err != nil {
		if te := apiError(err); te != nil && (te.Code == http.StatusUnauthorized || te.Code == http.StatusNotFound) {
			sec.Fail("token valid", "getMe answered "+te.Message,
				"Copy the token @BotFather gives (/token) into telegram.token (or CHATWARDEN_TELEGRAM_TOKEN).")
		} else {
			sec.Fail("token valid", "the Bot API could not be asked", "Check the network connection to Telegram and telegram.api_url, then run the doctor again.")
		}
		return []doctor.Section{sec}
	}
	sec.Pass("token valid", "@"+api.Self.UserName)
	sec.Check(api.Self.CanReadAllGroupMessages, "privacy mode off", "",
		"Send /setprivacy to @BotFather, choose the bot and Disable, then remove the bot from each group and add it again.")
	out := []doctor.Section{sec}
	b := &doctorBot{api: api, self: api.Self.ID}
	for _, chat := range o.Chats {
		out = append(out, b.chat(ctx, chat, o.Settings))
	}
	return out
}

type doctorBot struct {
	api  *tgbotapi.BotAPI
	self int64
}

// member is the bot's membership in a chat, as getChatMember says.
func (b *doctorBot) member(chat string) (*tgbotapi.ChatMember, error) {
	resp, err := b.api.MakeRequest("getChatMember", tgbotapi.Params{"chat_id": chat, "user_id": strconv.FormatInt(b.self, 10)})
	if err != nil {
		return nil, redact(err)
	}
	var m tgbotapi.ChatMember
	if err := json.Unmarshal(resp.Result, &m); err != nil {
		return nil, fmt.Errorf("decode getChatMember: %w", err)
	}
	return &m, nil
}

func (b *doctorBot) chatInfo(chat string) (*tgbotapi.Chat, error) {
	resp, err := b.api.MakeRequest("getChat", tgbotapi.Params{"chat_id": chat})
	if err != nil {
		return nil, redact(err)
	}
	var c tgbotapi.Chat
	if err := json.Unmarshal(resp.Result, &c); err != nil {
		return nil, fmt.Errorf("decode getChat: %w", err)
	}
	return &c, nil
}

// reason is a Bot API failure as a short phrase.
func reason(err error) string {
	if te := apiError(err); te != nil {
		return "Telegram answered " + te.Message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "Telegram did not answer in time"
	}
	return "Telegram could not be reached"
}

func (b *doctorBot) chat(ctx context.Context, id string, read func(context.Context, string) (settings.Community, error)) doctor.Section {
	sec := doctor.Section{Platform: "telegram", Community: id}
	c, err := b.chatInfo(id)
	if err != nil {
		sec.Fail("group reachable", reason(err), "Add the bot to the group again and make it an administrator.")
		return sec
	}
	sec.Name = c.Title
	m, err := b.member(id)
	switch {
	case err != nil:
		sec.Fail("bot is an administrator", reason(err), "Make the bot an administrator of the group.")
	case m.Status == "creator" || m.Status == "administrator":
		sec.Pass("bot is an administrator", "")
		sec.Check(m.Status == "creator" || m.CanDeleteMessages, "right to delete messages", "",
			"In the group's administrators, give the bot the Delete messages right.")
		sec.Check(m.Status == "creator" || m.CanRestrictMembers, "right to ban and restrict members", "",
			"In the group's administrators, give the bot the Ban users right.")
	default:
		sec.Fail("bot is an administrator", "the bot is "+statusPhrase(m.Status),
			"Make the bot an administrator with the Delete messages and Ban users rights: without it Telegram sends no joins or leaves.")
	}
	if read == nil {
		sec.Warn("settings read", "the database is held by the running bot",
			"Send /doctor in the group for its log chats, or stop the bot.")
		return sec
	}
	set, err := read(ctx, id)
	if err != nil {
		sec.Fail("settings read", err.Error(), "Check storage.path in the config file.")
		return sec
	}
	if len(set.LogChannels) == 0 {
		sec.Warn("log chat set", "no log chat", "Link a log chat with /setlog <chat id> in the group.")
	}
	for _, lc := range set.LogChannels {
		name := "log chat " + lc.ID
		if lc.ID == id {
			name = "log chat (this group)"
		} else if lc2, err := b.chatInfo(lc.ID); err == nil && lc2.Title != "" {
			name = "log chat " + lc2.Title
		}
		lm, err := b.member(lc.ID)
		switch {
		case err != nil:
			sec.Fail(name+": may post", reason(err), "Add the bot to the log chat and let it post there.")
		case canPost(lm):
			sec.Pass(name+": may post", "")
		default:
			sec.Fail(name+": may post", "the bot is "+statusPhrase(lm.Status),
				"Let the bot post in the log chat (in a channel, make it an administrator with the Post messages right).")
		}
		if lc.Paused != "" {
			sec.Fail(name+": delivering", "paused: "+lc.Paused,
				"Let the bot post there again, then send /setlog "+lc.ID+" in the group to resume delivery (entries wait in the outbox).")
		} else {
			sec.Pass(name+": delivering", "")
		}
	}
	return sec
}

// canPost reports whether a member may send messages: a channel needs an
// administrator with can_post_messages, a group any member not
// restricted from sending.
func canPost(m *tgbotapi.ChatMember) bool {
	switch m.Status {
	case "creator":
		return true
	case "administrator":
		return m.CanPostMessages || m.CanDeleteMessages || m.CanRestrictMembers || m.CanManageChat
	case "member":
		return true
	case "restricted":
		return m.CanSendMessages
	}
	return false
}

func statusPhrase(status string) string {
	switch status {
	case "member":
		return "a plain member"
	case "restricted":
		return "restricted"
	case "left", "":
		return "not in the chat"
	case "kicked":
		return "banned from the chat"
	}
	return status
}

// doctorCommand serves /doctor: the doctor's checks for this group only,
// answered in the group once the Bot API calls are done.
func (b *Bot) doctorCommand(m *tgbotapi.Message) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(b.life, time.Minute)
		defer cancel()
		sections := Doctor(ctx, DoctorOptions{Token: b.opts.Token, APIURL: b.opts.APIURL, HTTPClient: b.opts.HTTPClient,
			Chats: []string{chatID(m.Chat)}, Logger: b.log,
			Settings: func(ctx context.Context, chat string) (settings.Community, error) {
				return b.opts.Store.Settings(ctx, audit.Telegram, chat)
			}})
		b.answer(m, RenderDoctor(sections), nil)
	}()
}

// RenderDoctor writes sections as a Telegram HTML message: a line per
// check, the fixes of those that fail, and a closing verdict.
func RenderDoctor(sections []doctor.Section) string {
	var r doctor.Report
	r.Add(sections...)
	var sb strings.Builder
	for _, s := range r.Sections {
		sb.WriteString("<b>" + esc(s.Title()) + "</b>\n")
		for _, c := range s.Checks {
			sb.WriteString(esc(c.Line()) + "\n")
		}
	}
	if r.OK {
		sb.WriteString("Everything chatwarden needs is in place.")
	} else {
		sb.WriteString("Fix the ✗ lines above, then send /doctor again.")
	}
	return audit.Cut(sb.String(), 4000)
}
