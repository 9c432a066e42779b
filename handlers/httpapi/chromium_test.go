package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/internal/chromium"
	"github.com/chatwarden/chatwarden/logentry"
)

// TestViewerInChromium logs in, filters and pages in a real browser.
func TestViewerInChromium(t *testing.T) {
	c := chromium.Start(t)
	e := newEnv(t)
	var evs []*audit.Event
	for i := range 60 {
		typ := audit.ChatMessage
		if i%3 == 0 {
			typ = audit.UserJoin
		}
		evs = append(evs, ev(i, typ, func(x *audit.Event) { x.Content = fmt.Sprintf("message <b>%d</b>", i) }))
	}
	e.record(evs...)
	e.record(ev(1, audit.UserBan, inProp(audit.Telegram, propB)))

	// Log in.
	c.Navigate(e.ts.URL + "/")
	c.WaitFor("the login form", "!!document.getElementById('login')")
	c.Must(fmt.Sprintf(`document.getElementById('token').value = %q; document.getElementById('login').submit(); true`, e.tokA))
	c.WaitFor("the log page", "!!document.getElementById('entries')")
	if got := c.Must("document.getElementById('scope').textContent"); got != pathA {
		t.Errorf("scope %v", got)
	}
	if n := c.Count("article.entry"); n != ViewerPageSize {
		t.Errorf("first page: %d entries", n)
	}
	if v := c.Must("document.cookie"); v != "" {
		t.Errorf("the session cookie is readable by script: %q", v)
	}
	// User content is text, never markup.
	if n := c.Count(".content b"); n != 0 {
		t.Errorf("%d <b> elements from message content", n)
	}
	if v := c.Must("document.querySelector('.content').textContent"); v != "message <b>59</b>" {
		t.Errorf("content %v", v)
	}

	// Page back and forth.
	c.Must("document.getElementById('older').click(); true")
	c.WaitFor("the older page", "location.search.includes('page=') && !!document.getElementById('newer')")
	if n := c.Count("article.entry"); n != 10 || c.Count("#older") != 0 {
		t.Errorf("older page: %d entries, older link %d", n, c.Count("#older"))
	}
	if v := c.Must("document.querySelector('.entry .footer').textContent"); !strings.HasPrefix(v.(string), evs[9].ID.String()) {
		t.Errorf("the older page starts with %v, want record %s", v, evs[9].ID)
	}
	c.Must("document.getElementById('newer').click(); true")
	c.WaitFor("the newer page", "document.querySelectorAll('article.entry').length === 50 && !document.getElementById('newer')")

	// Filter by type: the summaries are the log channels' format.
	c.Must("document.getElementById('f-type').value = 'USER_JOIN'; document.getElementById('apply').click(); true")
	c.WaitFor("the type filter", "location.search.includes('type=USER_JOIN')")
	if n := c.Count("article.entry"); n != 20 {
		t.Errorf("USER_JOIN: %d entries", n)
	}
	want := logentry.Render(evs[57], "en").Summary
	if v := c.Must("document.querySelector('.entry .summary').textContent"); v != want {
		t.Errorf("summary %q, want %q", v, want)
	}
	// Filter by user and time as well.
	c.Must(`document.getElementById('f-user').value = 'u2';
		document.getElementById('f-since').value = '2026-10-01T00:30:00Z';
		document.getElementById('apply').click(); true`)
	c.WaitFor("the user filter", "location.search.includes('user=u2')")
	var wantN int
	for i, x := range evs {
		if x.Type == audit.UserJoin && x.ActorID == "u2" && i >= 30 {
			wantN++
		}
	}
	if n := c.Count("article.entry"); n != wantN {
		t.Errorf("USER_JOIN by u2 since 00:30: %d entries, want %d", n, wantN)
	}
	// A bad filter is explained on the page.
	c.Must("document.getElementById('f-until').value = 'next week'; document.getElementById('apply').click(); true")
	c.WaitFor("the error", "!!document.getElementById('error')")
	if v := c.Must("document.getElementById('error').textContent"); !strings.HasPrefix(v.(string), "until:") {
		t.Errorf("error %q", v)
	}

	// The export link downloads what the filters match, with the session.
	c.Must("document.getElementById('f-until').value = ''; document.getElementById('f-user').value = ''; document.getElementById('f-since').value = ''; document.getElementById('apply').click(); true")
	c.WaitFor("the cleared filters", "location.search.includes('until=&')")
	href := c.Must("document.getElementById('export-csv').href").(string)
	var cookies struct {
		Cookies []struct {
			Name     string `json:"name"`
			Value    string `json:"value"`
			HTTPOnly bool   `json:"httpOnly"`
			SameSite string `json:"sameSite"`
		} `json:"cookies"`
	}
	if err := c.Call("Network.getCookies", map[string]any{"urls": []string{e.ts.URL}}, &cookies); err != nil {
		t.Fatal(err)
	}
	if len(cookies.Cookies) != 1 || !cookies.Cookies[0].HTTPOnly || cookies.Cookies[0].SameSite != "Strict" {
		t.Fatalf("cookies %+v", cookies.Cookies)
	}
	req, _ := http.NewRequest("GET", href, nil)
	req.AddCookie(&http.Cookie{Name: cookies.Cookies[0].Name, Value: cookies.Cookies[0].Value})
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Count(string(body), "\n") != 21 {
		t.Errorf("export %s: %d, %d lines", href, resp.StatusCode, strings.Count(string(body), "\n"))
	}

	// Log out.
	c.Must("document.getElementById('logout').click(); true")
	c.WaitFor("the login form again", "!!document.getElementById('login')")
	if err := c.Call("Network.getCookies", map[string]any{"urls": []string{e.ts.URL}}, &cookies); err != nil || len(cookies.Cookies) != 0 {
		t.Errorf("cookies after logout: %+v %v", cookies.Cookies, err)
	}
}
