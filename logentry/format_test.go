package logentry

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/chatwarden/chatwarden/audit"
)

var sampleTime = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// sample is a record of type t by Alice (1) about Bob (2), with every
// param a summary may use.
func sample(t audit.EventType) *audit.Event {
	e := &audit.Event{ID: audit.MakeID(sampleTime, 7), Time: sampleTime, Platform: audit.Discord, PropertyID: "g",
		Type: t, Function: audit.FuncGateway, ActorType: audit.ActorAdmin,
		ActorID: "1", ActorName: "Alice", TargetIDs: []string{"2"}, ChannelID: "c"}
	e.Params.Set(audit.ParamTargetName, "Bob")
	e.Params.Set(audit.ParamKind, audit.KindImpersonation)
	e.Params.Set(audit.ParamCount, "12")
	e.Params.Set(audit.ParamDays, "30")
	return e
}

// variants are records that take each summary variant.
func variants() map[string]*audit.Event {
	left := sample(audit.UserRemove)
	left.ActorID, left.ActorName = "2", "Bob"
	purge := sample(audit.DataRetention)
	purge.Params.Set(audit.ParamAction, audit.RetentionPurge)
	before := sample(audit.DataRetention)
	before.Params.Set(audit.ParamAction, audit.RetentionPurge)
	before.Params.Set(audit.ParamDays, "")
	before.Params.Set(audit.ParamBefore, "2026-08-03T12:00:00Z")
	old := sample(audit.DataRetention)
	old.Params.Set(audit.ParamAction, audit.RetentionPurge)
	old.Params.Set(audit.ParamDays, "")
	erase := sample(audit.DataRetention)
	erase.Params.Set(audit.ParamAction, audit.RetentionErase)
	out := map[string]*audit.Event{
		"USER_REMOVE/left": left, "DATA_RETENTION/purge": purge,
		"DATA_RETENTION/purge_before": before, "DATA_RETENTION/purge_old": old, "DATA_RETENTION": erase,
	}
	// The member's own voice changes (actor = target), a moderator's.
	for variant, v := range map[string]struct {
		action string
		self   bool
	}{"join": {audit.VoiceJoin, true}, "leave": {audit.VoiceLeave, true}, "move": {audit.VoiceMove, true},
		"disconnect": {audit.VoiceDisconnect, false}, "moved": {audit.VoiceMove, false}} {
		e := sample(audit.VoiceUpdate)
		e.Params.Set(audit.ParamAction, v.action)
		if v.self {
			e.ActorID, e.ActorName = "2", "Bob"
		}
		out["VOICE_UPDATE/"+variant] = e
	}
	for variant, action := range map[string]string{"block": audit.AutomodBlock, "alert": audit.AutomodAlert, "timeout": audit.AutomodTimeout} {
		e := sample(audit.ModerationAutomod)
		e.Params.Set(audit.ParamAction, action)
		out["MODERATION_AUTOMOD/"+variant] = e
	}
	return out
}

func TestEveryTypeInEveryLocale(t *testing.T) {
	events := variants()
	for _, typ := range audit.EventTypes() {
		events[typ.String()] = sample(typ)
	}
	events["USER_REMOVE"] = sample(audit.UserRemove)
	for _, loc := range Locales() {
		if !ValidLocale(loc) {
			t.Fatalf("%s is not valid", loc)
		}
		l := locales.lookup(loc)
		for key, e := range events {
			if got := summaryKey(e); got != key {
				t.Fatalf("%s takes the format %s, want %s", e.Type, got, key)
			}
			format := locales[loc].summaries[key]
			if format == "" || locales[loc].titles[e.Type.String()] == "" {
				t.Errorf("%s: %s has no format or title of its own", loc, key)
				continue
			}
			en := Render(e, loc)
			if en.Summary == "" || en.Title == "" || strings.ContainsAny(en.Summary, "{}\n") {
				t.Errorf("%s %s: summary %q title %q", loc, key, en.Summary, en.Title)
			}
			if f, _ := summaryFormat(e, l); f != format {
				t.Errorf("%s %s: used %q", loc, key, f)
			}
			if strings.Contains(format, "{actor") && !strings.Contains(en.Summary, "Alice") ||
				strings.Contains(format, "{target") && !strings.Contains(en.Summary, "Bob") ||
				strings.Contains(format, "{kind") && !strings.Contains(en.Summary, l.word("kind."+audit.KindImpersonation)) ||
				strings.Contains(format, "{count") && !strings.Contains(en.Summary, "12") {
				t.Errorf("%s %s: %q lacks a name of %q", loc, key, en.Summary, format)
			}
			if loc == "hi" && !strings.ContainsFunc(en.Summary, isDevanagari) {
				t.Errorf("hi %s: %q is not in Devanagari", key, en.Summary)
			}
			if loc != "en" && en.Summary == Render(e, "en").Summary {
				t.Errorf("%s %s: %q is the English text", loc, key, en.Summary)
			}
			if en.Category != e.Type.Category() || en.Content != e.Content {
				t.Errorf("%s %s: category or content changed", loc, key)
			}
		}
	}
}

func isDevanagari(r rune) bool { return unicode.Is(unicode.Devanagari, r) }

