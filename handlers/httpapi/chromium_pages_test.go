package httpapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
)

// screenshot writes the page as PNG to $CHATWARDEN_SCREENSHOTS, or to the
// test's temporary directory, for a reviewer to look at.
func (c *cdp) screenshot(dir, name string) {
	c.t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	if err := c.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot); err != nil {
		c.t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cdp) viewport(width, height int) {
	c.t.Helper()
	if err := c.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height,
		"deviceScaleFactor": 1, "mobile": width < 600}, nil); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cdp) text(selector string) string {
	c.t.Helper()
	v := c.must(fmt.Sprintf("(document.querySelector(%q) || {}).textContent || ''", selector))
	return v.(string)
}

// TestViewerPagesInChromium logs in through a one-time link, finds Dave by name, opens his member page, the
// moderation view with his ban, an edit's before/after and the summary
// with its charts, then checks every page at 360 px: no sideways
// scrolling, Log out on screen.
func TestViewerPagesInChromium(t *testing.T) {
	c := startChromium(t)
	e := newEnv(t)
	e.clock.Add(base.Add(12 * time.Hour).Sub(e.clock.Now()))
	m := modFixture(e)
	shots := os.Getenv("CHATWARDEN_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	c.viewport(1200, 900)

	// Log in through a one-time link, as /audit viewer gives one.
	link, _, err := e.srv.LoginLink(context.Background(), e.ts.URL, audit.Discord, propA, command.Admin{ID: "alice", Name: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	c.navigate(link)
	c.waitFor("the link's form", "!!document.getElementById('link-login')")
	c.screenshot(shots, "login-link")
	c.must("document.getElementById('link-submit').click(); true")
	c.waitFor("the log page", "!!document.getElementById('entries')")
	if v := c.text("#who"); v != "Alice" {
		t.Errorf("logged in as %q", v)
	}
	// The link is used up.
	c.navigate(link)
	c.waitFor("the used link", "!!document.getElementById('error')")
	c.navigate(e.ts.URL + "/")
	c.waitFor("the log page again", "!!document.getElementById('entries')")

	// Dave by name: the suggestions know him, the filter finds his records.
	if n := c.count(`#user-names option[value="Dave"]`); n != 1 {
		t.Errorf("%d suggestions for Dave", n)
	}
	c.must("document.getElementById('f-user').value = 'Dave'; document.getElementById('apply').click(); true")
	c.waitFor("Dave's records", "location.search.includes('user=Dave') && !!document.getElementById('user-note')")
	if n := c.count("article.entry"); n == 0 || n != c.count(`article.entry .people a[href="/member?user=dave"]`) {
		t.Errorf("%d entries, %d of them Dave's", n, c.count(`article.entry .people a[href="/member?user=dave"]`))
	}
	c.screenshot(shots, "log-dave")

	// His member page, from a link.
	c.must(`document.querySelector('article.entry .people a[href="/member?user=dave"]').click(); true`)
	c.waitFor("Dave's member page", "!!document.getElementById('member')")
	if v := c.text("#messages"); v != "1" {
		t.Errorf("messages %q", v)
	}
	if v := c.text("#names"); !strings.Contains(v, hostileName) || c.count("#names img") != 0 {
		t.Errorf("names %q", v)
	}
	if v := c.text("#actions"); !strings.Contains(v, "raiding") || !strings.Contains(v, "ban") {
		t.Errorf("actions on Dave: %q", v)
	}
	c.screenshot(shots, "member")

	// The moderation view: his ban, with moderator and reason.
	c.must(`document.querySelector('#nav a[href="/moderation"]').click(); true`)
	c.waitFor("the moderation view", "!!document.getElementById('actions') && location.pathname === '/moderation'")
	ban := c.text("#actions tr.act-ban")
	if !strings.Contains(ban, "مدير") || !strings.Contains(ban, "raiding") || !strings.Contains(ban, hostileName) {
		t.Errorf("the ban's row: %q", ban)
	}
	c.must("document.getElementById('f-action').value = 'kick'; document.getElementById('apply').click(); true")
	c.waitFor("kicks only", "location.search.includes('action=kick')")
	if n, k := c.count("#actions tbody tr"), c.count("#actions tr.act-kick"); n != 1 || k != 1 {
		t.Errorf("kick filter: %d rows, %d kicks", n, k)
	}
	c.screenshot(shots, "moderation")

	// An edit's before and after.
	c.navigate(e.ts.URL + "/record?id=" + m["edit"].ID.String())
	c.waitFor("the edit", "!!document.querySelector('.diff')")
	if d, i := c.text(".diff del"), c.text(".diff ins"); d != "all" || i != "everyone" {
		t.Errorf("diff: removed %q, added %q", d, i)
	}

	// The summary and its charts.
	c.navigate(e.ts.URL + "/summary")
	c.waitFor("the summary", "!!document.getElementById('chart-daily')")
	if n := c.count("#chart-daily svg rect.cat-moderation"); n < 2 {
		t.Errorf("%d moderation bars (and legend) in the daily chart", n)
	}
	if n := c.count("#chart-members svg rect.joins"); n < 2 {
		t.Errorf("%d join bars (and legend)", n)
	}
	if v := c.text("#moderators"); !strings.Contains(v, "مدير") {
		t.Errorf("moderators: %q", v)
	}
	c.screenshot(shots, "summary")

	// 360 px wide: nothing scrolls sideways, Log out is on screen.
	c.viewport(360, 740)
	for _, path := range []string{"/", "/moderation", "/member?user=dave", "/summary", "/record?id=" + m["edit"].ID.String()} {
		c.navigate(e.ts.URL + path)
		c.waitFor(path, "!!document.getElementById('logout') && document.location.pathname === "+fmt.Sprintf("%q", strings.SplitN(path, "?", 2)[0]))
		if w := c.must("document.documentElement.scrollWidth - window.innerWidth"); w.(float64) > 0 {
			t.Errorf("%s at 360 px: %v px too wide", path, w)
		}
		onScreen := c.must(`(() => { const r = document.getElementById('logout').getBoundingClientRect();
			return r.width > 0 && r.left >= 0 && r.top >= 0 && r.right <= window.innerWidth && r.bottom <= window.innerHeight; })()`)
		if onScreen != true {
			t.Errorf("%s at 360 px: Log out is not on screen", path)
		}
		c.screenshot(shots, "360"+strings.NewReplacer("/", "-", "?", "-", "=", "-").Replace(path))
	}
	t.Logf("screenshots in %s", shots)
}
