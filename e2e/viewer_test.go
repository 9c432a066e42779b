package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/internal/chromium"
	"github.com/chatwarden/chatwarden/internal/testlog"
)

// The viewer as moderators reach it (issue 21): the real bot with its
// HTTP API, a one-time link asked for in chat (/audit viewer on the fake
// Discord, /viewer on the fake Telegram), the viewer's pages, and the
// moderator's permissions checked again during the session.

// viewerBot is bot.Run with the API against both fakes: a Discord server
// with its owner Maya, a moderator Theo (View Audit Log through the
// Moderators role) and a member Dave; a Telegram group with its creator
// Olga and an administrator Pat.
type viewerBot struct {
	base           string // the viewer's address (api.public_url)
	dfake          *discordtest.Server
	guild, general string
	maya, theo     *discordtest.User
	dave           *discordtest.User
	tfake          *telegramtest.Server
	group          telegramtest.Chat
	olga, pat      telegramtest.User
	logs           *testlog.Buffer
}

// viewerLink is a login link as the chat commands give it.
var viewerLink = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/login/link\?code=cwl_[A-Za-z0-9_-]+`)

// startViewerBot runs the bot until the test ends; recheck is
// api.permission_recheck, apiExtra more keys of the api section.
func startViewerBot(t *testing.T, recheck time.Duration, apiExtra ...string) *viewerBot {
	t.Helper()
	v := &viewerBot{logs: &testlog.Buffer{}}
	v.dfake = discordtest.New(discordtest.Options{})
	t.Cleanup(v.dfake.Close)
	user := func(name, display string) *discordtest.User {
		return &discordtest.User{ID: v.dfake.Snowflake(), Username: name, GlobalName: display}
	}
	v.maya, v.theo, v.dave = user("mayalin", "Maya Lin"), user("theo.m", "Theo"), user("dave77", "Dave")
	v.guild, v.general = v.dfake.Snowflake(), v.dfake.Snowflake()
	mods := v.dfake.Snowflake()
	v.dfake.AddGuild(&discordtest.Guild{ID: v.guild, Name: "Riverside Gardeners", OwnerID: v.maya.ID,
		Roles: []*discordtest.Role{{ID: v.guild, Name: "@everyone", Permissions: discordtest.PermissionViewChannel | discordtest.PermissionSendMessages},
			{ID: mods, Name: "Moderators", Position: 1, Permissions: discordtest.PermissionBanMembers | discordtest.PermissionKickMembers |
				discordtest.PermissionViewAuditLogs}},
		Channels: []*discordtest.Channel{{ID: v.general, GuildID: v.guild, Name: "general", Type: discordtest.ChannelTypeGuildText}},
		Members: []*discordtest.Member{{User: v.maya, Roles: []string{}}, {User: v.theo, Roles: []string{mods}},
			{User: v.dave, Roles: []string{}}}})

	v.tfake = telegramtest.New(telegramtest.Options{LongPollCap: time.Second})
	t.Cleanup(v.tfake.Close)
	v.olga, v.pat = v.tfake.NewUser("Olga"), v.tfake.NewUser("Pat")
	v.group = v.tfake.NewSupergroup("Riverside Growers", v.olga, v.pat)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	v.base = "http://" + addr
	cfg, err := config.Parse([]byte(fmt.Sprintf(`log_level: info
storage:
  path: %q
discord:
  enabled: true
  token: test-token
  api_url: %q
telegram:
  enabled: true
  token: %q
  api_url: %q
  poll_timeout: 1s
  delete_commands_after: 0s
api:
  listen: %q
  public_url: %q
  permission_recheck: %s
