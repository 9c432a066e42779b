package logentry

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chatwarden/chatwarden/audit"
)

// Entry is a record rendered for a log channel: a title, the one-line
// summary in the admin-console style of EVENTS.md ("{actor} posted a
// message."), and the details below it. It is platform-neutral and
// unescaped: each sink escapes for its markup and cuts to its limits.
// Every string but Content is a single line.
type Entry struct {
	Title    string  // short localized heading, e.g. "Message deleted"
	Summary  string  // the type's one-line format with the names filled in; never empty
	Fields   []Field // the details, in a stable order
	Content  string  // the message text as recorded, for the sink to quote; may hold newlines
	Category audit.Category
	Footer   string // record id · event type · time (RFC 3339)
}

// Field is one labelled detail of an entry.
type Field struct {
	// Key names the detail whatever the locale: one of the Field*
	// constants or a param key. Sinks match on it, never on Label.
	Key    string
	Label  string // localized
	Value  string // one line, sanitised, not escaped
	Inline bool   // short enough to sit beside others
}

// Keys of the fields that do not come from params.
const (
	FieldActor      = "actor"      // name (id) · actor type
	FieldTarget     = "target"     // the first target: name (id)
	FieldTargets    = "targets"    // the other targets' ids
	FieldChannel    = "channel"    // #name (id)
	FieldMessage    = "message"    // message id
	FieldAttachment = "attachment" // name (size) url, one field each
	FieldRedacted   = "redacted"   // present when the record's personal data was erased
)

// maxTargetsShown is how many other targets an entry lists by id.
const maxTargetsShown = 10

// paramOrder is the order in which known params are shown: what happened
// first, then the evidence, then the bookkeeping. Params not listed follow
// in key order (old_x next to new_x).
var paramOrder = []string{
	audit.ParamKind, audit.ParamAction, audit.ParamOutcome, audit.ParamRemoval, audit.ParamReason, audit.ParamRule, audit.ParamMode,
	audit.ParamName, audit.ParamObjectID, audit.ParamAuditAction, audit.ParamExpression,
	audit.ParamDangerousGranted, audit.ParamPermissionsAdded, audit.ParamPermissionsRemoved,
	audit.ParamOverwriteType, audit.ParamOverwriteID, audit.ParamRoleName, audit.ParamAllowAdded, audit.ParamAllowRemoved, audit.ParamDenyAdded, audit.ParamDenyRemoved,
	audit.ParamRuleID, audit.ParamTrigger, audit.ParamMatchedKeyword, audit.ParamPruneDays,
	audit.ParamURL, audit.ParamDomain, audit.ParamMatched, "escalated", // moderation.ParamEscalated
	audit.ParamMatchedName, audit.ParamNameSkeleton, audit.ParamMatchedSkeleton,
	audit.ParamIntegration, audit.ParamWebhookID, paramAddedBy,
	audit.ParamField, audit.ParamChanged, audit.ParamSetting, audit.ParamLogChannelName, audit.ParamOldValue, audit.ParamNewValue, audit.ParamOldContent,
	audit.ParamRolesAdded, audit.ParamRolesRemoved, audit.ParamUntil, audit.ParamDuration,
	audit.ParamVerifyKind, audit.ParamAttempts, audit.ParamTimeTaken,
	audit.ParamCount, audit.ParamDays, audit.ParamBefore, "started_at", // moderation.ParamStartedAt
	audit.ParamInviteCode, audit.ParamMaxUses, audit.ParamLink, audit.ParamViaJoinRequest,
	audit.ParamReportedID, audit.ParamReportedAuthor, audit.ParamReplyTo,
	audit.ParamIsBot, audit.ParamAccountCreated, audit.ParamPostedAt, audit.ParamChannelKind, audit.ParamParentID, audit.ParamSenderChat,
	audit.ParamEmbedURLs, "text_links", // moderation.ParamTextLinks
	audit.ParamAttachmentStatus, audit.ParamUnknownBefore, audit.ParamQuiet,
	audit.ParamTruncatedTargets, audit.ParamTruncatedAttachments, audit.ParamTruncatedParams,
}

// paramRank maps a known param key to its place in paramOrder.
var paramRank = func() map[string]int {
	m := make(map[string]int, len(paramOrder))
	for i, k := range paramOrder {
		m[k] = i
	}
	return m
}()

