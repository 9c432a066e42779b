package telegram

import (
	"context"
	"errors"
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/bot"
)

// maxText is Telegram's limit on a message's text, in UTF-16 code units
// after entity parsing; entries are kept below it with room for markup.
const maxText = 4096

var _ bot.Poster = (*Bot)(nil)

// Post implements bot.Poster: as many entries as fit one HTML message,
// every user-supplied string escaped, users shown as tg://user links,
// content quoted and cut with a marker, previews and notifications off.
func (b *Bot) Post(ctx context.Context, target string, evs []*bot.Event) (int, error) {
	chat, err := strconv.ParseInt(target, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("telegram: log chat %q: %w", target, bot.ErrNotFound)
	}
	var parts []string
	size := 0
	for _, e := range evs {
		entry := b.entryHTML(e, maxText-size-2)
		n := visibleLen(entry)
		if len(parts) > 0 && size+n+2 > maxText {
			break
		}
		parts = append(parts, entry)
		size += n + 2
	}
	msg := tgbotapi.NewMessage(chat, strings.Join(parts, "\n\n"))
	msg.ParseMode = tgbotapi.ModeHTML
	msg.DisableWebPagePreview = true
	msg.DisableNotification = true
	if _, err := b.api.Request(msg); err != nil {
		return 0, sendErr(err)
	}
	return len(parts), nil
}

// sendErr maps the Bot API's errors onto the deliverer's.
func sendErr(err error) error {
	var te *tgbotapi.Error
	if errors.As(err, &te) {
		switch {
		case te.RetryAfter > 0:
			return &bot.RetryAfterError{Wait: time.Duration(te.RetryAfter) * time.Second, Err: err}
		case te.Code == 403:
			return fmt.Errorf("telegram: %w: %v", bot.ErrForbidden, err)
		case strings.Contains(te.Message, "chat not found"):
			return fmt.Errorf("telegram: %w: %v", bot.ErrNotFound, err)
		}
	}
	return fmt.Errorf("telegram: send log entry: %w", err)
}

// entryHTML renders one record within budget visible characters.
func (b *Bot) entryHTML(e *bot.Event, budget int) string {
	locale := "en"
	if b.opts.Router != nil {
		locale = b.opts.Router.Locale(e.Platform, e.PropertyID)
	}
	en := bot.Render(e, locale)
	var sb strings.Builder
	fmt.Fprintf(&sb, "<b>%s</b>\n%s", esc(cutUTF16(en.Title, 200)), esc(cutUTF16(en.Summary, 600)))
	if e.ActorID != "" {
		fmt.Fprintf(&sb, "\n%s", userLink(e.ActorID, e.ActorName))
	}
	// Render does not cut: keep each detail short so that one entry, its
	// fields included, always fits a message.
	for _, f := range en.Fields {
		if f.Key == bot.FieldActor { // shown above as a link
			continue
		}
		fmt.Fprintf(&sb, "\n<i>%s:</i> %s", esc(cutUTF16(f.Label, 100)), esc(cutUTF16(f.Value, 300)))
	}
	fmt.Fprintf(&sb, "\n<code>%s</code>", esc(en.Footer))
	head := sb.String()
	if visibleLen(head) > maxText-100 { // very many fields: drop the tail
		head = head[:strings.LastIndex(head[:len(head)*(maxText-100)/visibleLen(head)], "\n")]
		head += "\n" + esc(bot.CutMarker)
	}
	if en.Content == "" {
		return head
	}
	room := budget - visibleLen(head) - 2
	if room < 40 {
		room = 40
	}
	return head + "\n<blockquote>" + esc(cutUTF16(en.Content, room)) + "</blockquote>"
}

// userLink shows a user as a tg://user link; numeric ids only, so a
// hostile id cannot smuggle markup into the href.
func userLink(id, name string) string {
	if name == "" {
		name = id
	}
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		return esc(bot.OneLine(name, 100))
	}
	return fmt.Sprintf(`<a href="tg://user?id=%s">%s</a>`, id, esc(bot.OneLine(name, 100)))
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
	keep := max - len(utf16.Encode([]rune(bot.CutMarker)))
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
	return string(out) + bot.CutMarker
}

// startDelivery runs the log deliverer for Telegram log chats.
func (b *Bot) startDelivery(ctx context.Context) func() {
	if b.opts.Router == nil {
		return func() {}
	}
	d := bot.NewDeliverer(bot.DelivererOptions{Sink: bot.Telegram.String(), Outbox: b.opts.Store, Poster: b,
		MinInterval: b.opts.LogInterval, Logger: b.log})
	b.opts.Recorder.Subscribe(func([]*bot.Event) { d.Wake() })
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	return func() { <-done }
}