// Every string English has, each translation has too, and nothing more.
func TestCataloguesAreComplete(t *testing.T) {
	en := locales["en"]
	for _, k := range paramOrder {
		if en.labels[k] == "" {
			t.Errorf("en: no label for param %s", k)
		}
	}
	for _, k := range []string{FieldActor, FieldTarget, FieldTargets, FieldChannel, FieldMessage, FieldAttachment, FieldRedacted} {
		if en.labels[k] == "" {
			t.Errorf("en: no label for field %s", k)
		}
	}
	for _, a := range []audit.ActorType{audit.ActorAdmin, audit.ActorNonAdmin, audit.ActorBot, audit.ActorSystem} {
		if en.words["actor."+a.String()] == "" {
			t.Errorf("en: no word for actor type %s", a)
		}
	}
	same := func(loc, table string, a, b map[string]string) {
		for k := range a {
			if b[k] == "" {
				t.Errorf("%s: %s[%q] missing", loc, table, k)
			}
		}
		for k := range b {
			if _, ok := a[k]; !ok && !strings.Contains(k, ".") {
				t.Errorf("%s: %s[%q] is not in English", loc, table, k)
			}
		}
	}
	for _, loc := range Locales() {
		c := locales[loc]
		if c.one == nil {
			t.Errorf("%s: no plural rule", loc)
		}
		same(loc, "titles", en.titles, c.titles)
		same(loc, "summaries", en.summaries, c.summaries)
		same(loc, "labels", en.labels, c.labels)
		same(loc, "words", en.words, c.words)
		for k, s := range c.summaries {
			if strings.ContainsAny(s, "\n\r") || !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "।") {
				t.Errorf("%s: summary %s = %q is not one sentence", loc, k, s)
			}
		}
	}
}

// A security alert's summary names its kind in words, in every locale;
// a kind without words keeps its code.
func TestSecurityKindsInWords(t *testing.T) {
	for _, loc := range Locales() {
		l := locales.lookup(loc)
		for _, k := range []string{audit.KindImpersonation, audit.KindUnauthorizedIntegration, audit.KindJoinRaid,
			audit.KindAPIAuthFailure, audit.KindBotRightsLost} {
			w := l.word("kind." + k)
			if w == "kind."+k || w == k {
				t.Errorf("%s: no words for %s", loc, k)
				continue
			}
			e := sample(audit.SecurityEvent)
			e.Params.Set(audit.ParamKind, k)
			e.Params.Set("raid_status", "") // the raid's entry has formats of its own
			if s := Render(e, loc).Summary; !strings.Contains(s, w) || strings.Contains(s, k) {
				t.Errorf("%s %s: %q", loc, k, s)
			}
		}
	}
	e := sample(audit.SecurityEvent)
	e.Params.Set(audit.ParamKind, "NEW_KIND")
	if s := Render(e, "en").Summary; s != "Security: NEW_KIND involving Bob." {
		t.Errorf("an unknown kind: %q", s)
	}
}

// Word gives the catalogue's words to other surfaces: the locale's,
// else English's, else the key itself.
func TestWord(t *testing.T) {
	for _, c := range []struct{ locale, key, want string }{
		{"fr", "kind." + audit.KindJoinRaid, "raid d'arrivées"},
		{"fr-FR", "someone", "quelqu'un"},
		{"xx", "someone", "someone"},
		{"hi", "kind.NEW_KIND", "kind.NEW_KIND"},
	} {
		if got := Word(c.locale, c.key); got != c.want {
			t.Errorf("Word(%q, %q) = %q, want %q", c.locale, c.key, got, c.want)
		}
	}
}

// The English formats of EVENTS.md, filled in.
func TestEnglishFormatsOfEVENTSmd(t *testing.T) {
	for typ, want := range map[audit.EventType]string{
		audit.UserJoin:             "Alice joined.",
		audit.UserRemove:           "Alice removed Bob.",
		audit.UserBan:              "Alice banned Bob.",
		audit.UserBanRemove:        "Alice lifted the ban on Bob.",
		audit.UserUpdate:           "Bob's profile was updated.",
		audit.ChatMessage:          "Alice posted a message.",
		audit.ChatMessageEdit:      "Alice edited a message.",
		audit.ChatMessageDelete:    "Alice deleted a message.",
		audit.ChannelCreate:        "Alice created a channel.",
		audit.ChannelDelete:        "Alice deleted a channel.",
		audit.PropertyUpdate:       "Alice updated the server settings.",
		audit.PropertyInviteCreate: "Alice created an invite.",
		audit.PropertyInviteDelete: "Alice deleted an invite.",
		audit.MessageReport:        "Alice reported a message.",
		audit.VerificationSuccess:  "Bob passed verification.",
		audit.VerificationFailure:  "Bob failed verification.",
		audit.ModerationLink:       "A message by Bob was removed by link filtering.",
		audit.SecurityEvent:        "Security: impersonation involving Bob.",
		audit.SettingsChange:       "Alice changed a setting.",
		audit.DataRetention:        "Alice erased the data of Bob.",
		// sample has no name: {name} says so.
		audit.RoleCreate:              "Alice created the role (unknown).",
		audit.ChannelPermissionUpdate: "Alice changed the permissions of (unknown).",
		audit.VoiceUpdate:             "Alice changed the voice state of Bob.",
		audit.ModerationAutomod:       "AutoMod acted against Bob.",
		audit.ChatMessagePin:          "Alice pinned a message by Bob.",
	} {
		if got := Render(sample(typ), "en").Summary; got != want {
			t.Errorf("%s: %q, want %q", typ, got, want)
		}
	}
}

