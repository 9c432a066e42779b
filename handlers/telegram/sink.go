package telegram

import (
	"context"
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/settings"
)

// maxText is Telegram's limit on a message's text, in UTF-16 code units
// after entity parsing.
const maxText = 4096

var _ logchannel.Poster = (*Bot)(nil)

// Post implements logchannel.Poster: as many entries as fit one HTML message,
// every user-supplied string escaped, users shown as tg://user links,
// content quoted and cut with a marker, previews off and sent silently.
// An entry with reversal buttons (Unban, Unmute, Ban) is a message of its
// own so that its buttons are unambiguous.
func (b *Bot) Post(ctx context.Context, target string, evs []*audit.Event) (int, error) {
	chat, err := parseChat(b.current(target))
	if err != nil {
		return 0, err
	}
	var parts []string
	var keyboard [][]tgbotapi.InlineKeyboardButton
	size := 0
	for _, e := range evs {
		// A raid's records are one entry, edited in place.
		if raid := raidOf(e); raid != "" {
			if len(parts) > 0 {
				break
			}
			return b.postRaid(chat, target, e, raid)
		}
		buttons := b.reversalButtons(e)
		if len(parts) > 0 && buttons != nil {
			break
		}
		entry := b.entryHTML(e, maxText-size)
		n := visibleLen(entry)
		if len(parts) > 0 && size+n+2 > maxText {
			break
		}
		parts = append(parts, entry)
		size += n + 2
		if buttons != nil {
			keyboard = [][]tgbotapi.InlineKeyboardButton{buttons}
			break
		}
	}
	text := strings.Join(parts, "\n\n")
	err = b.sendHTML(chat, text, keyboard)
	if te := apiError(err); te != nil && te.MigrateToChatID != 0 {
		// The log chat became a supergroup: follow it, and post there.
		b.moveSettings(target, itoa(te.MigrateToChatID))
		_ = b.opts.Store.Put(nsMigrated, []byte(itoa(chat)), []byte(itoa(te.MigrateToChatID)))
		_ = b.opts.Store.Put(nsAlias, []byte(itoa(te.MigrateToChatID)), []byte(itoa(chat)))
		err = b.sendHTML(te.MigrateToChatID, text, keyboard)
	}
	if err != nil {
		return 0, sendErr(err)
	}
	return len(parts), nil
}

func (b *Bot) sendHTML(chat int64, text string, keyboard [][]tgbotapi.InlineKeyboardButton) error {
	b.globalPace()
	msg := tgbotapi.NewMessage(chat, text)
	msg.ParseMode = tgbotapi.ModeHTML
	msg.DisableWebPagePreview = true
	msg.DisableNotification = true
	if keyboard != nil {
		msg.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(keyboard...)
	}
	_, err := b.api.Request(msg)
	return redact(err)
}

// globalInterval keeps the bot under Telegram's global limit of about 30
// messages a second across all chats; the deliverer paces each chat.
const globalInterval = 35 * time.Millisecond

func (b *Bot) globalPace() {
	b.paceMu.Lock()
	wait := time.Until(b.paceNext)
	b.paceNext = time.Now().Add(max(wait, 0) + globalInterval)
	b.paceMu.Unlock()
	if wait > 0 {
		select {
		case <-time.After(wait):
		case <-b.life.Done():
		}
	}
}

// sendErr maps the Bot API's errors onto the deliverer's: retry_after is
// honoured; a chat the bot may no longer post to, or that is gone, pauses
// the log chat; everything else is retried with backoff.
func sendErr(err error) error {
	te := apiError(err)
	if te == nil {
		return fmt.Errorf("telegram: send log entry: %w", err)
	}
	msg := strings.ToLower(te.Message)
	switch {
	case te.RetryAfter > 0:
		return &logchannel.RetryAfterError{Wait: time.Duration(te.RetryAfter) * time.Second, Err: err}
	case te.Code == 403, strings.Contains(msg, "not enough rights"), strings.Contains(msg, "have no rights"),
		strings.Contains(msg, "need administrator rights"):
		return fmt.Errorf("telegram: %w: %s", platform.ErrForbidden, te.Message)
	case strings.Contains(msg, "chat not found"), strings.Contains(msg, "chat_id is empty"):
		return fmt.Errorf("telegram: %w: %s", platform.ErrNotFound, te.Message)
	}
	return fmt.Errorf("telegram: send log entry: %w", err)
}

// locale returns a property's locale.
func (b *Bot) locale(property string) string {
	if b.opts.Router != nil {
		return b.opts.Router.Locale(audit.Telegram, property)
	}
	return b.opts.DefaultLocale
}

// Field values are cut to this many characters in log entries.
const maxFieldValue = 300

