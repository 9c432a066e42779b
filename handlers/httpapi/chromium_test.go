package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logentry"
)

// cdp is a minimal Chrome DevTools Protocol client: commands over the
// browser's websocket, in one flattened page session.
type cdp struct {
	t       *testing.T
	conn    *websocket.Conn
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpReply
	session string
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func (c *cdp) readLoop() {
	for {
		var msg struct {
			ID int `json:"id"`
			cdpReply
		}
		if err := c.conn.ReadJSON(&msg); err != nil {
			c.mu.Lock()
			for id, ch := range c.waiting {
				close(ch)
				delete(c.waiting, id)
			}
			c.mu.Unlock()
			return
		}
		if msg.ID == 0 {
			continue // an event
		}
		c.mu.Lock()
		ch := c.waiting[msg.ID]
		delete(c.waiting, msg.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- msg.cdpReply
		}
	}
}

// call sends a command (in the page session once there is one).
func (c *cdp) call(method string, params any, result any) error {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan cdpReply, 1)
	c.waiting[id] = ch
	msg := map[string]any{"id": id, "method": method, "params": params}
	if c.session != "" && !strings.HasPrefix(method, "Target.") {
		msg["sessionId"] = c.session
	}
	err := c.conn.WriteJSON(msg)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: connection closed", method)
		}
		if r.Error != nil {
			return fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(r.Result, result)
		}
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s: no answer", method)
	}
}

// eval evaluates a JavaScript expression in the page and returns its value.
func (c *cdp) eval(expr string) (any, error) {
	var res struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return nil, err
	}
	if res.ExceptionDetails != nil {
		return nil, fmt.Errorf("%s: %s", expr, res.ExceptionDetails.Text)
	}
	return res.Result.Value, nil
}

// must evaluates expr and fails the test on an error.
func (c *cdp) must(expr string) any {
	c.t.Helper()
	v, err := c.eval(expr)
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

// waitFor polls expr until it is true (errors while a page loads count as
// not yet).
func (c *cdp) waitFor(what, expr string) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := c.eval("document.readyState === 'complete' && (" + expr + ")")
		if err == nil && v == true {
			return
		}
		if time.Now().After(deadline) {
			html, _ := c.eval("document.documentElement.outerHTML")
			c.t.Fatalf("waiting for %s (%s): %v, %v\n%.3000v", what, expr, v, err, html)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startChromium runs a headless Chromium and attaches to a new page.
func startChromium(t *testing.T) *cdp {
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed: CI must install it (apt-get install -y chromium)")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium); the viewer's browser test is skipped")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-quic", "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--user-data-dir="+dir, "about:blank")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
		cancel() // kills the browser if Browser.close did not end it
		<-exited
	})
	var port, wsPath string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(dir, "DevToolsActivePort"))
		if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); err == nil && len(lines) == 2 {
			port, wsPath = lines[0], lines[1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromium did not open its DevTools port: %s", stderr.String())
		}
	}
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("DevToolsActivePort: %q", port)
	}
	conn, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+port+wsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &cdp{t: t, conn: conn, waiting: make(map[int]chan cdpReply)}
	go c.readLoop()
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := c.call("Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatal(err)
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.call("Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		t.Fatal(err)
	}
	c.session = att.SessionID
	t.Cleanup(func() {
		c.call("Browser.close", map[string]any{}, nil) // runs before the wait above
		conn.Close()
	})
	return c
}

func (c *cdp) navigate(url string) {
	c.t.Helper()
	if err := c.call("Page.navigate", map[string]any{"url": url}, nil); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cdp) count(selector string) int {
	c.t.Helper()
	v := c.must(fmt.Sprintf("document.querySelectorAll(%q).length", selector))
	n, _ := v.(float64)
	return int(n)
}