// Params shown elsewhere than as their own field.
var paramsShownElsewhere = map[string]bool{audit.ParamTargetName: true, audit.ParamChannelName: true,
	paramRaidStatus: true, paramAddedByName: true, audit.ParamContentUnavailable: true}

// Who added a member (verification.ParamAddedBy) and their name, when the
// handler knew it: shown as one field, "Name (id)".
const (
	paramAddedBy     = "added_by"
	paramAddedByName = "added_by_name"
)

// content is an entry's message text: the record's, or, when the
// platform withheld it (audit.ParamContentUnavailable), a sentence saying
// so, so that an empty message never reads as one that said nothing.
func content(e *audit.Event, l lookup) string {
	if e.Content == "" && e.Params[audit.ParamContentUnavailable] == "true" {
		return l.word("content_unavailable")
	}
	return e.Content
}

// The raid guard's params (moderation.ParamRaidStatus, RaidEnded).
const (
	paramRaidStatus = "raid_status"
	raidEnded       = "ENDED"
)

// Locales lists the locales log entries exist in; the first, English, is
// the fallback for a missing string or an unknown locale.
func Locales() []string { return []string{"en", "fr", "hi"} }

// ValidLocale reports whether s is one of Locales.
func ValidLocale(s string) bool {
	_, ok := locales[s]
	return ok
}

// catalog is one locale's strings, kept as data for translators (see
// locale_en.go). A missing or empty string falls back to English.
//
// Summary formats take placeholders: {actor}, {target}, {kind}, {count},
// {days}, {before}; {name.form} asks for a grammatical form of the word
// standing in for a missing name (words["someone.obl"]); {name:one|other}
// picks a word by the plural form of the number in {name}, e.g.
// "{count} {count:record|records}". See expand.
type catalog struct {
	titles    map[string]string // like summaries; a variant without a title takes its type's
	summaries map[string]string // by event type name, plus variants such as "USER_REMOVE/left"
	labels    map[string]string // field labels, by Field* key or param key
	words     map[string]string // words filled into summaries and values
	// one reports whether the integer n takes the singular ("one") form.
	one func(n int64) bool
}

type catalogs map[string]*catalog

var locales = catalogs{"en": &catalogEN, "fr": &catalogFR, "hi": &catalogHI}

// Render renders e in locale; an unknown locale, or a string the locale
// lacks, falls back to English. Render never panics, never returns an
// empty or multi-line summary, and neither escapes nor cuts: names and
// single-line values pass through OneLine, Content is left as recorded.
func Render(e *audit.Event, locale string) Entry { return locales.render(e, locale) }

// Word returns one of the words entries are made of, in locale (else
// English): "someone" for an unnamed actor, "kind.X" for security kind
// X, "actor.X" for actor type X. It returns key itself when no catalogue
// has it, so that a caller can tell and show the value as recorded.
func Word(locale, key string) string { return locales.lookup(locale).word(key) }

// lookup is the pair of catalogs a render reads: the locale's and English.
type lookup struct{ loc, en *catalog }

func (cs catalogs) lookup(locale string) lookup {
	l := lookup{en: cs["en"], loc: cs[canonicalLocale(locale)]}
	if l.en == nil {
		l.en = &catalog{}
	}
	if l.loc == nil {
		l.loc = l.en
	}
	return l
}