// {name} is the object's name, else its channel's; a name holding a
// placeholder stays as typed.
func TestObjectNames(t *testing.T) {
	role := sample(audit.RoleUpdate)
	role.Params.Set(audit.ParamName, "mods {target}")
	if got := Render(role, "en").Summary; got != "Alice updated the role mods {target}." {
		t.Errorf("role: %q", got)
	}
	ch := sample(audit.ChannelUpdate)
	ch.Params.Set(audit.ParamChannelName, "general")
	if got := Render(ch, "fr").Summary; got != "Alice a modifié le salon #general." {
		t.Errorf("channel: %q", got)
	}
	voice := sample(audit.VoiceUpdate)
	voice.Params.Set(audit.ParamAction, audit.VoiceLeave)
	if got := Render(voice, "en").Summary; got != "Alice disconnected Bob from voice." {
		t.Errorf("a leave whose actor is a moderator: %q", got)
	}
}

func TestUserRemoveForms(t *testing.T) {
	for _, c := range []struct {
		name, loc             string
		actorID, actorName    string
		removal               string
		targets               []string
		want                  string
		wantTitle             string
		actorType             audit.ActorType
		dropTargetName, noKey bool
	}{
		{name: "kicked", loc: "en", actorID: "1", actorName: "Alice", removal: audit.RemovalKicked, targets: []string{"2"},
			want: "Alice removed Bob.", wantTitle: "Member removed"},
		{name: "left", loc: "en", actorID: "2", actorName: "Bob", removal: audit.RemovalLeft, targets: []string{"2"},
			want: "Bob left.", wantTitle: "Member left"},
		{name: "left, no actor", loc: "en", removal: audit.RemovalLeft, targets: []string{"2"}, want: "Bob left."},
		{name: "kicked by an unknown moderator", loc: "en", actorID: "2", actorName: "Bob", removal: audit.RemovalKicked,
			targets: []string{"2"}, want: "Someone removed Bob."},
		{name: "no target", loc: "en", actorID: "3", actorName: "Carol", want: "Carol left.", dropTargetName: true},
		{name: "no target name", loc: "en", actorID: "1", actorName: "Alice", targets: []string{"2"},
			want: "Alice removed 2.", dropTargetName: true},
		{name: "fr kicked", loc: "fr", actorID: "1", actorName: "Alice", targets: []string{"2"},
			want: "Alice a expulsé Bob.", wantTitle: "Membre expulsé"},
		{name: "fr left", loc: "fr", actorID: "2", actorName: "Bob", targets: []string{"2"}, want: "Bob a quitté le serveur."},
		{name: "hi kicked", loc: "hi", actorID: "1", actorName: "Alice", targets: []string{"2"}, want: "Alice ने Bob को हटाया।"},
		{name: "hi kicked by someone", loc: "hi", actorID: "2", removal: audit.RemovalKicked, targets: []string{"2"},
			want: "किसी ने Bob को हटाया।"},
		{name: "hi left", loc: "hi", actorID: "2", targets: []string{"2"}, want: "Bob चले गए।"},
	} {
		e := &audit.Event{Type: audit.UserRemove, ActorID: c.actorID, ActorName: c.actorName, ActorType: audit.ActorNonAdmin, TargetIDs: c.targets}
		e.Params.Set(audit.ParamRemoval, c.removal)
		if !c.dropTargetName {
			e.Params.Set(audit.ParamTargetName, "Bob")
		}
		en := Render(e, c.loc)
		if en.Summary != c.want || c.wantTitle != "" && en.Title != c.wantTitle {
			t.Errorf("%s: %q / %q, want %q / %q", c.name, en.Summary, en.Title, c.want, c.wantTitle)
		}
	}
}

