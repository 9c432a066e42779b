package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/store"
)

func TestLoginLinks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other := ev(1, audit.UserBan, inProp(audit.Telegram, propB))
	e.record(ev(2, audit.UserJoin), other)
	alice := command.Admin{ID: "alice", Name: "Alice <b>"}
	if _, _, err := e.srv.LoginLink(ctx, "", audit.Discord, propA, alice); !errors.Is(err, ErrNoPublicURL) {
		t.Errorf("no public URL: %v", err)
	}
	if _, _, err := e.srv.LoginLink(ctx, "javascript:alert(1)", audit.Discord, propA, alice); err == nil {
		t.Error("a javascript: public URL was taken")
	}
	link, expires, err := e.srv.LoginLink(ctx, "https://viewer.example/", audit.Discord, propA, alice)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, "https://viewer.example/login/link?code=cwl_") || !expires.Equal(e.clock.Now().Add(LoginLinkTTL)) {
		t.Fatalf("link %s, expires %v", link, expires)
	}
	u, _ := url.Parse(link)
	code := u.Query().Get("code")

	// Opening the link (as a chat's link preview would) uses nothing up.
	b := e.browser(t)
	for range 2 {
		resp, page := b.do("GET", u.RequestURI(), nil)
		if resp.StatusCode != 200 || !strings.Contains(page, `id="link-login"`) || !strings.Contains(page, "Alice &lt;b&gt;") ||
			!strings.Contains(page, pathA) || len(resp.Cookies()) != 0 {
			t.Fatalf("link form: %d\n%s", resp.StatusCode, page)
		}
	}
	if resp, _ := b.do("POST", "/login/link", url.Values{"code": {code}}, "Origin", "https://evil.example"); resp.StatusCode != 403 {
		t.Errorf("cross-site post: %d", resp.StatusCode)
	}
	resp, _ := b.do("POST", "/login/link", url.Values{"code": {code}})
	if resp.StatusCode != 303 || len(resp.Cookies()) != 1 || strings.Contains(resp.Cookies()[0].Value, code) {
		t.Fatalf("login by link: %d %v", resp.StatusCode, resp.Cookies())
	}
	cookie := resp.Cookies()[0]
	_, page := b.do("GET", "/", nil)
	if !strings.Contains(page, `<span class="who" id="who"><bdi>Alice &lt;b&gt;</bdi></span>`) {
		t.Errorf("the page does not say who is logged in:\n%s", page)
	}
	if _, mod := b.do("GET", "/moderation", nil); !strings.Contains(mod, `id="who"><bdi>Alice &lt;b&gt;</bdi>`) {
		t.Error("the moderation view does not say who is logged in")
	}
	if !strings.Contains(page, `id="entries"`) || strings.Count(page, `<article class="entry`) != 2 { // the join, the login
		t.Errorf("the log after a link login:\n%s", page)
	}
	// The login is recorded, with who and from where.
	res, err := e.store.Query(ctx, store.Query{Platform: audit.Discord, Property: propA, Types: []audit.EventType{audit.SecurityEvent}})
	if err != nil || len(res.Events) != 1 {
		t.Fatalf("login records: %v %v", res.Events, err)
	}
	if r := res.Events[0]; r.Params[audit.ParamKind] != KindViewerLogin || r.ActorID != "alice" || r.Params[ParamRemoteAddr] != "127.0.0.1" {
		t.Errorf("login record %+v", r)
	}

	// A link works once.
	replay := e.browser(t)
	if resp, page := replay.do("POST", "/login/link", url.Values{"code": {code}}); resp.StatusCode != 410 || len(resp.Cookies()) != 0 || !strings.Contains(page, "already used") {
		t.Errorf("replayed link: %d %v", resp.StatusCode, resp.Cookies())
	}
	if resp, _ := replay.do("GET", u.RequestURI(), nil); resp.StatusCode != 410 {
		t.Errorf("used link opened again: %d", resp.StatusCode)
	}
	for _, bad := range []string{"", "cwl_nope", "cwv_nope"} {
		if resp, _ := replay.do("POST", "/login/link", url.Values{"code": {bad}}); resp.StatusCode != 410 {
			t.Errorf("code %q: %d", bad, resp.StatusCode)
		}
	}

	// The session sees its own community only.
	_, page = b.do("GET", "/?property="+url.QueryEscape(pathB), nil)
	if strings.Contains(page, propB) {
		t.Error("a link session saw another community")
	}
	if resp, _ := b.do("GET", "/record?id="+other.ID.String(), nil); resp.StatusCode != 404 {
		t.Errorf("another community's record: %d", resp.StatusCode)
	}
	if resp, _ := b.do("GET", "/export?format=csv", nil); resp.StatusCode != 200 {
		t.Errorf("export with a link session: %d", resp.StatusCode)
	}

	// A link expires.
	link2, _, err := e.srv.LoginLink(ctx, "http://127.0.0.1:8080", audit.Discord, propA, alice)
	if err != nil {
		t.Fatal(err)
	}
	u2, _ := url.Parse(link2)
	e.clock.Add(LoginLinkTTL)
	if resp, _ := e.browser(t).do("POST", "/login/link", url.Values{"code": {u2.Query().Get("code")}}); resp.StatusCode != 410 {
		t.Errorf("expired link: %d", resp.StatusCode)
	}

	// Expired links are forgotten when the next one is made.
	if _, err := e.store.GetKV(nsLoginLinks, secretKey(u2.Query().Get("code"))); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the expired link was taken: %v", err)
	}
	unopened, _, _ := e.srv.LoginLink(ctx, "https://viewer.example", audit.Discord, propA, alice)
	uo, _ := url.Parse(unopened)
	e.clock.Add(LoginLinkTTL)
	e.srv.LoginLink(ctx, "https://viewer.example", audit.Discord, propA, alice)
	if _, err := e.store.GetKV(nsLoginLinks, secretKey(uo.Query().Get("code"))); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired, never opened link is still stored: %v", err)
	}

	// Logging out ends the session on the server too.
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no logout form")
	}
	if resp, _ := b.do("POST", "/logout", url.Values{"csrf": {m[1]}}); resp.StatusCode != 303 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	stolen := e.browser(t)
	stolenURL, _ := url.Parse(e.ts.URL)
	stolen.client.Jar.SetCookies(stolenURL, []*http.Cookie{{Name: cookie.Name, Value: cookie.Value}})
	if _, page := stolen.do("GET", "/", nil); !strings.Contains(page, `action="/login"`) {
		t.Error("the session still works after logout")
	}

	// A session expires.
	b2 := e.browser(t)
	link3, _, _ := e.srv.LoginLink(ctx, "https://viewer.example", audit.Discord, propA, alice)
	u3, _ := url.Parse(link3)
	b2.do("POST", "/login/link", url.Values{"code": {u3.Query().Get("code")}})
	if _, page := b2.do("GET", "/", nil); !strings.Contains(page, `id="entries"`) {
		t.Fatal("no session")
	}
	e.clock.Add(LinkSessionTTL + time.Second)
	if _, page := b2.do("GET", "/", nil); !strings.Contains(page, `action="/login"`) {
		t.Error("the session outlived LinkSessionTTL")
	}
}

