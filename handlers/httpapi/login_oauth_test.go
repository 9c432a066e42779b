package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

const widgetBotToken = "123456:widget-test-token"

// signWidget signs fields as Telegram's Login Widget does.
func signWidget(fields url.Values, token string) url.Values {
	var lines []string
	for k := range fields {
		lines = append(lines, k+"="+fields.Get(k))
	}
	sort.Strings(lines)
	key := sha256.Sum256([]byte(token))
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(strings.Join(lines, "\n")))
	out := url.Values{}
	for k, v := range fields {
		out[k] = v
	}
	out.Set("hash", hex.EncodeToString(m.Sum(nil)))
	return out
}

var choiceCode = regexp.MustCompile(`name="code" value="(cwl_[^"]+)"`)

// TestTelegramLoginWidget: the widget's answer is checked as Telegram
// documents (hash under the bot token's SHA-256, auth_date recent); a
// checked person is offered the groups the platform says they
// administer, and choosing one starts a session recorded as VIEWER_LOGIN
// with login TELEGRAM_WIDGET.
func TestTelegramLoginWidget(t *testing.T) {
	admins := map[string]bool{"-1001/42": true, "-1003/42": true}
	e := newEnv(t, func(o *Options) {
		o.TelegramLogin = TelegramLogin{BotUsername: "cw_test_bot", BotToken: widgetBotToken, AuthURL: "https://viewer.example/login/telegram"}
		o.ViewerAccess = func(_ context.Context, p audit.Platform, property, user string) (bool, error) {
			return p == audit.Telegram && admins[property+"/"+user], nil
		}
	})
	for _, chat := range []string{"-1001", "-1002"} { // -1003 has no records: not offered
		e.record(ev(1, audit.UserJoin, inProp(audit.Telegram, chat)))
	}
	if err := e.store.SetPropertyName(audit.Telegram, "-1001", "Growers"); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	resp, page := b.do("GET", "/", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(page, `data-telegram-login="cw_test_bot"`) || !strings.Contains(page, `data-auth-url="https://viewer.example/login/telegram"`) ||
		!strings.Contains(csp, "script-src https://telegram.org") || strings.Contains(csp, "'unsafe") {
		t.Fatalf("login page with the widget: CSP %q\n%s", csp, page)
	}
	now := e.clock.Now().Unix()
	alice := url.Values{"id": {"42"}, "first_name": {"Alice"}, "username": {"alice"}, "auth_date": {strconv.FormatInt(now, 10)}}

	// Refused: a forged hash, a hash under another bot's token, a changed
	// field, an old auth_date.
	forged := signWidget(alice, widgetBotToken)
	forged.Set("hash", strings.Repeat("0", 64))
	changed := signWidget(alice, widgetBotToken)
	changed.Set("id", "43")
	old := url.Values{}
	for k, v := range alice {
		old[k] = v
	}
	old.Set("auth_date", strconv.FormatInt(now-int64(WidgetMaxAge.Seconds())-1, 10))
	for name, v := range map[string]url.Values{"forged": forged, "other bot": signWidget(alice, "999:other"),
		"changed id": changed, "old": signWidget(old, widgetBotToken), "no hash": alice} {
		resp, page := b.do("GET", "/login/telegram?"+v.Encode(), nil)
		if resp.StatusCode != 401 || !strings.Contains(page, "not valid or has expired") || choiceCode.MatchString(page) {
			t.Errorf("%s: %d\n%s", name, resp.StatusCode, page)
		}
	}

	// Checked: the groups Alice administers and chatwarden keeps.
	resp, page = b.do("GET", "/login/telegram?"+signWidget(alice, widgetBotToken).Encode(), nil)
	codes := choiceCode.FindAllStringSubmatch(page, -1)
	if resp.StatusCode != 200 || len(codes) != 1 || !strings.Contains(page, "Growers (telegram:-1001)") || !strings.Contains(page, "Alice") {
		t.Fatalf("choices: %d\n%s", resp.StatusCode, page)
	}
	if resp, _ := b.do("POST", "/login/link", url.Values{"code": {codes[0][1]}}); resp.StatusCode != 303 {
		t.Fatalf("choosing: %d", resp.StatusCode)
	}
	if _, page := b.do("GET", "/", nil); !strings.Contains(page, `id="who"><bdi>Alice</bdi>`) || !strings.Contains(page, "telegram:-1001") {
		t.Fatalf("the session:\n%s", page)
	}
	res, err := e.store.Query(context.Background(), store.Query{Platform: audit.Telegram, Property: "-1001", Types: []audit.EventType{audit.SecurityEvent}})
	if err != nil || len(res.Events) != 1 {
		t.Fatalf("records: %v %v", res.Events, err)
	}
	if x := res.Events[0]; x.Params[audit.ParamKind] != KindViewerLogin || x.Params[ParamLogin] != LoginTelegramWidget || x.ActorID != "42" {
		t.Errorf("login record %+v", x.Params)
	}
	// The code works once.
	if resp, _ := e.browser(t).do("POST", "/login/link", url.Values{"code": {codes[0][1]}}); resp.StatusCode != 410 {
		t.Errorf("a used choice: %d", resp.StatusCode)
	}
	// Someone who administers nothing gets a sentence.
	bob := signWidget(url.Values{"id": {"7"}, "first_name": {"Bob"}, "auth_date": {strconv.FormatInt(now, 10)}}, widgetBotToken)
	if resp, page := e.browser(t).do("GET", "/login/telegram?"+bob.Encode(), nil); resp.StatusCode != 403 || !strings.Contains(page, "not an administrator") {
		t.Errorf("no groups: %d\n%s", resp.StatusCode, page)
	}
}

// TestOptionalLoginsOff: without configuration the login page has no
// script and the routes say they are off.
func TestOptionalLoginsOff(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	resp, page := b.do("GET", "/", nil)
	if strings.Contains(page, "<script") || strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src") || strings.Contains(page, "login-discord") {
		t.Errorf("login page without optional logins:\n%s", page)
	}
	for _, path := range []string{"/login/discord", "/login/discord/callback?code=x&state=y", "/login/telegram?id=1&hash=x"} {
		if resp, _ := b.do("GET", path, nil); resp.StatusCode != 404 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
}