func TestDataRetention(t *testing.T) {
	for _, c := range []struct {
		loc                         string
		action, count, days, before string
		target                      bool
		want                        string
	}{
		{"en", audit.RetentionPurge, "12", "30", "", false, "12 records older than 30 days were purged."},
		{"en", audit.RetentionPurge, "1", "1", "", false, "1 record older than 1 day was purged."},
		{"en", audit.RetentionPurge, "3", "", "2026-08-03T12:00:00Z", false, "3 records from before 2026-08-03 were purged."},
		{"en", audit.RetentionPurge, "", "", "", false, "? old records were purged."},
		{"en", "", "5", "90", "", false, "5 records older than 90 days were purged."},
		{"en", audit.RetentionErase, "40", "", "", true, "The system erased the data of Bob."},
		{"fr", audit.RetentionPurge, "12", "30", "", false, "12 enregistrements de plus de 30 jours ont été purgés."},
		{"fr", audit.RetentionPurge, "1", "1", "", false, "1 enregistrement de plus de 1 jour a été purgé."},
		{"fr", audit.RetentionPurge, "2", "", "2026-08-03T12:00:00Z", false, "2 enregistrements antérieurs au 2026-08-03 ont été purgés."},
		{"fr", audit.RetentionErase, "40", "", "", true, "Le système a effacé les données de Bob."},
		{"hi", audit.RetentionPurge, "12", "30", "", false, "30 दिन से पुराने 12 रिकॉर्ड हटाए गए।"},
		{"hi", audit.RetentionPurge, "1", "30", "", false, "30 दिन से पुराना 1 रिकॉर्ड हटाया गया।"},
		{"hi", audit.RetentionErase, "40", "", "", true, "सिस्टम ने Bob का डेटा मिटाया।"},
	} {
		e := &audit.Event{Type: audit.DataRetention, Function: audit.FuncRetention, ActorType: audit.ActorSystem}
		e.Params.Set(audit.ParamAction, c.action)
		e.Params.Set(audit.ParamCount, c.count)
		e.Params.Set(audit.ParamDays, c.days)
		e.Params.Set(audit.ParamBefore, c.before)
		if c.target {
			e.TargetIDs = []string{"2"}
			e.Params.Set(audit.ParamTargetName, "Bob")
		}
		if got := Render(e, c.loc).Summary; got != c.want {
			t.Errorf("%s %+v: %q, want %q", c.loc, c, got, c.want)
		}
	}
	// The CLI's records: the operator is named.
	e := &audit.Event{Type: audit.DataRetention, ActorType: audit.ActorSystem, ActorID: "operator", ActorName: "operator", TargetIDs: []string{"42"}}
	e.Params.Set(audit.ParamAction, audit.RetentionErase)
	if got := Render(e, "en").Summary; got != "operator erased the data of 42." {
		t.Errorf("erase: %q", got)
	}
}

func TestFallbacks(t *testing.T) {
	e := sample(audit.UserJoin)
	for _, loc := range []string{"de", "", "xx-YY", "\x00"} {
		if got := Render(e, loc).Summary; got != "Alice joined." {
			t.Errorf("locale %q: %q", loc, got)
		}
	}
	for _, loc := range []string{"FR", "fr-CA", "fr_FR"} {
		if got := Render(e, loc).Summary; got != "Alice a rejoint le serveur." {
			t.Errorf("locale %q: %q", loc, got)
		}
	}
	if ValidLocale("de") || ValidLocale("") || ValidLocale("FR") {
		t.Error("ValidLocale accepts a locale with no catalogue")
	}

	// A translation that lacks strings: each falls back to English, words
	// included, and a title variant falls back to its type's title.
	partial := &catalog{
		one:       func(n int64) bool { return n == 1 },
		titles:    map[string]string{"USER_REMOVE": "Membre expulsé"},
		summaries: map[string]string{"USER_BAN": "{actor} a banni {target}."},
		labels:    map[string]string{FieldActor: "Auteur"},
		words:     map[string]string{"someone": "quelqu'un"},
	}
	cs := catalogs{"en": &catalogEN, "xx": partial}
	join := cs.render(e, "xx")
	if join.Summary != "Alice joined." || join.Title != "Member joined" {
		t.Errorf("missing summary and title: %q %q", join.Summary, join.Title)
	}
	if got := cs.render(sample(audit.UserBan), "xx").Summary; got != "Alice a banni Bob." {
		t.Errorf("present summary: %q", got)
	}
	anon := sample(audit.ChatMessage)
	anon.ActorName, anon.ActorID = "", ""
	anon.ActorType = audit.ActorNonAdmin
	if got := cs.render(anon, "xx").Summary; got != "Someone posted a message." {
		t.Errorf("English line with a translated word: %q", got)
	}
	left := variants()["USER_REMOVE/left"]
	if got := cs.render(left, "xx"); got.Title != "Membre expulsé" || got.Summary != "Bob left." {
		t.Errorf("variant: %q %q", got.Title, got.Summary)
	}
	var labels []string
	for _, f := range join.Fields {
		labels = append(labels, f.Label)
	}
	if !slices.Contains(labels, "Auteur") || !slices.Contains(labels, "Target") || !slices.Contains(labels, "Kind") {
		t.Errorf("labels %v: want the translated one and English for the rest", labels)
	}
	// No catalogue has the type: the generic line.
	empty := catalogs{"en": &catalog{}}
	if got := empty.render(e, "en"); got.Summary != "Alice: USER_JOIN" || got.Title != "USER_JOIN" {
		t.Errorf("no format anywhere: %q %q", got.Summary, got.Title)
	}
	if got := (catalogs{}).render(e, "fr").Summary; got != "Alice: USER_JOIN" {
		t.Errorf("no catalogues: %q", got)
	}
	// A broken translation that renders blank still gives a line.
	blank := catalogs{"en": &catalog{summaries: map[string]string{"USER_JOIN": " \u202e "}}}
	if got := blank.render(e, "en").Summary; got != "Alice: USER_JOIN" {
		t.Errorf("blank format: %q", got)
	}
}

