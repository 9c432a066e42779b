package httpapi

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
)

// TestTimeZone: times show in the zone the moderator chose in the header,
// remembered with a link session (and in a cookie for a token session);
// times typed in the filters are read in it; unknown zones, stale forms
// and foreign return addresses are refused.
func TestTimeZone(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ban := ev(1, audit.UserBan, func(x *audit.Event) {
		x.Time = time.Date(2026, 10, 1, 20, 0, 0, 0, time.UTC)
		x.ActorType, x.ActorID, x.ActorName = audit.ActorAdmin, "mod", "Mod"
	})
	e.record(ban)
	link, _, err := e.srv.LoginLink(ctx, "https://viewer.example", audit.Discord, propA, command.Admin{ID: "alice", Name: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	b := e.browser(t)
	b.do("POST", "/login/link", url.Values{"code": {u.Query().Get("code")}})
	recordPath := "/record?id=" + ban.ID.String()
	_, page := b.do("GET", recordPath, nil)
	if !strings.Contains(page, ">2026-10-01 20:00:00 UTC</time>") || !strings.Contains(page, `<option value="UTC" selected>`) {
		t.Fatalf("default zone:\n%s", page)
	}
	csrf := csrfField.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatal("no form token")
	}
	// Refused: a stale form, a zone not offered, a cross-site post.
	if resp, _ := b.do("POST", "/timezone", url.Values{"csrf": {"forged"}, "tz": {"Asia/Kolkata"}}); resp.StatusCode != 403 {
		t.Errorf("forged form: %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/timezone", url.Values{"csrf": {csrf[1]}, "tz": {"Mars/Olympus"}}); resp.StatusCode != 400 {
		t.Errorf("unknown zone: %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/timezone", url.Values{"csrf": {csrf[1]}, "tz": {"Asia/Kolkata"}}, "Sec-Fetch-Site", "cross-site"); resp.StatusCode != 403 {
		t.Errorf("cross-site: %d", resp.StatusCode)
	}
	if _, page := b.do("GET", recordPath, nil); !strings.Contains(page, "20:00:00 UTC") {
		t.Fatal("a refused form changed the zone")
	}
	// Chosen: back to the page, times in India's zone, remembered.
	resp, _ := b.do("POST", "/timezone", url.Values{"csrf": {csrf[1]}, "tz": {"Asia/Kolkata"}, "back": {recordPath}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != recordPath {
		t.Fatalf("set zone: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, path := range []string{recordPath, "/moderation", "/"} {
		if _, page := b.do("GET", path, nil); !strings.Contains(page, ">2026-10-02 01:30:00 IST</time>") ||
			!strings.Contains(page, `<option value="Asia/Kolkata" selected>Asia/Kolkata</option>`) {
			t.Errorf("%s in Asia/Kolkata:\n%s", path, page)
		}
	}
	// The filters' times are read in the zone: 01:00 IST is before the ban.
	if _, page := b.do("GET", "/?until=2026-10-02T01:00", nil); strings.Contains(page, ban.ID.String()) {
		t.Error("until 01:00 IST (19:30 UTC) shows the 20:00 UTC ban")
	}
	if _, page := b.do("GET", "/?since=2026-10-02T01:00", nil); !strings.Contains(page, ban.ID.String()) {
		t.Error("since 01:00 IST (19:30 UTC) hides the 20:00 UTC ban")
	}
	// Only this site's pages are returned to.
	for _, back := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		if resp, _ := b.do("POST", "/timezone", url.Values{"csrf": {csrf[1]}, "tz": {"UTC"}, "back": {back}}); resp.Header.Get("Location") != "/" {
			t.Errorf("back %q: redirected to %s", back, resp.Header.Get("Location"))
		}
	}

	// A token session keeps its choice with its session, not in a cookie.
	tb := e.browser(t)
	tb.do("POST", "/login", url.Values{"token": {e.tokA}})
	_, page = tb.do("GET", "/", nil)
	tcsrf := csrfField.FindStringSubmatch(page)
	resp, _ = tb.do("POST", "/timezone", url.Values{"csrf": {tcsrf[1]}, "tz": {"America/New_York"}})
	if c := resp.Cookies(); resp.StatusCode != 303 || len(c) != 0 {
		t.Fatalf("token session zone: %d %v", resp.StatusCode, c)
	}
	if _, page := tb.do("GET", recordPath, nil); !strings.Contains(page, ">2026-10-01 16:00:00 EDT</time>") {
		t.Errorf("token session in New York:\n%s", page)
	}
}

// TestSummaryDaysInTimeZone: the summary's charts count days of the
// session's time zone: a join at 20:00 UTC falls on the next day in India
// (a day without records has no bar).
func TestSummaryDaysInTimeZone(t *testing.T) {
	e := newEnv(t)
	e.record(ev(1, audit.UserJoin, func(x *audit.Event) { x.Time = time.Date(2026, 10, 31, 20, 0, 0, 0, time.UTC) }))
	b := e.browser(t)
	b.do("POST", "/login", url.Values{"token": {e.tokA}})
	_, page := b.do("GET", "/summary", nil)
	if !strings.Contains(page, "<title>10-31 · Joins: 1</title>") || strings.Contains(page, "<title>11-01 · Joins") {
		t.Fatalf("UTC days:\n%s", page)
	}
	csrf := csrfField.FindStringSubmatch(page)
	b.do("POST", "/timezone", url.Values{"csrf": {csrf[1]}, "tz": {"Asia/Kolkata"}})
	_, page = b.do("GET", "/summary", nil)
	if strings.Contains(page, "<title>10-31 · Joins") || !strings.Contains(page, "<title>11-01 · Joins: 1</title>") {
		t.Errorf("days in Asia/Kolkata:\n%s", page)
	}
}