// entryHTML renders one record within budget UTF-16 units.
func (b *Bot) entryHTML(e *audit.Event, budget int) string {
	en := logentry.Render(e, b.locale(e.PropertyID))
	// Render does not cut: every part is kept short so that one entry, its
	// fields included, always fits a message.
	head := []string{"<b>" + esc(cutUTF16(en.Title, 200)) + "</b>", esc(cutUTF16(en.Summary, 600))}
	if e.ActorID != "" {
		head = append(head, userLink(e.ActorID, e.ActorName))
	}
	var fields []string
	for _, f := range en.Fields {
		if f.Key == logentry.FieldActor {
			continue
		}
		v := esc(logentry.OneLine(f.Value, maxFieldValue))
		if f.Key == logentry.FieldTarget && isUserID(e.Target()) {
			v = userLink(e.Target(), e.Params[audit.ParamTargetName]) + " <code>" + esc(e.Target()) + "</code>"
		}
		fields = append(fields, "<i>"+esc(cutUTF16(f.Label, 100))+":</i> "+v)
	}
	footer := "<code>" + esc(en.Footer) + "</code>"
	// Fields go until the budget is spent; a note says when some did not
	// fit. They leave the content its least room (40 units) and the two
	// units room's arithmetic below keeps spare: with less, the room's
	// floor would push the entry over the budget.
	join := func(fs []string) string {
		return strings.Join(append(append(append([]string(nil), head...), fs...), footer), "\n")
	}
	out := join(fields)
	for len(fields) > 0 && visibleLen(out) > budget-42 {
		fields = fields[:len(fields)-1]
		out = join(append(fields, "<i>"+esc(audit.CutMarker)+"</i>"))
	}
	if en.Content == "" {
		return out
	}
	room := budget - visibleLen(out) - 2
	if room < 40 {
		room = 40
	}
	return out + "\n<blockquote>" + esc(cutUTF16(en.Content, room)) + "</blockquote>"
}

// isUserID reports whether id is a user's id as Telegram writes it: a
// positive decimal without sign or leading zeros ("+9" and "09" parse, but
// are not ids and must not reach an href).
func isUserID(id string) bool {
	n, err := strconv.ParseInt(id, 10, 64)
	return err == nil && n > 0 && strconv.FormatInt(n, 10) == id
}

// userLink shows a user as a tg://user link (numeric ids only, so a
// hostile id cannot smuggle markup into the href). Entries are sent
// silently; a channel (negative id) is shown as its name.
func userLink(id, name string) string {
	if name == "" {
		name = id
	}
	name = esc(logentry.OneLine(name, 100))
	if !isUserID(id) {
		return name
	}
	return fmt.Sprintf(`<a href="tg://user?id=%s">%s</a>`, id, name)
}

func esc(s string) string { return html.EscapeString(s) }

// visibleLen is the UTF-16 length of the text Telegram counts: markup
// tags do not count, entities count as one character.
func visibleLen(s string) int {
	n, inTag := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '<':
			inTag = true
		case c == '>' && inTag:
			inTag = false
		case inTag:
		case c == '&':
			if j := strings.IndexByte(s[i:], ';'); j > 0 && j < 10 {
				i += j
			}
			n++
		case c < 0x80 || c >= 0xC0:
			r := []rune(s[i:min(i+4, len(s))])[0]
			n += len(utf16.Encode([]rune{r}))
		}
	}
	return n
}

// cutUTF16 cuts s to at most max UTF-16 units with a marker.
func cutUTF16(s string, max int) string {
	if len(utf16.Encode([]rune(s))) <= max {
		return s
	}
	keep := max - len(utf16.Encode([]rune(audit.CutMarker)))
	var out []rune
	n := 0
	for _, r := range s {
		w := len(utf16.Encode([]rune{r}))
		if n+w > keep {
			break
		}
		out = append(out, r)
		n += w
	}
	return string(out) + audit.CutMarker
}

// startDelivery runs the log deliverer, keeping log chats saved as paused
// on hold until an admin sets them again.
func (b *Bot) startDelivery() {
	d := b.deliverer
	if d == nil {
		return
	}
	_ = b.opts.Store.EachSettings(b.life, func(p audit.Platform, property string, s settings.Community) error {
		for _, lc := range s.LogChannels {
			if p == audit.Telegram && lc.Paused != "" {
				d.Pause(lc.ID)
			}
		}
		return nil
	})
	b.opts.Recorder.Subscribe(func([]*audit.Event) { d.Wake() })
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		d.Run(b.life)
	}()
}

// pauseLogChat records in every group's settings why a log chat stopped
// receiving entries, so that /settings can say it.
func (b *Bot) pauseLogChat(chat string, cause error) {
	reason := audit.Cut(fmt.Sprintf("chatwarden cannot post there (%v); make it an admin that can post, then /setlog it again", cause), 300)
	var props []string
	_ = b.opts.Store.EachSettings(context.Background(), func(p audit.Platform, property string, s settings.Community) error {
		if p == audit.Telegram && s.LogChannel(chat) != nil {
			props = append(props, property)
		}
		return nil
	})
	for _, prop := range props {
		_, updated, err := b.opts.Store.UpdateSettings(context.Background(), audit.Telegram, prop, func(s *settings.Community) error {
			if lc := s.LogChannel(chat); lc != nil {
				lc.Paused, lc.PausedAt = reason, time.Now().UTC()
			}
			return nil
		})
		if err == nil {
			b.routerUpdate(prop, updated)
		}
	}
}