func TestUnknownAndEmptyEvents(t *testing.T) {
	for _, c := range []struct {
		name string
		e    *audit.Event
		loc  string
		want string
	}{
		{"nil", nil, "en", "Someone: EVENT_TYPE(0)"},
		{"zero", &audit.Event{}, "fr", "Quelqu'un: EVENT_TYPE(0)"},
		{"unknown type", &audit.Event{Type: 200, ActorName: "Alice"}, "hi", "Alice: EVENT_TYPE(200)"},
		{"unknown type, system", &audit.Event{Type: 77, ActorType: audit.ActorSystem}, "en", "The system: EVENT_TYPE(77)"},
		{"id only", &audit.Event{Type: audit.ChatMessage, ActorID: "99"}, "en", "99 posted a message."},
		{"no target", &audit.Event{Type: audit.UserBan, ActorName: "Alice"}, "en", "Alice banned someone."},
		{"no target hi", &audit.Event{Type: audit.UserBan, ActorName: "Alice"}, "hi", "Alice ने किसी को प्रतिबंधित किया।"},
		{"no kind", &audit.Event{Type: audit.SecurityEvent, TargetIDs: []string{"5"}}, "en", "Security: incident involving 5."},
		{"nil params", &audit.Event{Type: audit.UserUpdate, TargetIDs: []string{"5"}}, "fr", "Le profil de 5 a été modifié."},
		{"placeholder in a name", &audit.Event{Type: audit.UserBan, ActorName: "{target}", TargetIDs: []string{"5"}}, "en", "{target} banned 5."},
		{"redacted", &audit.Event{Type: audit.ChatMessage, Redacted: true, ActorID: "7"}, "en", "7 posted a message."},
	} {
		var en Entry
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s: panic %v", c.name, r)
				}
			}()
			en = Render(c.e, c.loc)
		}()
		if en.Summary != c.want {
			t.Errorf("%s: %q, want %q", c.name, en.Summary, c.want)
		}
		if en.Title == "" || en.Footer == "" {
			t.Errorf("%s: title %q footer %q", c.name, en.Title, en.Footer)
		}
	}
	if f := Render(&audit.Event{Type: 200}, "en").Footer; f != "EVENT_TYPE(200)" {
		t.Errorf("footer of a bare record: %q", f)
	}
}

func TestHostileNamesStayOnOneLine(t *testing.T) {
	e := sample(audit.UserBan)
	e.ActorName = "Eve\n@everyone\u202eevil\u2066"
	e.Params.Set(audit.ParamTargetName, "Mallory\r\nSecurity: fake entry\u2067")
	e.Params.Set(audit.ParamReason, "line1\nline2\u202d")
	e.Params.Set("custom\nkey", "v\x00\x1b[31m")
	e.ChannelID = "c\u2028h"
	e.Attachments = []audit.Attachment{{Name: "a\n.png\u202e", URL: "https://x/\n"}}
	e.Content = "first line\nsecond line"
	for _, loc := range Locales() {
		en := Render(e, loc)
		if strings.ContainsFunc(en.Summary, isLineBreakOrBidi) {
			t.Errorf("%s: summary %q", loc, en.Summary)
		}
		if !strings.Contains(en.Summary, "Eve @everyone") || !strings.Contains(en.Summary, "Mallory  Security: fake entry") {
			t.Errorf("%s: summary %q lost the names", loc, en.Summary)
		}
		for _, f := range en.Fields {
			if strings.ContainsFunc(f.Label+f.Value, isLineBreakOrBidi) {
				t.Errorf("%s: field %q = %q", loc, f.Label, f.Value)
			}
		}
		if en.Content != e.Content {
			t.Errorf("%s: content %q: it must keep its lines", loc, en.Content)
		}
	}
}

func isLineBreakOrBidi(r rune) bool {
	return r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029' || isBidiControl(r) || unicode.IsControl(r)
}