// TestViewerInChromium logs in, filters and pages in a real browser.
func TestViewerInChromium(t *testing.T) {
	c := startChromium(t)
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
	c.navigate(e.ts.URL + "/")
	c.waitFor("the login form", "!!document.getElementById('login')")
	c.must(fmt.Sprintf(`document.getElementById('token').value = %q; document.getElementById('login').submit(); true`, e.tokA))
	c.waitFor("the log page", "!!document.getElementById('entries')")
	if got := c.must("document.getElementById('scope').textContent"); got != pathA {
		t.Errorf("scope %v", got)
	}
	if n := c.count("article.entry"); n != ViewerPageSize {
		t.Errorf("first page: %d entries", n)
	}
	if v := c.must("document.cookie"); v != "" {
		t.Errorf("the session cookie is readable by script: %q", v)
	}
	// User content is text, never markup.
	if n := c.count(".content b"); n != 0 {
		t.Errorf("%d <b> elements from message content", n)
	}
	if v := c.must("document.querySelector('.content').textContent"); v != "message <b>59</b>" {
		t.Errorf("content %v", v)
	}

	// Page back and forth.
	c.must("document.getElementById('older').click(); true")
	c.waitFor("the older page", "location.search.includes('page=') && !!document.getElementById('newer')")
	if n := c.count("article.entry"); n != 10 || c.count("#older") != 0 {
		t.Errorf("older page: %d entries, older link %d", n, c.count("#older"))
	}
	if v := c.must("document.querySelector('.entry .footer').textContent"); !strings.HasPrefix(v.(string), evs[9].ID.String()) {
		t.Errorf("the older page starts with %v, want record %s", v, evs[9].ID)
	}
	c.must("document.getElementById('newer').click(); true")
	c.waitFor("the newer page", "document.querySelectorAll('article.entry').length === 50 && !document.getElementById('newer')")

	// Filter by type: the summaries are the log channels' format.
	c.must("document.getElementById('f-type').value = 'USER_JOIN'; document.getElementById('apply').click(); true")
	c.waitFor("the type filter", "location.search.includes('type=USER_JOIN')")
	if n := c.count("article.entry"); n != 20 {
		t.Errorf("USER_JOIN: %d entries", n)
	}
	want := logentry.Render(evs[57], "en").Summary
	if v := c.must("document.querySelector('.entry .summary').textContent"); v != want {
		t.Errorf("summary %q, want %q", v, want)
	}
	// Filter by user and time as well.
	c.must(`document.getElementById('f-user').value = 'u2';
		document.getElementById('f-since').value = '2026-10-01T00:30:00Z';
		document.getElementById('apply').click(); true`)
	c.waitFor("the user filter", "location.search.includes('user=u2')")
	var wantN int
	for i, x := range evs {
		if x.Type == audit.UserJoin && x.ActorID == "u2" && i >= 30 {
			wantN++
		}
	}
	if n := c.count("article.entry"); n != wantN {
		t.Errorf("USER_JOIN by u2 since 00:30: %d entries, want %d", n, wantN)
	}
	// A bad filter is explained on the page.
	c.must("document.getElementById('f-until').value = 'next week'; document.getElementById('apply').click(); true")
	c.waitFor("the error", "!!document.getElementById('error')")
	if v := c.must("document.getElementById('error').textContent"); !strings.HasPrefix(v.(string), "until:") {
		t.Errorf("error %q", v)
	}

	// The export link downloads what the filters match, with the session.
	c.must("document.getElementById('f-until').value = ''; document.getElementById('f-user').value = ''; document.getElementById('f-since').value = ''; document.getElementById('apply').click(); true")
	c.waitFor("the cleared filters", "location.search.includes('until=&')")
	href := c.must("document.getElementById('export-csv').href").(string)
	var cookies struct {
		Cookies []struct {
			Name     string `json:"name"`
			Value    string `json:"value"`
			HTTPOnly bool   `json:"httpOnly"`
			SameSite string `json:"sameSite"`
		} `json:"cookies"`
	}
	if err := c.call("Network.getCookies", map[string]any{"urls": []string{e.ts.URL}}, &cookies); err != nil {
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
	c.must("document.getElementById('logout').click(); true")
	c.waitFor("the login form again", "!!document.getElementById('login')")
	if err := c.call("Network.getCookies", map[string]any{"urls": []string{e.ts.URL}}, &cookies); err != nil || len(cookies.Cookies) != 0 {
		t.Errorf("cookies after logout: %+v %v", cookies.Cookies, err)
	}
}
