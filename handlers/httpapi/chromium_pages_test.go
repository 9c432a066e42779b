package httpapi

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/internal/chromium"
)

// TestViewerPagesInChromium logs in through a one-time link, finds Dave by name, opens his member page, the
// moderation view with his ban, an edit's before/after and the summary
// with its charts, then checks every page at 360 px: no sideways
// scrolling, Log out on screen.
func TestViewerPagesInChromium(t *testing.T) {
	c := chromium.Start(t)
	e := newEnv(t)
	e.clock.Add(base.Add(12 * time.Hour).Sub(e.clock.Now()))
	m := modFixture(e)
	shots := chromium.ScreenshotDir(t)
	c.Viewport(1200, 900)

	// Log in through a one-time link, as /audit viewer gives one.
	link, _, err := e.srv.LoginLink(context.Background(), e.ts.URL, audit.Discord, propA, command.Admin{ID: "alice", Name: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	c.Navigate(link)
	c.WaitFor("the link's form", "!!document.getElementById('link-login')")
	c.Screenshot(shots, "login-link")
	c.Must("document.getElementById('link-submit').click(); true")
	c.WaitFor("the log page", "!!document.getElementById('entries')")
	if v := c.Text("#who"); v != "Alice" {
		t.Errorf("logged in as %q", v)
	}
	// The link is used up.
	c.Navigate(link)
	c.WaitFor("the used link", "!!document.getElementById('error')")
	c.Navigate(e.ts.URL + "/")
	c.WaitFor("the log page again", "!!document.getElementById('entries')")

	// Dave by name: the suggestions know him, the filter finds his records.
	if n := c.Count(`#user-names option[value="Dave"]`); n != 1 {
		t.Errorf("%d suggestions for Dave", n)
	}
	c.Must("document.getElementById('f-user').value = 'Dave'; document.getElementById('apply').click(); true")
	c.WaitFor("Dave's records", "location.search.includes('user=Dave') && !!document.getElementById('user-note')")
	if n := c.Count("article.entry"); n == 0 || n != c.Count(`article.entry .people a[href="/member?user=dave"]`) {
		t.Errorf("%d entries, %d of them Dave's", n, c.Count(`article.entry .people a[href="/member?user=dave"]`))
	}
	c.Screenshot(shots, "log-dave")

	// His member page, from a link.
	c.Must(`document.querySelector('article.entry .people a[href="/member?user=dave"]').click(); true`)
	c.WaitFor("Dave's member page", "!!document.getElementById('member')")
	if v := c.Text("#messages"); v != "1" {
		t.Errorf("messages %q", v)
	}
	if v := c.Text("#names"); !strings.Contains(v, hostileName) || c.Count("#names img") != 0 {
		t.Errorf("names %q", v)
	}
	if v := c.Text("#actions"); !strings.Contains(v, "raiding") || !strings.Contains(v, "ban") {
		t.Errorf("actions on Dave: %q", v)
	}
	c.Screenshot(shots, "member")

	// The moderation view: his ban, with moderator and reason.
	c.Must(`document.querySelector('#nav a[href="/moderation"]').click(); true`)
	c.WaitFor("the moderation view", "!!document.getElementById('actions') && location.pathname === '/moderation'")
	ban := c.Text("#actions tr.act-ban")
	if !strings.Contains(ban, "مدير") || !strings.Contains(ban, "raiding") || !strings.Contains(ban, hostileName) {
		t.Errorf("the ban's row: %q", ban)
	}
	c.Must("document.getElementById('f-action').value = 'kick'; document.getElementById('apply').click(); true")
	c.WaitFor("kicks only", "location.search.includes('action=kick')")
	if n, k := c.Count("#actions tbody tr"), c.Count("#actions tr.act-kick"); n != 1 || k != 1 {
		t.Errorf("kick filter: %d rows, %d kicks", n, k)
	}
	c.Screenshot(shots, "moderation")

	// An edit's before and after.
	c.Navigate(e.ts.URL + "/record?id=" + m["edit"].ID.String())
	c.WaitFor("the edit", "!!document.querySelector('.diff')")
	if d, i := c.Text(".diff del"), c.Text(".diff ins"); d != "all" || i != "everyone" {
		t.Errorf("diff: removed %q, added %q", d, i)
	}

	// The summary and its charts.
	c.Navigate(e.ts.URL + "/summary")
	c.WaitFor("the summary", "!!document.getElementById('chart-daily')")
	if n := c.Count("#chart-daily svg rect.cat-moderation"); n < 2 {
		t.Errorf("%d moderation bars (and legend) in the daily chart", n)
	}
	if n := c.Count("#chart-members svg rect.joins"); n < 2 {
		t.Errorf("%d join bars (and legend)", n)
	}
	if v := c.Text("#moderators"); !strings.Contains(v, "مدير") {
		t.Errorf("moderators: %q", v)
	}
	c.Screenshot(shots, "summary")

	// 360 px wide: nothing scrolls sideways, Log out is on screen.
	c.Viewport(360, 740)
	for _, path := range []string{"/", "/moderation", "/member?user=dave", "/summary", "/record?id=" + m["edit"].ID.String()} {
		c.Navigate(e.ts.URL + path)
		c.WaitFor(path, "!!document.getElementById('logout') && document.location.pathname === "+fmt.Sprintf("%q", strings.SplitN(path, "?", 2)[0]))
		if w := c.Must("document.documentElement.scrollWidth - window.innerWidth"); w.(float64) > 0 {
			t.Errorf("%s at 360 px: %v px too wide", path, w)
		}
		onScreen := c.Must(`(() => { const r = document.getElementById('logout').getBoundingClientRect();
			return r.width > 0 && r.left >= 0 && r.top >= 0 && r.right <= window.innerWidth && r.bottom <= window.innerHeight; })()`)
		if onScreen != true {
			t.Errorf("%s at 360 px: Log out is not on screen", path)
		}
		c.Screenshot(shots, "360"+strings.NewReplacer("/", "-", "?", "-", "=", "-").Replace(path))
	}
	t.Logf("screenshots in %s", shots)
}
