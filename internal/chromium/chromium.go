// Package chromium drives a headless Chromium for tests through a
// minimal Chrome DevTools Protocol client (commands over the browser's
// websocket, one flattened page session): the viewer's browser tests in
// handlers/httpapi and the whole-system viewer test in e2e. Start skips
// the test when none of Browsers is installed, except in CI (CI=true),
// where it fails.
package chromium

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Page is a headless Chromium's page, driven over the DevTools Protocol.
type Page struct {
	t       testing.TB
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

func (c *Page) readLoop() {
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

// Call sends a command (in the page session once there is one).
func (c *Page) Call(method string, params any, result any) error {
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

// Eval evaluates a JavaScript expression in the page and returns its value.
func (c *Page) Eval(expr string) (any, error) {
	var res struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := c.Call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return nil, err
	}
	if res.ExceptionDetails != nil {
		return nil, fmt.Errorf("%s: %s", expr, res.ExceptionDetails.Text)
	}
	return res.Result.Value, nil
}

// Must evaluates expr and fails the test on an error.
func (c *Page) Must(expr string) any {
	c.t.Helper()
	v, err := c.Eval(expr)
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

// WaitFor polls expr until it is true (errors while a page loads count as
// not yet).
func (c *Page) WaitFor(what, expr string) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := c.Eval("document.readyState === 'complete' && (" + expr + ")")
		if err == nil && v == true {
			return
		}
		if time.Now().After(deadline) {
			html, _ := c.Eval("document.documentElement.outerHTML")
			c.t.Fatalf("waiting for %s (%s): %v, %v\n%.3000v", what, expr, v, err, html)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Browsers are the names a Chromium goes by on PATH, in the order Start
// looks for them (Debian's package, Ubuntu's, Google's, the headless
// shell of the chrome-headless-shell builds).
var Browsers = []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"}

// find returns the first of Browsers on PATH.
func find() (string, error) {
	var err error
	for _, name := range Browsers {
		var path string
		if path, err = exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", err
}

// Start runs a headless Chromium and attaches to a new page.
func Start(t testing.TB) *Page {
	path, err := find()
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
	c := &Page{t: t, conn: conn, waiting: make(map[int]chan cdpReply)}
	go c.readLoop()
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := c.Call("Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatal(err)
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.Call("Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		t.Fatal(err)
	}
	c.session = att.SessionID
	t.Cleanup(func() {
		c.Call("Browser.close", map[string]any{}, nil) // runs before the wait above
		conn.Close()
	})
	return c
}

// Navigate loads url in the page (without waiting for it: see WaitFor).
func (c *Page) Navigate(url string) {
	c.t.Helper()
	if err := c.Call("Page.navigate", map[string]any{"url": url}, nil); err != nil {
		c.t.Fatal(err)
	}
}

// Count returns how many elements match a CSS selector.
func (c *Page) Count(selector string) int {
	c.t.Helper()
	v := c.Must(fmt.Sprintf("document.querySelectorAll(%q).length", selector))
	n, _ := v.(float64)
	return int(n)
}

// Screenshot writes the whole page as dir/name.png, for a reviewer to
// look at (ScreenshotDir says where).
func (c *Page) Screenshot(dir, name string) {
	c.t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	if err := c.Call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot); err != nil {
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

// Viewport emulates a screen of width x height CSS pixels (a phone's
// below 600).
func (c *Page) Viewport(width, height int) {
	c.t.Helper()
	if err := c.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height,
		"deviceScaleFactor": 1, "mobile": width < 600}, nil); err != nil {
		c.t.Fatal(err)
	}
}

// Text is the text of the first element matching selector, "" for none.
func (c *Page) Text(selector string) string {
	c.t.Helper()
	v := c.Must(fmt.Sprintf("(document.querySelector(%q) || {}).textContent || ''", selector))
	return v.(string)
}

// ScreenshotDir is where a test writes its screenshots: the directory
// $CHATWARDEN_SCREENSHOTS names (created if needed), else a temporary
// directory of the test. Screenshots are never committed.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CHATWARDEN_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