// canonicalLocale turns "FR", "fr-FR" or "fr_CA" into "fr".
func canonicalLocale(s string) string {
	if i := strings.IndexAny(s, "-_"); i >= 0 {
		s = s[:i]
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// find returns the locale's string, else English's, and the catalog it
// came from; "" when neither has it.
func (l lookup) find(pick func(*catalog) string) (string, *catalog) {
	if s := pick(l.loc); s != "" {
		return s, l.loc
	}
	return pick(l.en), l.en
}

func (l lookup) word(key string) string {
	if s, _ := l.find(func(c *catalog) string { return c.words[key] }); s != "" {
		return s
	}
	return key
}

// platformLabel is the label of key in e's platform's words ("Topic" for
// a Telegram record's channel), else label's.
func (l lookup) platformLabel(key string, p audit.Platform) string {
	if p.Valid() {
		if s, _ := l.find(func(c *catalog) string { return c.labels[key+"/"+p.String()] }); s != "" {
			return s
		}
	}
	return l.label(key)
}

func (l lookup) label(key string) string {
	if s, _ := l.find(func(c *catalog) string { return c.labels[key] }); s != "" {
		return s
	}
	for _, p := range [...]struct{ prefix, label string }{{"old_", audit.ParamOldValue}, {"new_", audit.ParamNewValue}} {
		if rest, ok := strings.CutPrefix(key, p.prefix); ok && rest != "" {
			return l.label(p.label) + " (" + rest + ")"
		}
	}
	return key
}

func (cs catalogs) render(e *audit.Event, locale string) Entry {
	if e == nil {
		e = &audit.Event{}
	}
	l := cs.lookup(locale)
	key, base := summaryKey(e), e.Type.String()
	title, _ := l.find(func(c *catalog) string {
		for _, k := range platformKeys(e, key) {
			if t := c.titles[k]; t != "" {
				return t
			}
		}
		return c.titles[base]
	})
	if title == "" {
		title = base
	}
	return Entry{
		Title:    title,
		Summary:  summary(e, l),
		Fields:   fields(e, l),
		Content:  content(e, l),
		Category: e.Type.Category(),
		Footer:   footer(e),
	}
}

// summaryKey picks the format of e: its type's name, or a variant.
func summaryKey(e *audit.Event) string {
	key := e.Type.String()
	switch e.Type {
	case audit.UserRemove:
		if leftOnTheirOwn(e) {
			key += "/left"
		}
	case audit.SettingsChange:
		// One command that changed several settings lists them in setting.
		if strings.Contains(e.Params[audit.ParamSetting], ", ") {
			key += "/several"
		}
	case audit.VerificationFailure:
		// The entry says what was done: the kick or ban is recorded, not
		// posted (quiet: DETAIL).
		if a := e.Params[audit.ParamAction]; (a == "KICK" || a == "BAN") && e.Params[audit.ParamOutcome] == "DONE" { // verification's
			key += "/" + a
		}
	case audit.ModerationLink:
		if e.Params[audit.ParamRule] == "LOOKALIKE" && e.Params[audit.ParamMatched] != "" { // moderation.RuleLookalike
			key += "/lookalike"
		}
	case audit.SecurityEvent:
		// A raid's entry says how it stands, not whom it involves.
		if e.Params[audit.ParamKind] == audit.KindJoinRaid && e.Params[paramRaidStatus] != "" {
			key += "/" + audit.KindJoinRaid
			if e.Params[paramRaidStatus] == raidEnded {
				key += "/ended"
			}
		}
	case audit.VoiceUpdate:
		key += voiceVariant(e)
	case audit.ModerationAutomod:
		switch e.Params[audit.ParamAction] {
		case audit.AutomodBlock, audit.AutomodBlockInteraction:
			key += "/block"
		case audit.AutomodAlert:
			key += "/alert"
		case audit.AutomodTimeout:
			key += "/timeout"
		}
	case audit.DataRetention:
		action := e.Params[audit.ParamAction]
		if action == audit.RetentionPurge || action != audit.RetentionErase && len(e.TargetIDs) == 0 {
			switch {
			case e.Params[audit.ParamDays] != "":
				key += "/purge"
			case e.Params[audit.ParamBefore] != "":
				key += "/purge_before"
			default:
				key += "/purge_old"
			}
		}
	}
	return key
}

// voiceVariant picks the VOICE_UPDATE format: the member's own join,
// leave or move, or a moderator's disconnect or move; "" (the base
// format) for mute and deafen.
func voiceVariant(e *audit.Event) string {
	byOther := len(e.TargetIDs) > 0 && e.ActorID != "" && e.ActorID != e.TargetIDs[0]
	switch e.Params[audit.ParamAction] {
	case audit.VoiceJoin:
		return "/join"
	case audit.VoiceDisconnect:
		return "/disconnect"
	case audit.VoiceLeave:
		if byOther {
			return "/disconnect"
		}
		return "/leave"
	case audit.VoiceMove:
		if byOther {
			return "/moved"
		}
		return "/move"
	}
	return ""
}

// leftOnTheirOwn reports whether a USER_REMOVE says "{target} left.": the
// actor is the target, or no one else is known to have removed them.
func leftOnTheirOwn(e *audit.Event) bool {
	switch {
	case len(e.TargetIDs) == 0:
		return true
	case e.ActorID != "":
		return e.ActorID == e.TargetIDs[0] && e.Params[audit.ParamRemoval] != audit.RemovalKicked
	case e.ActorName != "":
		return e.ActorName == e.Params[audit.ParamTargetName]
	default:
		return e.Params[audit.ParamRemoval] != audit.RemovalKicked
	}
}

// summaryFormat returns the format for e and the catalog it came from; ""
// when no catalog has one.
func summaryFormat(e *audit.Event, l lookup) (string, *catalog) {
	keys := platformKeys(e, summaryKey(e))
	return l.find(func(c *catalog) string {
		for _, k := range keys {
			if f := c.summaries[k]; f != "" {
				return f
			}
		}
		return ""
	})
}

// platformKeys are the catalogue keys to try for an entry, most specific
// first: the platform's own wording ("PROPERTY_UPDATE/telegram": a
// Telegram group has no server, and its channels are topics), then the
// shared one.
func platformKeys(e *audit.Event, key string) []string {
	if e.Platform.Valid() {
		return []string{key + "/" + e.Platform.String(), key}
	}
	return []string{key}
}

// value is what a placeholder stands for: text from the record, or a
// word of the catalog (by key) when the record has none.
type value struct{ text, word string }

func summary(e *audit.Event, l lookup) string {
	format, c := summaryFormat(e, l)
	if format == "" {
		format, c = "{actor}: "+e.Type.String(), l.loc
	}
	// Words come from the catalog the format came from, so that an
	// English fallback line does not mix languages.
	wl := lookup{loc: c, en: l.en}

	actor := value{text: OneLine(e.ActorName, 0)}
	if actor.text == "" {
		actor.text = OneLine(e.ActorID, 0) // ids come from outside too
	}
	if e.Type == audit.UserRemove && len(e.TargetIDs) > 0 && e.ActorID == e.TargetIDs[0] && e.Params[audit.ParamRemoval] == audit.RemovalKicked {
		actor.text = "" // kicked, but the moderator is unknown: not by themselves
	}
	if actor.text == "" {
		actor.word = "someone"
		if e.ActorType == audit.ActorSystem {
			actor.word = "system"
		}
	}
	target := value{text: OneLine(e.Params[audit.ParamTargetName], 0)}
	if target.text == "" {
		target.text = OneLine(e.Target(), 0)
	}
	switch {
	case target.text == "" && e.Type == audit.UserRemove:
		target = actor // who left is who acted
	case target.text == "":
		target.word = "someone"
	}
	vars := map[string]value{
		"actor":   actor,
		"target":  target,
		"kind":    securityKind(e.Params[audit.ParamKind], wl),
		"count":   {text: OneLine(e.Params[audit.ParamCount], 0)},
		"days":    {text: OneLine(e.Params[audit.ParamDays], 0)},
		"before":  {text: OneLine(day(e.Params[audit.ParamBefore]), 0)},
		"name":    {text: objectName(e), word: "unnamed"},
		"matched": {text: OneLine(e.Params[audit.ParamMatched], 0)},
	}
	if vars["count"].text == "" {
		vars["count"] = value{text: "?"}
	}
	resolve := func(name, form string) (string, bool) {
		v, ok := vars[name]
		switch {
		case !ok:
			return "", false
		case v.text != "":
			return v.text, true
		case form != "":
			if w, _ := wl.find(func(c *catalog) string { return c.words[v.word+"."+form] }); w != "" {
				return w, true
			}
		}
		return wl.word(v.word), true
	}
	s := OneLine(expand(format, resolve, c.one), 0)
	if startsWithWord(format, vars) {
		s = upperFirst(s)
	}
	if s == "" { // a broken translation; never a blank line
		a, _ := resolve("actor", "")
		s = a + ": " + e.Type.String()
	}
	return s
}

// securityKind is what {kind} stands for: the kind's words ("kind.X"),
// else its code as recorded, else "incident".
func securityKind(code string, l lookup) value {
	code = OneLine(code, 0)
	if code == "" {
		return value{word: "incident"}
	}
	if w := l.word("kind." + code); w != "kind."+code {
		return value{text: w}
	}
	return value{text: code}
}

// objectName is what {name} stands for: the name of the role, emoji,
// webhook, rule or event a record is about, else its channel.
func objectName(e *audit.Event) string {
	if n := OneLine(e.Params[audit.ParamName], 0); n != "" {
		return n
	}
	if n := OneLine(e.Params[audit.ParamChannelName], 0); n != "" {
		return "#" + n
	}
	return ""
}

// startsWithWord reports whether format begins with a placeholder that
// stands for a word ("someone joined." is capitalised, names are not).
func startsWithWord(format string, vars map[string]value) bool {
	if !strings.HasPrefix(format, "{") {
		return false
	}
	end := strings.IndexAny(format, ".:}")
	if end < 0 {
		return false
	}
	v, ok := vars[format[1:end]]
	return ok && v.text == ""
}

// expand fills the placeholders of format in one pass, so a name that
// contains "{target}" stays as typed. A placeholder is {name}, {name.form}
// (a grammatical form of a word, e.g. the Hindi oblique "{actor.obl} ने":
// names are used as they are) or {name:one|other} (the word for the
// plural form of the number in name). An unknown placeholder is kept.
func expand(format string, resolve func(name, form string) (string, bool), one func(int64) bool) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(format, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(format[i:], '}')
		if j < 0 {
			break
		}
		b.WriteString(format[:i])
		ph := format[i+1 : i+j]
		ph, forms, plural := strings.Cut(ph, ":")
		name, form, _ := strings.Cut(ph, ".")
		v, ok := resolve(name, form)
		switch {
		case !ok:
			b.WriteString(format[i : i+j+1])
		case plural:
			singular, other, _ := strings.Cut(forms, "|")
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && one != nil && one(n) || other == "" {
				b.WriteString(singular)
			} else {
				b.WriteString(other)
			}
		default:
			b.WriteString(v)
		}
		format = format[i+j+1:]
	}
	b.WriteString(format)
	return b.String()
}

// day shows an RFC 3339 time as its UTC date; other text is kept.
func day(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Format(time.DateOnly)
	}
	return s
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

func fields(e *audit.Event, l lookup) []Field {
	var out []Field
	add := func(key, val string) {
		if val = OneLine(val, 0); val != "" {
			label := OneLine(l.platformLabel(key, e.Platform), 0)
			if label == "" { // a blank param key
				label = strconv.Quote(key)
			}
			out = append(out, Field{Key: key, Label: label, Value: val, Inline: utf8.RuneCountInString(val) <= 40})
		}
	}
	if e.ActorID != "" || e.ActorName != "" {
		v := who(e.ActorName, e.ActorID)
		if e.ActorType.Valid() {
			v += " · " + l.word("actor."+e.ActorType.String())
		}
		add(FieldActor, v)
	}
	raid := e.Type == audit.SecurityEvent && e.Params[paramRaidStatus] != ""
	if !raid && (len(e.TargetIDs) > 0 || e.Params[audit.ParamTargetName] != "") {
		add(FieldTarget, who(e.Params[audit.ParamTargetName], e.Target()))
	}
	// A raid's records name its joiners by the batch; the entry, edited in
	// place, counts them instead.
	if others := e.TargetIDs[min(1, len(e.TargetIDs)):]; len(others) > 0 && !raid {
		// A raid's record names every joiner; the entry names a few and
		// counts the rest (the record and the queries keep them all).
		shown := strings.Join(others[:min(len(others), maxTargetsShown)], ", ")
		if n := len(others) - maxTargetsShown; n > 0 {
			shown += fmt.Sprintf(" … (+%d)", n)
		}
		add(FieldTargets, shown)
	}
	if e.ChannelID != "" || e.Params[audit.ParamChannelName] != "" {
		name := OneLine(e.Params[audit.ParamChannelName], 0)
		id := OneLine(e.ChannelID, 0)
		switch {
		case name == "":
			add(FieldChannel, "#"+id)
		case id == "" || id == name:
			add(FieldChannel, "#"+name)
		default:
			add(FieldChannel, "#"+name+" ("+id+")")
		}
	}
	add(FieldMessage, e.MessageID)
	for _, k := range paramKeys(e.Params) {
		v := e.Params[k]
		// Ids of accounts the entry names: the name, with the id as the
		// detail.
		switch {
		case k == paramAddedBy:
			v = who(e.Params[paramAddedByName], v)
		case k == audit.ParamSenderChat && v == e.ActorID:
			v = who(e.ActorName, v)
		case k == audit.ParamReportedAuthor && v == e.Target():
			v = who(e.Params[audit.ParamTargetName], v)
		}
		switch v {
		case "true":
			v = l.word("yes")
		case "false":
			v = l.word("no")
		}
		add(k, v)
	}
	for _, a := range e.Attachments {
		v := OneLine(a.Name, 0)
		if v == "" {
			v = l.word("file")
		}
		if a.Size > 0 {
			v += " (" + size(a.Size, l) + ")"
		}
		if u := OneLine(a.URL, 0); u != "" {
			v += " " + u
		}
		out = append(out, Field{Key: FieldAttachment, Label: l.label(FieldAttachment), Value: v})
	}
	if e.Redacted {
		add(FieldRedacted, l.word("erased"))
	}
	return out
}

// paramKeys orders the params to show: known keys in paramOrder, then
// the others by key, each old_x just before its new_x.
func paramKeys(p audit.Params) []string {
	keys := make([]string, 0, len(p))
	for k := range p {
		if !paramsShownElsewhere[k] {
			keys = append(keys, k)
		}
	}
	sortKey := func(k string) string {
		if rest, ok := strings.CutPrefix(k, "old_"); ok {
			return rest + "\x00" + "0"
		}
		if rest, ok := strings.CutPrefix(k, "new_"); ok {
			return rest + "\x00" + "1"
		}
		return k
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, iKnown := paramRank[keys[i]]
		rj, jKnown := paramRank[keys[j]]
		switch {
		case iKnown && jKnown:
			return ri < rj
		case iKnown != jKnown:
			return iKnown
		}
		si, sj := sortKey(keys[i]), sortKey(keys[j])
		if si != sj {
			return si < sj
		}
		return keys[i] < keys[j]
	})
	return keys
}

