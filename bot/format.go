package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Entry is a record rendered for a log channel: a title, the one-line
// summary in the admin-console style of EVENTS.md ("{actor} posted a
// message."), and the details below it. It is platform-neutral and
// unescaped: each sink escapes for its markup and cuts to its limits.
type Entry struct {
	Title    string
	Summary  string
	Fields   []Field
	Content  string // the message text, quoted by the sink; may hold newlines
	Category Category
	Footer   string // record id, type and time
}

// Field is one labelled detail of an entry.
type Field struct {
	Label, Value string
	Inline       bool
}

// Locales lists the locales log entries exist in; the first is the fallback.
func Locales() []string { return []string{"en", "fr", "hi"} }

// ValidLocale reports whether s is a supported locale.
func ValidLocale(s string) bool {
	_, ok := locales[s]
	return ok
}

// catalog is one locale's strings. Missing keys fall back to English.
type catalog struct {
	titles    map[EventType]string
	summaries map[string]string // by EventType name, plus variants ("USER_REMOVE/left")
	labels    map[string]string // field labels, by param key or field name
	words     map[string]string // "someone", "the system", ...
}

var locales = map[string]*catalog{"en": &catalogEN, "fr": &catalogFR, "hi": &catalogHI}

// text looks up a key in the locale, then in English; it never returns "".
func text(locale string, pick func(*catalog) string, fallback string) string {
	if c, ok := locales[locale]; ok {
		if s := pick(c); s != "" {
			return s
		}
	}
	if s := pick(&catalogEN); s != "" {
		return s
	}
	return fallback
}

// Render renders e in locale (English when the locale or a string is
// missing). It never panics and never returns an empty summary.
func Render(e *Event, locale string) Entry {
	if e == nil {
		e = &Event{}
	}
	word := func(k string) string { return text(locale, func(c *catalog) string { return c.words[k] }, k) }
	label := func(k string) string { return text(locale, func(c *catalog) string { return c.labels[k] }, k) }

	actor := OneLine(e.ActorName, 100)
	if actor == "" {
		actor = OneLine(e.ActorID, 100) // ids come from outside too
	}
	switch {
	case actor == "" && e.ActorType == ActorSystem:
		actor = word("system")
	case actor == "":
		actor = word("someone")
	}
	target := OneLine(e.Params[ParamTargetName], 100)
	if target == "" {
		target = OneLine(e.Target(), 100)
	}
	if target == "" {
		target = word("someone")
	}
	key := e.Type.String()
	switch {
	case e.Type == UserRemove && (e.ActorID == "" || e.ActorID == e.Target() || len(e.TargetIDs) == 0):
		key += "/left"
	case e.Type == DataRetention && e.Params[ParamAction] == RetentionPurge:
		key += "/purge"
	}
	format := text(locale, func(c *catalog) string { return c.summaries[key] }, "")
	if format == "" {
		format = "{actor}: " + e.Type.String()
	}
	summary := strings.NewReplacer(
		"{actor}", actor,
		"{target}", target,
		"{kind}", OneLine(e.Params[ParamKind], 64),
		"{count}", OneLine(e.Params[ParamCount], 20),
		"{days}", OneLine(e.Params[ParamDays], 20),
	).Replace(format)

	en := Entry{
		Title:    text(locale, func(c *catalog) string { return c.titles[e.Type] }, e.Type.String()),
		Summary:  summary,
		Content:  e.Content,
		Category: e.Type.Category(),
		Footer:   fmt.Sprintf("%s · %s · %s", e.ID, e.Type, e.Time.UTC().Format(time.RFC3339)),
	}
	add := func(lbl, val string, inline bool) {
		if val = OneLine(val, 1024); val != "" {
			en.Fields = append(en.Fields, Field{Label: lbl, Value: val, Inline: inline})
		}
	}
	if e.ActorID != "" {
		add(label("actor"), who(e.ActorName, e.ActorID)+" · "+e.ActorType.String(), true)
	}
	for i, t := range e.TargetIDs {
		name := ""
		if i == 0 {
			name = e.Params[ParamTargetName]
		}
		add(label("target"), who(name, t), true)
	}
	if e.ChannelID != "" {
		add(label("channel"), who(e.Params[ParamChannelName], e.ChannelID), true)
	}
	if e.MessageID != "" {
		add(label("message"), e.MessageID, true) // add makes it one line
	}
	for _, k := range e.Params.Keys() {
		if k == ParamTargetName || k == ParamChannelName {
			continue
		}
		add(label(k), e.Params[k], len(e.Params[k]) < 40)
	}
	for _, a := range e.Attachments {
		v := a.Name
		if a.Size > 0 {
			v += " (" + strconv.FormatInt(a.Size, 10) + " B)"
		}
		if a.URL != "" {
			v += " " + a.URL
		}
		add(label("attachment"), v, false)
	}
	if e.Redacted {
		add(label("redacted"), word("erased"), false)
	}
	return en
}

// who shows a name with its id.
func who(name, id string) string {
	name, id = OneLine(name, 100), OneLine(id, 100)
	if name == "" || name == id {
		return id
	}
	return name + " (" + id + ")"
}

// OneLine makes a user-supplied string safe for a single line of a log
// entry: newlines, tabs and other control characters become spaces,
// bidirectional overrides and isolates are removed (so a name cannot
// reverse the text after it), and the result is cut to max runes.
func OneLine(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		switch {
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
			continue
		case r == '\n' || r == '\r' || r == '\t' || unicode.IsControl(r) || r == 0x2028 || r == 0x2029:
			r = ' '
		}
		if n == max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}
