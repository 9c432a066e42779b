package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/settings"
)

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t      *testing.T
	e      *env
	client *http.Client
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	c := *e.ts.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, e: e, client: &c}
}

func (b *browser) do(method, path string, form url.Values, header ...string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.e.ts.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.e.ts.URL)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestViewer(t *testing.T) {
	e := newEnv(t)
	e.record(ev(1, audit.UserJoin), ev(2, audit.ChatMessage, func(x *audit.Event) {
		x.ActorName = `<img src=x onerror=alert(1)>`
		x.Content = `<script>alert("pwned")</script>`
	}), ev(3, audit.UserJoin, inProp(audit.Telegram, propB)))
	b := e.browser(t)

	resp, page := b.do("GET", "/", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `action="/login"`) {
		t.Fatalf("login page: %d\n%s", resp.StatusCode, page)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") || strings.Contains(page, "<script") {
		t.Errorf("CSP %q / script on the page", csp)
	}
	// A bad token: no cookie, a notice.
	resp, page = b.do("POST", "/login", url.Values{"token": {"cw_nope"}})
	if resp.StatusCode != 401 || !strings.Contains(page, "not valid") || len(resp.Cookies()) != 0 {
		t.Errorf("bad login: %d %v", resp.StatusCode, resp.Cookies())
	}
	// A cross-site post is refused.
	resp, _ = b.do("POST", "/login", url.Values{"token": {e.tokA}}, "Origin", "https://evil.example")
	if resp.StatusCode != 403 {
		t.Errorf("cross-site login: %d", resp.StatusCode)
	}
	resp, _ = b.do("POST", "/login", url.Values{"token": {e.tokA}}, "Origin", "null", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != 403 {
		t.Errorf("cross-site login (Sec-Fetch-Site): %d", resp.StatusCode)
	}
	resp, _ = b.do("POST", "/login", url.Values{"token": {e.tokA}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	c := resp.Cookies()[0]
	if c.Name != SessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || strings.Contains(c.Value, e.tokA) {
		t.Errorf("session cookie %+v", c)
	}

	resp, page = b.do("GET", "/", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, pathA) {
		t.Fatalf("log page: %d\n%s", resp.StatusCode, page)
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") ||
		!strings.Contains(page, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") {
		t.Errorf("user content is not escaped:\n%s", page)
	}
	want := logentry.Render(ev(1, audit.UserJoin), "en").Summary
	if !strings.Contains(page, want) || strings.Count(page, `class="entry `) != 2 {
		t.Errorf("entries: want %q and 2 entries\n%s", want, page)
	}
	// Only this property, whatever the query says.
	_, page = b.do("GET", "/?property="+url.QueryEscape(pathB), nil)
	if strings.Count(page, `class="entry `) != 2 || strings.Contains(page, propB) {
		t.Errorf("property parameter with a property token:\n%s", page)
	}
	// Filters, and errors naming them.
	_, page = b.do("GET", "/?type=messages", nil)
	if strings.Count(page, `class="entry `) != 1 {
		t.Errorf("type filter: %d entries", strings.Count(page, `class="entry `))
	}
	resp, page = b.do("GET", "/?since=tomorrow", nil)
	if resp.StatusCode != 400 || !strings.Contains(page, "since:") {
		t.Errorf("bad since: %d", resp.StatusCode)
	}
	resp, page = b.do("GET", "/?page=garbage", nil)
	if resp.StatusCode != 400 || !strings.Contains(page, "page:") {
		t.Errorf("bad page: %d", resp.StatusCode)
	}
	// The locale of the property's log channels.
	if _, _, err := e.store.UpdateSettings(context.Background(), audit.Discord, propA, func(s *settings.Community) error {
		s.Locale = "fr"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, page = b.do("GET", "/", nil)
	if fr := logentry.Render(ev(1, audit.UserJoin), "fr").Summary; !strings.Contains(page, `lang="fr"`) || !strings.Contains(page, fr) {
		t.Errorf("French page: want %q", fr)
	}
	// Export with the session.
	resp, body := b.do("GET", "/export?format=csv&type=members", nil)
	if resp.StatusCode != 200 || strings.Count(body, "\n") != 2 || !strings.HasPrefix(body, "id,time,") {
		t.Errorf("export: %d %q", resp.StatusCode, body)
	}
	// Logout needs the form token.
	resp, _ = b.do("POST", "/logout", url.Values{"csrf": {"forged"}})
	if resp.StatusCode != 403 {
		t.Errorf("logout without the form token: %d", resp.StatusCode)
	}
	_, page = b.do("GET", "/", nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no logout form")
	}
	resp, _ = b.do("POST", "/logout", url.Values{"csrf": {m[1]}})
	if resp.StatusCode != 303 {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	_, page = b.do("GET", "/", nil)
	if !strings.Contains(page, `action="/login"`) {
		t.Error("still logged in after logout")
	}
	if resp, _ := b.do("GET", "/export", nil); resp.StatusCode != 401 {
		t.Errorf("export after logout: %d", resp.StatusCode)
	}

	// The operator chooses a property; a revoked token ends the session.
	op := e.browser(t)
	op.do("POST", "/login", url.Values{"token": {testOperator}})
	_, page = op.do("GET", "/", nil)
	if !strings.Contains(page, `value="`+pathB+`"`) || strings.Contains(page, `class="entry `) {
		t.Errorf("operator start page:\n%s", page)
	}
	_, page = op.do("GET", "/?property="+url.QueryEscape(pathB), nil)
	if strings.Count(page, `class="entry `) != 1 {
		t.Errorf("operator, property B: %d entries", strings.Count(page, `class="entry `))
	}
	_, page = op.do("GET", "/?property=all", nil)
	if strings.Count(page, `class="entry `) != 4 || !strings.Contains(page, KindViewerExport) { // A's two, A's export, B's one

		t.Errorf("operator, all: %d entries", strings.Count(page, `class="entry `))
	}
	pb := e.browser(t)
	pb.do("POST", "/login", url.Values{"token": {e.tokB}})
	if _, err := e.srv.Tokens().Revoke(context.Background(), audit.Telegram, propB, e.tokB, testAdmin); err != nil {
		t.Fatal(err)
	}
	resp, page = pb.do("GET", "/", nil)
	if !strings.Contains(page, `action="/login"`) || resp.Cookies() == nil || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("revoked session: %v\n%s", resp.Cookies(), page)
	}
	// The stylesheet.
	resp, css := b.do("GET", "/static/viewer.css", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(css, ".entry") {
		t.Errorf("css: %d", resp.StatusCode)
	}
}
