package command

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

func TestSearchQueryIsScoped(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	scope := Scope{Platform: audit.Telegram, Property: "-100"}
	q, err := Search{Types: "user_join, moderation", User: "42", Since: "7d", Until: "1h", Limit: 5}.Query(scope, now)
	if err != nil {
		t.Fatal(err)
	}
	if q.Platform != audit.Telegram || q.Property != "-100" || q.User != "42" || q.Limit != 5 ||
		!q.Since.Equal(now.AddDate(0, 0, -7)) || !q.Until.Equal(now.Add(-time.Hour)) {
		t.Fatalf("query %+v", q)
	}
	if q.Types[0] != audit.UserJoin || len(q.Types) < 3 {
		t.Fatalf("types %v", q.Types)
	}
	if q, _ := (Search{}).Query(scope, now); q.Limit != 10 || q.Types != nil {
		t.Fatalf("defaults %+v", q)
	}
}

func TestSearchErrorsNameTheArgument(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		s    Search
		want string
	}{
		{Search{Types: "USER_JION"}, "type"},
		{Search{Since: "yesterday"}, "since"},
		{Search{Until: "tomorrow-ish"}, "until"},
		{Search{Limit: 1001}, "limit"},
		{Search{Limit: -1}, "limit"},
		{Search{Since: "1h", Until: "2h"}, "since"},
	} {
		_, err := tc.s.Query(Scope{Platform: audit.Discord, Property: "g"}, now)
		if !errors.Is(err, ErrBadArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want a bad %s", tc.s, err, tc.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"90m":                  now.Add(-90 * time.Minute),
		"2d":                   now.AddDate(0, 0, -2),
		"2026-11-01":           time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-01T10:00:00Z": time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
	} {
		got, err := ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-5m", "99999999d", "soon", "2026-13-01"} {
		if _, err := ParseTime(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestShowSaysWhyAChannelIsPaused(t *testing.T) {
	lines := Show(settings.Community{LogChannels: []settings.LogChannel{{ID: "c1", Types: []audit.EventType{audit.UserBan}, Paused: "missing access"}}}, "en")
	got := ""
	for _, l := range lines {
		got += l + "\n"
	}
	if !strings.Contains(got, "en (default)") || !strings.Contains(got, "c1: USER_BAN") || !strings.Contains(got, "PAUSED: missing access") {
		t.Fatalf("show:\n%s", got)
	}
}

// Errors shown in chat are sentences, without the error chain.
func TestExplain(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: chat: chatwarden cannot see -1009999999999; add it to that chat first", ErrBadArgument),
			"Chatwarden cannot see -1009999999999; add it to that chat first."},
		{fmt.Errorf("set: %w", bad("limit", "must be within 1..%d", 100)), "Limit must be within 1..100."},
		{bad("channel", "is required"), "Channel is required."},
		{bad("since", "%q is neither a duration nor a time", "x"), `Since: "x" is neither a duration nor a time.`},
		{fmt.Errorf("%w: %v", ErrBadArgument, errors.New(`link_filter.mode: "sometimes" is not one of denylist, allowlist`)),
			`link_filter.mode: "sometimes" is not one of denylist, allowlist.`},
		{fmt.Errorf("%w: user: chatwarden has not seen @x in this group; use their numeric id", ErrBadArgument),
			"Chatwarden has not seen @x in this group; use their numeric id."},
		{errors.New("store: bbolt: database not open"), "fallback"},
		{nil, "fallback"},
	} {
		if got := Explain(c.err, "fallback"); got != c.want {
			t.Errorf("Explain(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// A pager button's refusals are sentences; Load's errors carry the why
// for the log.
func TestPageRefusals(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := &Pages{Store: s, Now: func() time.Time { return now }}
	scope := Scope{Platform: audit.Telegram, Property: "-100"}
	id, err := p.Save(PageState{Scope: scope, Invoker: "7", Query: store.Query{Platform: audit.Telegram, Property: "-100"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Load(id, scope, "7"); err != nil {
		t.Fatalf("a fresh page: %v", err)
	}
	const fallback = "fallback"
	for _, c := range []struct {
		name, id, presser string
		scope             Scope
		age               time.Duration
		want              string
		is                error
	}{
		{"unknown id", "nope", "7", scope, 0, "These results have expired; run the search again.", ErrPageExpired},
		{"too old", id, "7", scope, PageTTL + time.Minute, "These results have expired; run the search again.", ErrPageExpired},
		{"another community", id, "7", Scope{Platform: audit.Telegram, Property: "-200"}, 0,
			"These results belong to another community.", ErrPageElsewhere},
		{"another member", id, "8", scope, 0, "Only the member who searched can page through these results.", ErrPageNotYours},
	} {
		p.Now = func() time.Time { return now.Add(c.age) }
		_, err := p.Load(c.id, c.scope, c.presser)
		if !errors.Is(err, c.is) {
			t.Errorf("%s: %v, want %v", c.name, err, c.is)
		}
		if got := PageRefusal(err, fallback); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if got := PageRefusal(errors.New("store: closed"), fallback); got != fallback {
		t.Errorf("another error: %q", got)
	}
}

// "Who changed permissions this week": /audit search type:permissions,
// the CLI's --type and the Telegram command take the preset.
func TestParseTypesPresets(t *testing.T) {
	got, err := ParseTypes("permissions, USER_BAN")
	if err != nil {
		t.Fatal(err)
	}
	want := []audit.EventType{audit.UserBan, audit.RoleCreate, audit.RoleUpdate, audit.RoleDelete, audit.ChannelPermissionUpdate}
	if !slices.Equal(got, want) {
		t.Fatalf("permissions, USER_BAN: %v, want %v", got, want)
	}
	if _, err := ParseTypes("permisions"); err == nil {
		t.Fatal("a misspelt preset was taken")
	}
}