// who shows a name with its id.
func who(name, id string) string {
	name, id = OneLine(name, 0), OneLine(id, 0)
	switch {
	case name == "" || name == id:
		return id
	case id == "":
		return name
	}
	return name + " (" + id + ")"
}

// size shows a byte count with a binary unit and the locale's decimal sign.
func size(n int64, l lookup) string {
	units := [...]string{"size.B", "size.KB", "size.MB", "size.GB", "size.TB"}
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " " + l.word(units[0])
	}
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	s := strconv.FormatFloat(f, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return strings.Replace(s, ".", l.word("decimal"), 1) + " " + l.word(units[u])
}

func footer(e *audit.Event) string {
	parts := make([]string, 0, 3)
	if !e.ID.IsZero() {
		parts = append(parts, e.ID.String())
	}
	parts = append(parts, e.Type.String())
	if !e.Time.IsZero() {
		parts = append(parts, e.Time.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, " · ")
}

// OneLine makes a user-supplied string safe for a single line of a log
// entry: newlines, tabs and other control characters (and the Unicode
// line and paragraph separators) become spaces; bidirectional embeddings,
// overrides, isolates and marks are removed, so a name can neither forge a
// second line nor reverse the text after it; surrounding space is trimmed.
// When max > 0 the result is cut to max runes, "…" marking the cut.
func OneLine(s string, max int) string {
	var b strings.Builder
	b.Grow(len(s))
	n := 0
	for _, r := range s {
		switch {
		case isBidiControl(r):
			continue
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			r = ' '
		}
		if max > 0 && n == max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// isBidiControl reports whether r is a bidirectional formatting character:
// LRE, RLE, PDF, LRO, RLO (U+202A–U+202E), the isolates LRI, RLI, FSI, PDI
// (U+2066–U+2069), and the marks LRM, RLM, ALM.
func isBidiControl(r rune) bool {
	return r >= '\u202A' && r <= '\u202E' || r >= '\u2066' && r <= '\u2069' ||
		r == '\u200E' || r == '\u200F' || r == '\u061C'
}
