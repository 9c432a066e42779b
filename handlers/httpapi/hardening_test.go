package httpapi

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// TestLongPathMakesShortLogLines: a 500 KB path, with and without a token,
// writes log lines of bounded size and a bounded error message.
func TestLongPathMakesShortLogLines(t *testing.T) {
	e := newEnv(t)
	e.record(ev(1, audit.UserJoin))
	long := "/" + strings.Repeat("A", 500<<10)
	for _, path := range []string{long, "/v1/properties/" + pathA + "/activities" + long, "/v1/properties/" + pathA + "/activities"} {
		req, _ := http.NewRequest("GET", e.ts.URL+path+"?x="+strings.Repeat("B", 1000), nil)
		req.Header.Set("User-Agent", strings.Repeat("U", 10000))
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || len(body) > 2048 {
			t.Errorf("%d bytes of path: %d with %d bytes of body", len(path), resp.StatusCode, len(body))
		}
	}
	e.srv.Close() // the operator-level failure line
	sc := bufio.NewScanner(strings.NewReader(e.logBuf.String()))
	sc.Buffer(nil, 4<<20)
	lines := 0
	for sc.Scan() {
		lines++
		if n := len(sc.Bytes()); n > 2048 {
			t.Errorf("a log line of %d bytes: %.300s…", n, sc.Text())
		}
	}
	if lines < 4 {
		t.Errorf("only %d log lines: the requests were not logged", lines)
	}
}

// TestHalfSentBodyIsCutOff: a POST whose body never arrives in full is
// answered and its connection closed after BodyReadTimeout, not held.
func TestHalfSentBodyIsCutOff(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.BodyReadTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: 100\r\n\r\ntoken=cw_")
	if err != nil {
		t.Fatal(err)
	}
	// A client that waits forever; the test gives up after 20 s.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a half-sent body: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("half-sent body: %d", resp.StatusCode)
	}
	// The connection is closed, not kept for the rest of the body.
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("the connection stays open")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("the connection stays open until the client gives up")
	}
	// A whole body in time still logs in.
	b := e.browser(t)
	if resp, _ := b.do("POST", "/login", map[string][]string{"token": {e.tokA}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login: %d", resp.StatusCode)
	}
}

// TestWatchCaps: streams per token and in all are capped with 429 and a
// sentence; a closed stream frees its slot.
func TestWatchCaps(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Watch.MaxPerToken, o.Watch.MaxClients = 2, 3 })
	e.record(ev(1, audit.UserJoin), ev(2, audit.UserJoin, inProp(audit.Telegram, propB)))
	refused := func(prop, token string) *response {
		t.Helper()
		r := e.get("/v1/properties/"+prop+"/activities:watch", token)
		if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("over the cap: %d %s", r.StatusCode, r.body)
		}
		return r
	}
	a1 := e.watch(pathA, e.tokA, "", "")
	e.watch(pathA, e.tokA, "", "")
	msg := refused(pathA, e.tokA).errorOf().Message
	if !strings.HasPrefix(msg, "This token already has 2 live streams open") || !strings.HasSuffix(msg, ".") {
		t.Errorf("per-token message: %q", msg)
	}
	e.watch(pathB, e.tokB, "", "")
	msg = refused(pathB, e.tokB).errorOf().Message
	if !strings.HasPrefix(msg, "The server already serves 3 live streams") {
		t.Errorf("global message: %q", msg)
	}
	refused(pathA, testOperator)
	// Closing a stream frees its slot (the server notices the client left).
	a1.close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r := e.get("/v1/properties/"+pathB+"/activities:watch?nope=1", e.tokB)
		if r.StatusCode == http.StatusBadRequest {
			break // admitted, then refused for the bad parameter
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot of a closed stream was not freed: %d", r.StatusCode)
		}
	}
	if !strings.Contains(e.get("/metrics", "").String(), `chatwarden_api_watch_disconnects_total{reason="refused"} `) {
		t.Error("refusals are not counted")
	}
}