%s`, filepath.Join(t.TempDir(), "viewer.db"), v.dfake.APIURL(), v.tfake.Token(), v.tfake.URL, addr, v.base, recheck,
		strings.Join(apiExtra, ""))), "viewer test config")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bot.Run(ctx, cfg, zerolog.New(v.logs)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("bot.Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the bot did not stop within 30s")
		}
		if t.Failed() {
			t.Logf("the bot's log:\n%s", v.logs.String())
		}
	})
	waitUntil(t, "the bot to connect and serve", func() bool {
		resp, err := http.Get(v.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && len(v.dfake.Commands("")) > 0 && len(v.tfake.GetUpdatesCalls()) > 0
	})
	// Pat becomes an administrator of the group: the bot sees the group,
	// and its title, in the update.
	v.tfake.PromoteAdmin(v.group, v.olga, v.pat, telegramtest.AdminRights{CanDeleteMessages: true, CanRestrictMembers: true})
	return v
}

// discordLink asks for a link with /audit viewer as u, as the chat shows it.
func (v *viewerBot) discordLink(t *testing.T, u *discordtest.User) string {
	t.Helper()
	in := v.dfake.Slash(v.guild, u, "audit", "viewer")
	var link string
	waitUntil(t, "the link in /audit viewer's answer", func() bool {
		for _, r := range in.Replies() {
			if m := viewerLink.Find(r.Body); m != nil {
				link = string(m)
				return true
			}
		}
		return false
	})
	return link
}

// telegramLink asks for a link with /viewer in u's private chat with the bot.
func (v *viewerBot) telegramLink(t *testing.T, u telegramtest.User) string {
	t.Helper()
	dm := v.tfake.PrivateChat(u)
	v.tfake.Command(dm, u, "/viewer "+strconv.FormatInt(v.group.ID, 10))
	var link string
	waitUntil(t, "the link in /viewer's answer", func() bool {
		for _, m := range v.tfake.Messages(dm.ID) {
			if l := viewerLink.FindString(m.Text); l != "" {
				link = l
				return true
			}
		}
		return false
	})
	return link
}

// viewerClient is a browser without a browser: cookies, forms by hand.
type viewerClient struct {
	t *testing.T
	c *http.Client
}

func newViewerClient(t *testing.T) *viewerClient {
	jar, _ := cookiejar.New(nil)
	return &viewerClient{t: t, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (c *viewerClient) get(u string) (int, string) {
	c.t.Helper()
	resp, err := c.c.Get(u)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// login opens a link and confirms it, and returns the page it lands on.
func (c *viewerClient) login(link string) string {
	c.t.Helper()
	if code, page := c.get(link); code != 200 || !strings.Contains(page, `id="link-login"`) {
		c.t.Fatalf("the link's form: %d\n%s", code, page)
	}
	u, _ := url.Parse(link)
	resp, err := c.c.PostForm(u.Scheme+"://"+u.Host+"/login/link", url.Values{"code": {u.Query().Get("code")}})
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `id="entries"`) {
		c.t.Fatalf("after the login: %d\n%s", resp.StatusCode, b)
	}
	return string(b)
}

// TestViewerSessionEndsWhenTheModeratorIsDemoted: a moderator who loses
// their platform permission mid-session (Discord: the role that gave View
// Audit Log; Telegram: administrator status) is logged out at the next
// check, while a moderator who kept it stays in.
func TestViewerSessionEndsWhenTheModeratorIsDemoted(t *testing.T) {
	const recheck = time.Second
	v := startViewerBot(t, recheck)

	theo, maya := newViewerClient(t), newViewerClient(t)
	if page := theo.login(v.discordLink(t, v.theo)); !strings.Contains(page, "Riverside Gardeners") || !strings.Contains(page, `id="who"><bdi>Theo</bdi>`) {
		t.Fatalf("Theo's log page:\n%s", page)
	}
	maya.login(v.discordLink(t, v.maya))
	pat := newViewerClient(t)
	if page := pat.login(v.telegramLink(t, v.pat)); !strings.Contains(page, "Riverside Growers") {
		t.Fatalf("Pat's log page:\n%s", page)
	}

	// Theo loses the Moderators role; Pat is demoted.
	v.dfake.SetRoles(v.guild, v.maya.ID, v.theo.ID)
	v.tfake.DemoteAdmin(v.group, v.olga, v.pat)
	time.Sleep(recheck + 200*time.Millisecond)
	for who, c := range map[string]*viewerClient{"Theo": theo, "Pat": pat} {
		code, page := c.get(v.base + "/moderation")
		if code != 403 || !strings.Contains(page, "You no longer have the permission to read this community") || strings.Contains(page, `id="who"`) {
			t.Errorf("%s after losing the permission: %d\n%s", who, code, page)
		}
		if _, page := c.get(v.base + "/"); !strings.Contains(page, `action="/login"`) {
			t.Errorf("%s's session was not ended:\n%s", who, page)
		}
	}
	// The owner keeps hers.
	if code, page := maya.get(v.base + "/summary"); code != 200 || !strings.Contains(page, `id="who"><bdi>Maya Lin</bdi>`) {
		t.Errorf("Maya after the recheck: %d\n%s", code, page)
	}
	// And a member without the permission cannot get a new link.
	in := v.dfake.Slash(v.guild, v.theo, "audit", "viewer")
	waitUntil(t, "the refusal", func() bool {
		for _, r := range in.Replies() {
			if strings.Contains(string(r.Body), "View Audit Log") {
				return true
			}
		}
		return false
	})
	for _, r := range in.Replies() {
		if viewerLink.Match(r.Body) {
			t.Error("a demoted moderator got a link")
		}
	}
}

// waitInViewer reloads path until its entries contain want (the bot
// records what the fakes dispatch a moment later).
func (v *viewerBot) waitInViewer(t *testing.T, c *chromium.Page, path, want string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		c.Navigate(v.base + path)
		c.WaitFor(path, "location.pathname + location.search === "+fmt.Sprintf("%q", path)+" && !!document.getElementById('entries')")
		if strings.Contains(c.Text("#entries"), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %q: %q", path, want, c.Text("#entries"))
		}
	}
}

// TestViewerInChromiumThroughChat is the browser test: a link from
// a fake-Discord /audit viewer, then Dave found by name, his member page,
// his ban in the moderation view with moderator and reason, the summary's
// charts, an edit's before and after, Log out on screen at 360 px; then a
// link from a fake-Telegram /viewer. Screenshots go to
// $CHATWARDEN_SCREENSHOTS or the test's temporary directory.
func TestViewerInChromiumThroughChat(t *testing.T) {
	c := chromium.Start(t)
	shots := chromium.ScreenshotDir(t)
	v := startViewerBot(t, time.Minute)

	c.Viewport(1200, 900)
	c.Navigate(v.discordLink(t, v.theo))
	c.WaitFor("the link's form", "!!document.getElementById('link-login')")
	if got := c.Text("#link-community"); !strings.Contains(got, "Riverside Gardeners") {
		t.Errorf("the form's community: %q", got)
	}
	c.Screenshot(shots, "discord-link")
	c.Must("document.getElementById('link-submit').click(); true")
	c.WaitFor("the log page", "!!document.getElementById('entries')")
	if got := c.Text("#community"); got != "Riverside Gardeners" {
		t.Errorf("community %q", got)
	}
	if got := c.Text("#who"); got != "Theo" {
		t.Errorf("who %q", got)
	}

	// What the day holds: Dave says something (recorded before he edits
	// it, so that the edit knows the words before), then Theo bans him.
	msg := v.dfake.Say(v.guild, v.general, v.dave, "Seed swap on Saturday at 10")
	v.waitInViewer(t, c, "/?type=CHAT_MESSAGE", "Seed swap on Saturday")
	v.dfake.Edit(msg, "Seed swap on Sunday at 10")
	v.dfake.BanBy(v.guild, v.theo.ID, v.dave.ID, "selling fake seeds")

	// Dave by name, once the bot has recorded the ban.
	daveLink := fmt.Sprintf(`article.entry .people a[href="/member?user=%s"]`, v.dave.ID)
	v.waitInViewer(t, c, "/?user=Dave", "selling fake seeds")
	if c.Count(daveLink) == 0 {
		t.Errorf("Dave's records do not link his member page: %q", c.Text("#entries"))
	}
	c.Screenshot(shots, "log-dave")

	// His member page, from a link on a record.
	c.Must(fmt.Sprintf("document.querySelector(%q).click(); true", daveLink))
	c.WaitFor("Dave's member page", "!!document.getElementById('member')")
	if got := c.Text("#actions"); !strings.Contains(got, "selling fake seeds") {
		t.Errorf("actions on Dave: %q", got)
	}
	c.Screenshot(shots, "member-dave")

	// The moderation view: his ban, by Theo, with the reason.
	c.Must(`document.querySelector('#nav a[href="/moderation"]').click(); true`)
	c.WaitFor("the moderation view", "location.pathname === '/moderation' && !!document.getElementById('actions')")
	ban := c.Text("#actions tr.act-ban")
	if !strings.Contains(ban, "Theo") || !strings.Contains(ban, "Dave") || !strings.Contains(ban, "selling fake seeds") {
		t.Errorf("the ban's row: %q", ban)
	}
	c.Screenshot(shots, "moderation")

	// The summary and its charts.
	c.Must(`document.querySelector('#nav a[href="/summary"]').click(); true`)
	c.WaitFor("the summary", "location.pathname === '/summary' && !!document.getElementById('chart-daily')")
	if n := c.Count("#chart-daily svg rect"); n < 2 {
		t.Errorf("%d bars in the daily chart", n)
	}
	if n := c.Count("#chart-members svg rect.joins, #chart-members svg rect.leaves"); n < 2 {
		t.Errorf("%d bars in the joins and leaves chart", n)
	}
	c.Screenshot(shots, "summary")

	// The edit's before and after, words marked.
	c.Navigate(v.base + "/?type=CHAT_MESSAGE_EDIT")
	c.WaitFor("the edit", "!!document.querySelector('.diff')")
	if del, ins := c.Text(".diff del"), c.Text(".diff ins"); del != "Saturday" || ins != "Sunday" {
		t.Errorf("the edit's diff: removed %q, added %q", del, ins)
	}
	c.Screenshot(shots, "edit")

	// 360 px wide: Log out on screen, nothing scrolls sideways.
	c.Viewport(360, 740)
	for _, path := range []string{"/", "/moderation", "/summary", "/member?user=" + v.dave.ID} {
		c.Navigate(v.base + path)
		c.WaitFor(path, "!!document.getElementById('logout') && location.pathname === "+fmt.Sprintf("%q", strings.SplitN(path, "?", 2)[0]))
		onScreen := c.Must(`(() => { const r = document.getElementById('logout').getBoundingClientRect();
			return r.width > 0 && r.left >= 0 && r.top >= 0 && r.right <= window.innerWidth && r.bottom <= window.innerHeight; })()`)
		if onScreen != true {
			t.Errorf("%s at 360 px: Log out is not on screen", path)
		}
		if w := c.Must("document.documentElement.scrollWidth - window.innerWidth"); w.(float64) > 0 {
			t.Errorf("%s at 360 px: %v px too wide", path, w)
		}
		c.Screenshot(shots, "360"+strings.NewReplacer("/", "-", "?", "-", "=", "-").Replace(path))
	}
	c.Must("document.getElementById('logout').click(); true")
	c.WaitFor("the login page", "!!document.getElementById('login')")

	// The Telegram group, from /viewer in a private chat with the bot.
	c.Viewport(1200, 900)
	c.Navigate(v.telegramLink(t, v.pat))
	c.WaitFor("the Telegram link's form", "!!document.getElementById('link-login')")
	c.Must("document.getElementById('link-submit').click(); true")
	c.WaitFor("the group's log", "!!document.getElementById('entries')")
	if got, who := c.Text("#community"), c.Text("#who"); got != "Riverside Growers" || !strings.Contains(who, "Pat") {
		t.Errorf("the Telegram session: community %q, who %q", got, who)
	}
	if !strings.Contains(c.Text("#entries"), "Pat") {
		t.Errorf("the group's log lacks Pat's promotion: %q", c.Text("#entries"))
	}
	c.Screenshot(shots, "telegram-log")
	t.Logf("screenshots in %s", shots)
}

// TestLogInWithDiscord: the OAuth2 code grant against the fake Discord.
// A callback whose state is not the one this browser was given is
// refused before the code is used; a matching one lists the servers
// where the person has View Audit Log and chatwarden is present, and
// choosing one starts a session recorded as VIEWER_LOGIN DISCORD_OAUTH.
func TestLogInWithDiscord(t *testing.T) {
	v := startViewerBot(t, time.Minute, "  discord_oauth:\n    client_id: \"555\"\n    client_secret: sekret\n")
	redirect := v.base + "/login/discord/callback"
	v.dfake.OAuthApp("555", "sekret", redirect)

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(c *http.Client, u string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if _, page := get(browser, v.base+"/"); !strings.Contains(page, `id="login-discord"`) {
		t.Fatalf("the login page does not offer Discord:\n%s", page)
	}
	// Start: a redirect to Discord's authorization URL with a state.
	start := func() string {
		t.Helper()
		resp, _ := get(browser, v.base+"/login/discord")
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != 303 || err != nil || loc.Scheme+"://"+loc.Host != v.dfake.URL || loc.Path != "/oauth2/authorize" {
			t.Fatalf("start: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		q := loc.Query()
		if q.Get("client_id") != "555" || q.Get("scope") != "identify guilds" || q.Get("response_type") != "code" ||
			q.Get("redirect_uri") != redirect || len(q.Get("state")) < 20 {
			t.Fatalf("authorization URL %s", loc)
		}
		return q.Get("state")
	}
	state := start()
	code := v.dfake.Authorize(v.theo, "555", redirect, "identify", "guilds")
	if code == "" {
		t.Fatal("the fake gave no code")
	}
	// A wrong state, and the right state from another browser, are refused.
	other := &http.Client{Timeout: 10 * time.Second, CheckRedirect: browser.CheckRedirect}
	for name, try := range map[string]func() (*http.Response, string){
		"wrong state": func() (*http.Response, string) {
			return get(browser, redirect+"?"+url.Values{"code": {code}, "state": {state + "x"}}.Encode())
		},
		"another browser": func() (*http.Response, string) {
			return get(other, redirect+"?"+url.Values{"code": {code}, "state": {state}}.Encode())
		},
	} {
		resp, page := try()
		if resp.StatusCode != 400 || !strings.Contains(page, "not started from this browser") || strings.Contains(page, "cwl_") {
			t.Errorf("%s: %d\n%s", name, resp.StatusCode, page)
		}
	}
	// The refused callback ended the attempt: start again, then the
	// right state with the (still unused) code lists Theo's server.
	state = start()
	resp, page := get(browser, redirect+"?"+url.Values{"code": {code}, "state": {state}}.Encode())
	codes := regexp.MustCompile(`name="code" value="(cwl_[^"]+)"`).FindAllStringSubmatch(page, -1)
	if resp.StatusCode != 200 || len(codes) != 1 || !strings.Contains(page, "Riverside Gardeners") || !strings.Contains(page, "Theo") {
		t.Fatalf("choices after the callback: %d\n%s", resp.StatusCode, page)
	}
	resp, err := browser.PostForm(v.base+"/login/link", url.Values{"code": {codes[0][1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 {
		t.Fatalf("choosing the server: %d", resp.StatusCode)
	}
	if _, page := get(browser, v.base+"/?type=SECURITY_EVENT"); !strings.Contains(page, `id="who"><bdi>Theo</bdi>`) ||
		!strings.Contains(page, "VIEWER_LOGIN") || !strings.Contains(page, "DISCORD_OAUTH") {
		t.Errorf("Theo's session and its record:\n%s", page)
	}
	// Dave has no View Audit Log anywhere: a sentence, no choice.
	state = start()
	resp, page = get(browser, redirect+"?"+url.Values{"code": {v.dfake.Authorize(v.dave, "555", redirect, "identify", "guilds")}, "state": {state}}.Encode())
	if resp.StatusCode != 403 || !strings.Contains(page, "None of your Discord servers") {
		t.Errorf("Dave: %d\n%s", resp.StatusCode, page)
	}
}

// TestLogInWithTelegramWidget: the widget's answer, signed with the bot's
// token as Telegram signs it, lists the group Pat administers (asked of
// the fake Telegram); a forged hash is refused.
func TestLogInWithTelegramWidget(t *testing.T) {
	v := startViewerBot(t, time.Minute, "  telegram_login:\n    bot_username: chatwarden_test_bot\n")
	// The group has a record once Pat's promotion is recorded.
	pat := newViewerClient(t)
	pat.login(v.telegramLink(t, v.pat))

	fields := url.Values{"id": {strconv.FormatInt(v.pat.ID, 10)}, "first_name": {"Pat"},
		"auth_date": {strconv.FormatInt(time.Now().Unix(), 10)}}
	var lines []string
	for k := range fields {
		lines = append(lines, k+"="+fields.Get(k))
	}
	sort.Strings(lines)
	key := sha256.Sum256([]byte(v.tfake.Token()))
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(strings.Join(lines, "\n")))
	signed := url.Values{}
	for k, vals := range fields {
		signed[k] = vals
	}
	signed.Set("hash", hex.EncodeToString(m.Sum(nil)))
	forged := url.Values{}
	for k, vals := range signed {
		forged[k] = vals
	}
	forged.Set("first_name", "Olga")

	c := newViewerClient(t)
	if code, page := c.get(v.base + "/"); code != 200 || !strings.Contains(page, `data-telegram-login="chatwarden_test_bot"`) {
		t.Fatalf("the login page does not offer the widget: %d\n%s", code, page)
	}
	if code, page := c.get(v.base + "/login/telegram?" + forged.Encode()); code != 401 || strings.Contains(page, "cwl_") {
		t.Errorf("a forged widget answer: %d\n%s", code, page)
	}
	code, page := c.get(v.base + "/login/telegram?" + signed.Encode())
	if code != 200 || !strings.Contains(page, "Riverside Growers") || strings.Count(page, `name="code"`) != 1 {
		t.Fatalf("the widget's login: %d\n%s", code, page)
	}
	// Demoted, Pat is offered nothing.
	v.tfake.DemoteAdmin(v.group, v.olga, v.pat)
	if code, page := newViewerClient(t).get(v.base + "/login/telegram?" + signed.Encode()); code != 403 || !strings.Contains(page, "not an administrator") {
		t.Errorf("the widget's login after the demotion: %d\n%s", code, page)
	}
}
