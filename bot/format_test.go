package bot

import (
	"strings"
	"testing"
	"time"
)

func sample(t EventType) *Event {
	e := &Event{ID: MakeID(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), 7), Time: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
		Platform: Discord, PropertyID: "g", Type: t, Function: FuncGateway, ActorType: ActorAdmin,
		ActorID: "1", ActorName: "Alice", TargetIDs: []string{"2"}, ChannelID: "c"}
	e.Params.Set(ParamTargetName, "Bob")
	e.Params.Set(ParamKind, KindImpersonation)
	e.Params.Set(ParamCount, "12")
	e.Params.Set(ParamDays, "30")
	return e
}

func TestEveryTypeInEveryLocale(t *testing.T) {
	for _, loc := range Locales() {
		c := locales[loc]
		for _, typ := range EventTypes() {
			if c.titles[typ] == "" || c.summaries[typ.String()] == "" {
				t.Errorf("%s: %s has no title or summary", loc, typ)
			}
			en := Render(sample(typ), loc)
			if en.Summary == "" || en.Title == "" || strings.Contains(en.Summary, "{") {
				t.Errorf("%s %s: summary %q title %q", loc, typ, en.Summary, en.Title)
			}
			f := locales[loc].summaries[typ.String()]
			if strings.Contains(f, "{actor}") && !strings.Contains(en.Summary, "Alice") ||
				strings.Contains(f, "{target}") && !strings.Contains(en.Summary, "Bob") {
				t.Errorf("%s %s: %q lacks the names", loc, typ, en.Summary)
			}
		}
		for _, variant := range []string{"USER_REMOVE/left", "DATA_RETENTION/purge"} {
			if c.summaries[variant] == "" {
				t.Errorf("%s: no %s", loc, variant)
			}
		}
	}
}

func TestEnglishFormatsOfEVENTSmd(t *testing.T) {
	for typ, want := range map[EventType]string{
		UserJoin:            "Alice joined.",
		UserBan:             "Alice banned Bob.",
		ChatMessage:         "Alice posted a message.",
		SecurityEvent:       "Security: IMPERSONATION involving Bob.",
		ModerationLink:      "A message by Bob was removed by link filtering.",
		VerificationFailure: "Bob failed verification.",
	} {
		if got := Render(sample(typ), "en").Summary; got != want {
			t.Errorf("%s: %q, want %q", typ, got, want)
		}
	}
}

func TestUserRemoveForms(t *testing.T) {
	kicked := sample(UserRemove)
	if got := Render(kicked, "en").Summary; got != "Alice removed Bob." {
		t.Fatalf("kick: %q", got)
	}
	left := sample(UserRemove)
	left.ActorID, left.ActorName, left.TargetIDs = "2", "Bob", []string{"2"}
	if got := Render(left, "en").Summary; got != "Bob left." {
		t.Fatalf("leave: %q", got)
	}
	purge := sample(DataRetention)
	purge.Params.Set(ParamAction, RetentionPurge)
	if got := Render(purge, "fr").Summary; got != "12 enregistrements de plus de 30 jours ont été purgés." {
		t.Fatalf("purge: %q", got)
	}
}

func TestFallbacks(t *testing.T) {
	e := sample(UserJoin)
	if got := Render(e, "de").Summary; got != "Alice joined." {
		t.Fatalf("unknown locale: %q", got)
	}
	// A key missing from French falls back to English.
	saved := catalogFR.summaries["USER_JOIN"]
	delete(catalogFR.summaries, "USER_JOIN")
	got := Render(e, "fr").Summary
	catalogFR.summaries["USER_JOIN"] = saved
	if got != "Alice joined." {
		t.Fatalf("missing French key: %q", got)
	}
	if got := Render(&Event{Type: 200}, "hi").Summary; got == "" {
		t.Fatal("unknown type: empty summary")
	}
	if got := Render(nil, "en"); got.Summary == "" {
		t.Fatal("nil event: empty summary")
	}
	anon := sample(ChatMessage)
	anon.ActorName, anon.ActorID, anon.ActorType = "", "", ActorSystem
	if got := Render(anon, "fr").Summary; got != "le système a publié un message." {
		t.Fatalf("no actor: %q", got)
	}
}

func TestHostileNamesStayOnOneLine(t *testing.T) {
	e := sample(UserBan)
	e.ActorName = "Eve\n@everyone\u202eevil\u2066"
	e.Params.Set(ParamTargetName, "Mallory\r\nSecurity: fake entry")
	e.Params.Set(ParamReason, "line1\nline2")
	en := Render(e, "en")
	if strings.ContainsAny(en.Summary, "\n\r\u202e\u2066") {
		t.Fatalf("summary %q", en.Summary)
	}
	for _, f := range en.Fields {
		if strings.ContainsAny(f.Value, "\n\r\u202e") {
			t.Fatalf("field %s = %q", f.Label, f.Value)
		}
	}
	if OneLine(strings.Repeat("é", 500), 10) != strings.Repeat("é", 10)+"…" {
		t.Fatal("OneLine does not cut at runes")
	}
}

func TestFieldsAreDeterministic(t *testing.T) {
	e := sample(ModerationLink)
	e.Params.Set(ParamURL, "https://evil.example/x")
	e.Params.Set(ParamDomain, "evil.example")
	e.Attachments = []Attachment{{Name: "a.png", Size: 10, URL: "https://cdn/a.png"}}
	a, b := Render(e, "hi"), Render(e, "hi")
	if len(a.Fields) == 0 || len(a.Fields) != len(b.Fields) {
		t.Fatal("fields differ between renders")
	}
	for i := range a.Fields {
		if a.Fields[i] != b.Fields[i] {
			t.Fatalf("field %d differs", i)
		}
	}
	var labels []string
	for _, f := range a.Fields {
		labels = append(labels, f.Label)
	}
	if !strings.Contains(strings.Join(labels, "|"), "डोमेन") {
		t.Fatalf("Hindi labels missing: %v", labels)
	}
}

func FuzzRender(f *testing.F) {
	f.Add("Alice", "Bob", "USER_BAN", "en", "reason")
	f.Add("\u202e\n", "", "SECURITY_EVENT", "hi", "\x00")
	f.Add("\n", "\r", "", "en", "") // a blank name falls back to an id that must be sanitised too
	f.Fuzz(func(t *testing.T, actor, target, typ, locale, reason string) {
		tp, _ := ParseEventType(typ)
		e := &Event{Type: tp, ActorName: actor, ActorID: actor, TargetIDs: []string{target}}
		e.Params.Set(ParamTargetName, target)
		e.Params.Set(ParamReason, reason)
		en := Render(e, locale)
		if en.Summary == "" || strings.ContainsAny(en.Summary, "\n\r") {
			t.Fatalf("summary %q", en.Summary)
		}
	})
}