func TestOneLine(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"Alice", 0, "Alice"},
		{"  Alice\t", 0, "Alice"},
		{"Eve\n@everyone", 0, "Eve @everyone"},
		{"a\r\nb", 0, "a  b"},
		{"x\u2028y\u2029z\u0085w", 0, "x y z w"},
		{"\u202egnp.exe", 0, "gnp.exe"},
		{"a\u202a\u202b\u202c\u202d\u202eb", 0, "ab"},
		{"a\u2066\u2067\u2068\u2069b", 0, "ab"},
		{"a\u200e\u200f\u061cb", 0, "ab"},
		{"مرحبا", 0, "مرحبا"}, // right-to-left text itself is kept
		{"नमस्ते दुनिया", 0, "नमस्ते दुनिया"}, // combining marks are kept
		{"\xff\xfe", 0, "\ufffd\ufffd"},
		{strings.Repeat("é", 50), 10, strings.Repeat("é", 10) + "…"},
		{"short", 10, "short"},
		{"", 0, ""},
		{"\n\u202e\n", 0, ""},
	} {
		if got := OneLine(c.in, c.max); got != c.want {
			t.Errorf("OneLine(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

func TestFields(t *testing.T) {
	e := sample(audit.ModerationLink)
	e.ActorID, e.ActorName, e.ActorType = "99", "chatwarden", audit.ActorBot
	e.TargetIDs = []string{"2", "3", "4"}
	e.MessageID = "m1"
	e.Params.Set(audit.ParamChannelName, "general")
	e.Params.Set(audit.ParamKind, "")
	e.Params.Set(audit.ParamCount, "")
	e.Params.Set(audit.ParamDays, "")
	e.Params.Set(audit.ParamURL, "https://evil.example/x")
	e.Params.Set(audit.ParamDomain, "evil.example")
	e.Params.Set(audit.ParamAction, "DELETE")
	e.Params.Set("escalated", "true")
	e.Params.Set("zz_custom", "value")
	e.Params.Set("old_name", "A")
	e.Params.Set("new_name", "B")
	e.Attachments = []audit.Attachment{{Name: "a.png", Size: 1536, URL: "https://cdn/a.png"}, {Size: 10}}
	e.Redacted = true

	type kv struct{ key, label, value string }
	want := []kv{
		{FieldActor, "Actor", "chatwarden (99) · bot"},
		{FieldTarget, "Target", "Bob (2)"},
		{FieldTargets, "Other targets", "3, 4"},
		{FieldChannel, "Channel", "#general (c)"},
		{FieldMessage, "Message", "m1"},
		{audit.ParamAction, "Action", "DELETE"},
		{audit.ParamURL, "URL", "https://evil.example/x"},
		{audit.ParamDomain, "Domain", "evil.example"},
		{"escalated", "Timed out", "Yes"},
		{"old_name", "Old value (name)", "A"},
		{"new_name", "New value (name)", "B"},
		{"zz_custom", "zz_custom", "value"},
		{FieldAttachment, "Attachment", "a.png (1.5 KB) https://cdn/a.png"},
		{FieldAttachment, "Attachment", "file (10 B)"},
		{FieldRedacted, "Personal data", "erased"},
	}
	check := func(loc string, en Entry, want []kv) {
		t.Helper()
		var got []kv
		for _, f := range en.Fields {
			got = append(got, kv{f.Key, f.Label, f.Value})
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s fields:\n got %q\nwant %q", loc, got, want)
		}
	}
	check("en", Render(e, "en"), want)
	for i := 0; i < 20; i++ { // map order must not leak into the fields
		if a, b := Render(e, "hi"), Render(e, "hi"); !slices.Equal(a.Fields, b.Fields) {
			t.Fatal("fields differ between renders")
		}
	}
	fr := Render(e, "fr")
	if fr.Fields[0].Value != "chatwarden (99) · bot" || fr.Fields[12].Value != "a.png (1,5 Ko) https://cdn/a.png" ||
		fr.Fields[8].Label != "Exclu temporairement" || fr.Fields[8].Value != "Oui" || fr.Fields[9].Label != "Ancienne valeur (name)" {
		t.Errorf("fr fields: %+v", fr.Fields)
	}
	hi := Render(e, "hi")
	if hi.Fields[0].Label != "कर्ता" || hi.Fields[7].Label != "डोमेन" || hi.Fields[0].Key != FieldActor {
		t.Errorf("hi fields: %+v", hi.Fields)
	}
	for _, f := range Render(e, "en").Fields {
		if f.Inline != (f.Key != FieldAttachment && len([]rune(f.Value)) <= 40) {
			t.Errorf("%s: inline %v", f.Key, f.Inline)
		}
	}

	// Channel without a name; actor with a name only; a lone target name.
	e2 := &audit.Event{Type: audit.ChatMessage, ActorName: "Alice", ChannelID: "c9", ActorType: audit.ActorNonAdmin}
	e2.Params.Set(audit.ParamTargetName, "Zed")
	check("en", Render(e2, "en"), []kv{
		{FieldActor, "Actor", "Alice · member"},
		{FieldTarget, "Target", "Zed"},
		{FieldChannel, "Channel", "#c9"},
	})
	// Telegram: a topic is labelled as one; who added a member is named,
	// with the id as the detail.
	e3 := &audit.Event{Type: audit.UserJoin, Platform: audit.Telegram, ActorID: "7", ActorName: "Zoe",
		ActorType: audit.ActorNonAdmin, ChannelID: "5"}
	e3.Params.Set(audit.ParamChannelName, "Announcements")
	e3.Params.Set("added_by", "1")
	e3.Params.Set("added_by_name", "Owner")
	check("en", Render(e3, "en"), []kv{
		{FieldActor, "Actor", "Zoe (7) · member"},
		{FieldChannel, "Topic", "#Announcements (5)"},
		{"added_by", "Added by", "Owner (1)"},
	})
	// A message sent as a channel, and a report: the ids read as names.
	e4 := &audit.Event{Type: audit.MessageReport, Platform: audit.Telegram, ActorID: "-1003", ActorName: "News",
		TargetIDs: []string{"7"}}
	e4.Params.Set(audit.ParamSenderChat, "-1003")
	e4.Params.Set(audit.ParamTargetName, "Bob")
	e4.Params.Set(audit.ParamReportedAuthor, "7")
	got := map[string]string{}
	for _, f := range Render(e4, "en").Fields {
		got[f.Key] = f.Value
	}
	if got[audit.ParamSenderChat] != "News (-1003)" || got[audit.ParamReportedAuthor] != "Bob (7)" {
		t.Errorf("sent as %q, reported author %q", got[audit.ParamSenderChat], got[audit.ParamReportedAuthor])
	}
	if f := Render(e3, "fr").Fields[1]; f.Label != "Sujet" {
		t.Errorf("fr topic label %q", f.Label)
	}
	e3.Params.Set("added_by_name", "")
	if f := Render(e3, "en").Fields[2]; f.Value != "1" {
		t.Errorf("added_by without a name: %q", f.Value)
	}
	if got := Render(&audit.Event{}, "en").Fields; len(got) != 0 {
		t.Errorf("zero event has fields %+v", got)
	}
}

func TestSizes(t *testing.T) {
	l := locales.lookup("en")
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KB", 1536: "1.5 KB", 5 << 20: "5 MB", 3 << 30: "3 GB", 1 << 50: "1024 TB"} {
		if got := size(n, l); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
	if got := size(1536, locales.lookup("fr")); got != "1,5 Ko" {
		t.Errorf("fr: %q", got)
	}
}

func TestFooter(t *testing.T) {
	e := sample(audit.ChatMessage)
	want := e.ID.String() + " · CHAT_MESSAGE · 2026-11-01T12:00:00Z"
	if got := Render(e, "hi").Footer; got != want {
		t.Errorf("footer %q, want %q", got, want)
	}
	e.Time = e.Time.In(time.FixedZone("x", 3600))
	if got := Render(e, "en").Footer; got != want {
		t.Errorf("footer not in UTC: %q", got)
	}
}

func TestLocales(t *testing.T) {
	if got := Locales(); !slices.Equal(got, []string{"en", "fr", "hi"}) {
		t.Fatalf("Locales() = %v", got)
	}
	Locales()[0] = "xx"
	if Locales()[0] != "en" {
		t.Fatal("Locales shares its slice")
	}
	if len(locales) != len(Locales()) {
		t.Fatal("Locales and the catalogues disagree")
	}
}

func FuzzRender(f *testing.F) {
	f.Add(uint8(audit.UserBan), "Alice", "1", "Bob", "2", "en", "reason", "spam", "hi\nthere", uint8(audit.ActorAdmin))
	f.Add(uint8(audit.SecurityEvent), "\u202e\n", "", "", "", "hi", "kind", "\x00", "", uint8(0))
	f.Add(uint8(audit.UserRemove), "\n", "\r", "\u2066", "\r", "fr", "removal", "KICKED", "", uint8(audit.ActorSystem))
	f.Add(uint8(audit.DataRetention), "", "", "", "", "fr-CA", "count", "1", "", uint8(audit.ActorSystem))
	f.Add(uint8(255), "{actor}", "{", "}", "{count:a|b}", "", "before", "2026-01-01T00:00:00Z", "", uint8(9))
	f.Add(uint8(audit.ChatMessage), "0", "0", "0", "0", "0", " ", "0", "", uint8('\t')) // a blank param key
	f.Fuzz(func(t *testing.T, typ uint8, actor, actorID, target, targetID, locale, key, val, content string, at uint8) {
		e := &audit.Event{Type: audit.EventType(typ), ActorName: actor, ActorID: actorID, ActorType: audit.ActorType(at),
			TargetIDs: []string{targetID}, Content: content, ChannelID: target, MessageID: val}
		if targetID == "" {
			e.TargetIDs = nil
		}
		e.Params.Set(audit.ParamTargetName, target)
		e.Params.Set(key, val)
		e.Attachments = []audit.Attachment{{Name: actor, URL: val, Size: int64(len(val))}}
		en := Render(e, locale)
		if en.Summary == "" || strings.ContainsFunc(en.Summary, isLineBreakOrBidi) {
			t.Fatalf("summary %q", en.Summary)
		}
		if en.Title == "" || en.Footer == "" || en.Content != content {
			t.Fatalf("title %q footer %q content %q", en.Title, en.Footer, en.Content)
		}
		for _, fl := range en.Fields {
			if fl.Label == "" || fl.Value == "" || strings.ContainsFunc(fl.Label+fl.Value, isLineBreakOrBidi) {
				t.Fatalf("field %+v", fl)
			}
		}
	})
}

func TestRenderCountsManyTargets(t *testing.T) {
	e := &audit.Event{Type: audit.SecurityEvent, Platform: audit.Discord, PropertyID: "1", ActorID: "9"}
	for i := range 300 {
		e.TargetIDs = append(e.TargetIDs, strconv.Itoa(1000+i))
	}
	var got string
	for _, f := range Render(e, "en").Fields {
		if f.Key == FieldTargets {
			got = f.Value
		}
	}
	if !strings.HasPrefix(got, "1001, 1002,") || !strings.HasSuffix(got, "1010 … (+289)") {
		t.Fatalf("other targets shown as %q", got)
	}
}

// Issue 18: a look-alike's log entry says what the link imitates.
func TestLookalikeSaysWhy(t *testing.T) {
	e := sample(audit.ModerationLink)
	e.Params[audit.ParamRule], e.Params[audit.ParamMatched] = "LOOKALIKE", "discord.com"
	for loc, want := range map[string]string{
		"en": "A message by Bob was removed: its link looks like discord.com.",
		"fr": "Un message de Bob a été supprimé : son lien imite discord.com.",
	} {
		if got := Render(e, loc).Summary; got != want {
			t.Errorf("%s: %q, want %q", loc, got, want)
		}
	}
	if got := Render(e, "hi").Summary; !strings.Contains(got, "discord.com") {
		t.Errorf("hi: %q does not name discord.com", got)
	}
	e.Params[audit.ParamRule] = "DENYLIST"
	if got := Render(e, "en").Summary; got != "A message by Bob was removed by link filtering." {
		t.Errorf("denylist: %q", got)
	}
}

// TestRaidEntry: a raid's entry says how it stands and how many joined,
// never "JOIN_RAID involving <an id>", and lists no raider as its target.
func TestRaidEntry(t *testing.T) {
	e := &audit.Event{Platform: audit.Discord, PropertyID: "g", Type: audit.SecurityEvent,
		Function: audit.FuncRaidGuard, ActorID: "bot", ActorName: "chatwarden", ActorType: audit.ActorBot,
		TargetIDs: []string{"1579514156074139679", "4000"},
		Params: audit.Params{audit.ParamKind: audit.KindJoinRaid, "raid_status": "ACTIVE", "raid_id": "x1",
			audit.ParamCount: "57"}}
	for locale, want := range map[string]string{"en": "Join raid in progress: 57 accounts joined so far.",
		"fr": "Raid d'arrivées en cours : 57 comptes arrivés jusqu'ici."} {
		en := Render(e, locale)
		if en.Summary != want {
			t.Errorf("%s: summary %q, want %q", locale, en.Summary, want)
		}
		for _, f := range en.Fields {
			if strings.Contains(f.Value, "1579514156074139679") || f.Key == "raid_status" {
				t.Errorf("%s: field %s = %q", locale, f.Key, f.Value)
			}
		}
	}
	e.Params["raid_status"] = "ENDED"
	e.Params[audit.ParamCount] = "1"
	if got := Render(e, "en").Summary; got != "Join raid over: 1 account joined." {
		t.Errorf("ended: %q", got)
	}
}

// A failed verification's entry says what was done to the member, since
// the kick or ban itself is not posted.
func TestVerificationFailureSaysWhatWasDone(t *testing.T) {
	e := &audit.Event{Platform: audit.Telegram, PropertyID: "-100", Type: audit.VerificationFailure,
		Function: audit.FuncVerification, ActorID: "1", ActorName: "chatwarden", ActorType: audit.ActorBot,
		TargetIDs: []string{"42"}, Params: audit.Params{audit.ParamTargetName: "Zoe", audit.ParamAction: "KICK",
			audit.ParamOutcome: "DONE", audit.ParamReason: audit.ReasonWrongAnswer}}
	for _, c := range []struct{ action, outcome, locale, want string }{
		{"KICK", "DONE", "en", "Zoe failed verification and was removed."},
		{"BAN", "DONE", "en", "Zoe failed verification and was banned."},
		{"BAN", "DONE", "fr", "Zoe a échoué à la vérification et a été banni."},
		{"KICK", "FORBIDDEN", "en", "Zoe failed verification."}, // not done: the fields say why
		{"NONE", "NONE", "en", "Zoe failed verification."},
	} {
		e.Params[audit.ParamAction], e.Params[audit.ParamOutcome] = c.action, c.outcome
		if got := Render(e, c.locale).Summary; got != c.want {
			t.Errorf("%s %s %s: %q, want %q", c.action, c.outcome, c.locale, got, c.want)
		}
	}
}

// One command that changed several settings is one entry listing them.
func TestSeveralSettingsInOneEntry(t *testing.T) {
	e := &audit.Event{Platform: audit.Discord, PropertyID: "g", Type: audit.SettingsChange, Function: audit.FuncCommand,
		ActorID: "1", ActorName: "Ada", ActorType: audit.ActorAdmin,
		Params: audit.Params{audit.ParamSetting: "verification.kind, verification.enabled",
			"old_verification.kind": "button", "new_verification.kind": "math", "new_verification.enabled": "on"}}
	en := Render(e, "en")
	if en.Summary != "Ada changed several settings." {
		t.Errorf("summary %q", en.Summary)
	}
	var labels []string
	for _, f := range en.Fields {
		labels = append(labels, f.Label+": "+f.Value)
	}
	all := strings.Join(labels, "\n")
	for _, want := range []string{"Old value (verification.kind): button", "New value (verification.kind): math",
		"New value (verification.enabled): on"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in\n%s", want, all)
		}
	}
	if got := Render(e, "fr").Summary; got != "Ada a modifié plusieurs paramètres." {
		t.Errorf("fr: %q", got)
	}
}

// Telegram's entries speak of the group and its topics, not of a server
// and its channels; Discord's keep their words.
func TestTelegramWords(t *testing.T) {
	for _, c := range []struct {
		typ          audit.EventType
		locale, want string
	}{
		{audit.PropertyUpdate, "en", "Alice updated the group settings."},
		{audit.ChannelCreate, "en", "Alice created a topic."},
		{audit.ChannelCreate, "fr", "Alice a créé un sujet."},
		{audit.UserJoin, "fr", "Alice a rejoint le groupe."},
	} {
		e := sample(c.typ)
		e.Platform = audit.Telegram
		if got := Render(e, c.locale).Summary; got != c.want {
			t.Errorf("telegram %s %s: %q, want %q", c.typ, c.locale, got, c.want)
		}
		e.Platform = audit.Discord
		if got := Render(e, c.locale).Summary; got == c.want {
			t.Errorf("discord %s %s says %q too", c.typ, c.locale, got)
		}
	}
	e := sample(audit.ChannelCreate)
	e.Platform = audit.Telegram
	if got := Render(e, "en").Title; got != "Topic created" {
		t.Errorf("telegram title %q", got)
	}
}
