package command

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/settings"
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