// TestLinkSessionRecheck: a link session asks the platform again, at most
// every AccessRecheck, whether its moderator may still read the log; a
// moderator who lost the permission is logged out with a sentence, and a
// platform that cannot answer serves nothing but ends nothing.
func TestLinkSessionRecheck(t *testing.T) {
	var mu sync.Mutex
	allowed, failing, asked := true, false, 0
	access := func(_ context.Context, p audit.Platform, property, user string) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		asked++
		if p != audit.Discord || property != propA || user != "alice" {
			t.Errorf("asked about %v %s %s", p, property, user)
		}
		if failing {
			return false, errors.New("discord: 503")
		}
		return allowed, nil
	}
	set := func(a, f bool) { mu.Lock(); allowed, failing = a, f; mu.Unlock() }
	count := func() int { mu.Lock(); defer mu.Unlock(); return asked }
	e := newEnv(t, func(o *Options) { o.ViewerAccess = access; o.AccessRecheck = 5 * time.Minute })
	e.record(ev(2, audit.UserJoin))
	link, _, err := e.srv.LoginLink(context.Background(), "https://viewer.example", audit.Discord, propA, command.Admin{ID: "alice", Name: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	b := e.browser(t)
	if resp, _ := b.do("POST", "/login/link", url.Values{"code": {u.Query().Get("code")}}); resp.StatusCode != 303 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	e.clock.Add(time.Minute)
	if _, page := b.do("GET", "/", nil); !strings.Contains(page, `id="entries"`) || count() != 0 {
		t.Fatalf("within the interval the platform was asked %d times:\n%s", count(), page)
	}
	e.clock.Add(5 * time.Minute)
	if _, page := b.do("GET", "/moderation", nil); !strings.Contains(page, `id="who"`) || count() != 1 {
		t.Fatalf("after the interval: asked %d times", count())
	}
	b.do("GET", "/", nil)
	if count() != 1 {
		t.Errorf("a confirmed session was checked again at once (%d)", count())
	}

	// The platform does not answer: nothing is served, the session stays.
	e.clock.Add(5 * time.Minute)
	set(true, true)
	resp, page := b.do("GET", "/summary", nil)
	if resp.StatusCode != 503 || !strings.Contains(page, "could not be checked just now") || strings.Contains(page, `id="who"`) {
		t.Fatalf("check failed: %d\n%s", resp.StatusCode, page)
	}
	set(true, false)
	if _, page := b.do("GET", "/", nil); !strings.Contains(page, `id="entries"`) {
		t.Fatal("the session did not survive a failed check")
	}

	// Demoted: the next check ends the session, with a sentence.
	e.clock.Add(5 * time.Minute)
	set(false, false)
	resp, page = b.do("GET", "/export?format=csv", nil)
	if resp.StatusCode != 403 || !strings.Contains(page, "no longer have the permission") || strings.Contains(page, "remote_addr") {
		t.Fatalf("demoted: %d\n%s", resp.StatusCode, page)
	}
	set(true, false) // even if they are promoted again, the session is gone
	if _, page := b.do("GET", "/", nil); !strings.Contains(page, `action="/login"`) || strings.Contains(page, `id="entries"`) {
		t.Errorf("the session outlived the lost permission:\n%s", page)
	}
	if !strings.Contains(e.logBuf.String(), "lost the permission") {
		t.Error("the ended session is not logged")
	}
}

// TestViewerExportsAreRecorded: every download from the viewer is a
// SECURITY_EVENT VIEWER_EXPORT saying who, from where, in which format and
// with which filters; a download with a bad format records nothing.
func TestViewerExportsAreRecorded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.record(ev(1, audit.UserJoin), ev(2, audit.UserBan))
	exports := func() []*audit.Event {
		t.Helper()
		res, err := e.store.Query(ctx, store.Query{Platform: audit.Discord, Property: propA, Types: []audit.EventType{audit.SecurityEvent}})
		if err != nil {
			t.Fatal(err)
		}
		var out []*audit.Event
		for _, x := range res.Events {
			if x.Params[audit.ParamKind] == KindViewerExport {
				out = append(out, x)
			}
		}
		return out
	}

	// A moderator's link session.
	link, _, err := e.srv.LoginLink(ctx, "https://viewer.example", audit.Discord, propA, command.Admin{ID: "alice", Name: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	b := e.browser(t)
	b.do("POST", "/login/link", url.Values{"code": {u.Query().Get("code")}})
	if resp, _ := b.do("GET", "/export?format=bogus", nil); resp.StatusCode != 400 || len(exports()) != 0 {
		t.Fatalf("a refused export: %d, %d records", resp.StatusCode, len(exports()))
	}
	resp, body := b.do("GET", "/export?format=csv&type=moderation&user=dave&page=xyz&since=", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "id,time,") {
		t.Fatalf("export: %d %q", resp.StatusCode, body)
	}
	got := exports()
	if len(got) != 1 {
		t.Fatalf("%d export records", len(got))
	}
	x := got[0]
	if x.ActorType != audit.ActorAdmin || x.ActorID != "alice" || x.ActorName != "Alice" || x.Params[ParamRemoteAddr] != "127.0.0.1" ||
		x.Params[ParamFormat] != "csv" || x.Params[ParamFilters] != "type=moderation&user=dave" || x.Params[ParamTokenID] != "" {
		t.Errorf("export record by a link session: %+v %v", x, x.Params)
	}

	// A token session: the token is named.
	tb := e.browser(t)
	tb.do("POST", "/login", url.Values{"token": {e.tokA}})
	if resp, _ := tb.do("GET", "/export", nil); resp.StatusCode != 200 {
		t.Fatalf("token export: %d", resp.StatusCode)
	}
	got = exports()
	if len(got) != 2 {
		t.Fatalf("%d export records after the token's", len(got))
	}
	info, err := e.srv.Tokens().Lookup(ctx, e.tokA)
	if err != nil {
		t.Fatal(err)
	}
	if x := got[0]; x.Params[ParamTokenID] != info.ID || x.Params[ParamFormat] != "ndjson" || x.Params[ParamFilters] != "" || x.ActorID != info.CreatedBy {
		t.Errorf("export record by a token session: %+v %v", x, x.Params)
	}
}
