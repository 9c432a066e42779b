package telegram

import (
	"context"
	"html"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/settings"
)

// renderingBot is a Bot that can only render log entries, with locales
// routed by property id.
func renderingBot() *Bot {
	router, _ := logchannel.NewRouter(context.Background(), nil, "en")
	for _, l := range logentry.Locales() {
		router.Update(audit.Telegram, l, settings.Community{Locale: l})
	}
	return &Bot{opts: Options{Router: router, DefaultLocale: "en"}}
}

// hostileRecord builds a record from fuzzed parts as the outbox hands it
// to the sink: normalized to the stored limits, valid UTF-8 (as every
// string decoded from the Bot API's JSON is).
//
// Long strings come from repeating short ones reps times (names and values
// then reach their stored limits, content its 16 KiB), so that the fuzzer
// works on small inputs and minimizes quickly.
func hostileRecord(typ uint8, locale, actor, actorID, target, targetID, key, val, content string, reps uint16) *audit.Event {
	v := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	long := func(s string) string {
		if n := int(reps%4096) + 1; len(s)*n <= 64<<10 {
			s = strings.Repeat(s, n)
		}
		return v(s)
	}
	e := &audit.Event{Platform: audit.Telegram, PropertyID: v(locale), Type: audit.EventType(typ), Function: audit.FuncGateway,
		ActorType: audit.ActorNonAdmin, ActorName: long(actor), ActorID: v(actorID), ChannelID: v(targetID),
		MessageID: v(targetID), Content: long(content), Time: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	e.ID = audit.MakeID(e.Time, 7)
	if targetID != "" {
		e.TargetIDs = []string{v(targetID), v(actorID)}
	}
	e.Params.Set(audit.ParamTargetName, long(target))
	e.Params.Set(audit.ParamChannelName, long(target))
	e.Params.Set(audit.ParamKind, long(val))
	e.Params.Set(long(key), long(val))
	e.Attachments = []audit.Attachment{{Name: long(target), URL: long(val), Size: int64(len(val)) << (reps % 48)}}
	e.Normalize(e.Time)
	return e
}

var (
	// htmlTag finds the markup of an entry; anything else is text.
	htmlTag = regexp.MustCompile(`<[^>]*>`)
	// sinkTag is the markup the sink itself writes: user text must never
	// add to it.
	sinkTag = regexp.MustCompile(`^(</?(b|i|code|blockquote)>|<a href="tg://user\?id=[0-9]+">|</a>)$`)
)

// checkEntryHTML fails unless entry is HTML Telegram accepts within its
// limit, written only with the sink's own tags (properly nested), in the
// entry's shape: title, summary, the actor's link, "label: value" fields,
// the footer, then the content as one quote.
func checkEntryHTML(t *testing.T, e *audit.Event, entry string) {
	t.Helper()
	var open []string
	for _, tag := range htmlTag.FindAllString(entry, -1) {
		if !sinkTag.MatchString(tag) {
			t.Fatalf("tag %q is not the sink's: user text injected markup", tag)
		}
		name := strings.Trim(strings.Fields(tag)[0], "</>")
		if strings.HasPrefix(tag, "</") {
			if len(open) == 0 || open[len(open)-1] != name {
				t.Fatalf("%s closed while %v are open", tag, open)
			}
			open = open[:len(open)-1]
		} else {
			open = append(open, name)
		}
	}
	if len(open) > 0 {
		t.Fatalf("unclosed %v", open)
	}
	// Telegram counts UTF-16 units of the text after parsing the markup;
	// count them without the sink's own visibleLen.
	text := html.UnescapeString(htmlTag.ReplaceAllString(entry, ""))
	if n := len(utf16.Encode([]rune(text))); n > maxText {
		t.Fatalf("entry of %d UTF-16 units, over Telegram's %d", n, maxText)
	}
	if strings.ContainsAny(text, "<>") && !strings.Contains(entry, "&lt;") && !strings.Contains(entry, "&gt;") {
		t.Fatal("angle brackets reached the text unescaped")
	}
	body, quote, quoted := strings.Cut(entry, "\n<blockquote>")
	if quoted != (e.Content != "") || quoted && !strings.HasSuffix(quote, "</blockquote>") {
		t.Fatalf("content %q shown as %q", e.Content, quote)
	}
	lines := strings.Split(body, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "<b>") || !strings.HasSuffix(lines[0], "</b>") ||
		strings.Contains(lines[1], "<") || !strings.HasPrefix(lines[len(lines)-1], "<code>") {
		t.Fatalf("entry lines %q", lines)
	}
	fieldsFrom := 2
	if e.ActorID != "" {
		fieldsFrom = 3
	}
	for _, l := range lines[fieldsFrom : len(lines)-1] {
		if !strings.HasPrefix(l, "<i>") {
			t.Fatalf("line %q is not a field: a name or value forged a line", l)
		}
	}
}

// FuzzTelegramEntry renders hostile records as the log sink does and
// checks each entry against what Telegram accepts and what members read.
func FuzzTelegramEntry(f *testing.F) {
	f.Add(uint8(audit.ChatMessage), "en", "<b>Mallory</b> & co", "42", "", "", "reason", "", `<script>alert(1)</script> <a href="x">`, uint16(0))
	f.Add(uint8(audit.UserBan), "fr", "Bob\n<i>Reason:</i> forged", "7", "</code><a href=\"tg://user?id=1\">x</a>", "8\">", "k", "&amp;&#x1F600;&", "", uint16(1))
	f.Add(uint8(audit.ModerationLink), "hi", "\u0301", "-100123", "\U0001F600", "5", "url", "https://evil.example/<b>", "\u200b\u202e\n", uint16(4000))
	f.Add(uint8(audit.SecurityEvent), "xx", "", "", "&", "+9", "\n", "<", "\U0001F600", uint16(5000))
	f.Add(uint8(audit.ChatMessageEdit), "en", "a\u0300\u0301\u0302", "09", "@everyone", "1", "old_content", "x\n", "\u0308", uint16(4000))
	f.Add(uint8(0), "", "", "", "", "", "", "", "", uint16(0))
	b := renderingBot()
	f.Fuzz(func(t *testing.T, typ uint8, locale, actor, actorID, target, targetID, key, val, content string, reps uint16) {
		e := hostileRecord(typ, locale, actor, actorID, target, targetID, key, val, content, reps)
		checkEntryHTML(t, e, b.entryHTML(e, maxText))
	})
}

// TestEntryFitsAtEveryFieldLength sweeps the length of the details so
// that, after the fields that do not fit are dropped, the entry's head
// and fields end at every distance from the limit, with long content
// after them: the content's room must never push the entry over 4096.
func TestEntryFitsAtEveryFieldLength(t *testing.T) {
	b := renderingBot()
	for n := 1; n <= 300; n++ {
		e := &audit.Event{Platform: audit.Telegram, PropertyID: "en", Type: audit.SecurityEvent, Function: audit.FuncImpersonation,
			ActorType: audit.ActorBot, ActorID: "1", ActorName: "chatwarden", TargetIDs: []string{"2"},
			Content: strings.Repeat("c", 5000), Time: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
		for i := 0; i < 40; i++ {
			e.Params.Set("detail_"+strconv.Itoa(i), strings.Repeat("d", n+i%7))
		}
		checkEntryHTML(t, e, b.entryHTML(e, maxText))
	}
}
