package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/httpapi"
	"github.com/chatwarden/chatwarden/store"
)

// demoLink is the viewer link the demo prints.
var demoLink = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/login/link\?code=cwl_[A-Za-z0-9_%-]+`)

// lockedBuffer is a child's output, read while it is written.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// openViewerLink does what a newcomer's browser does with the demo's link:
// opens it, confirms the login, and lands on the log of the community,
// which names it and who is logged in.
func openViewerLink(t *testing.T, link string, wants ...string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := client.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(form), `id="link-login"`) {
		t.Fatalf("the link's confirmation form: %d\n%s", resp.StatusCode, form)
	}
	u, _ := url.Parse(link)
	resp, err = client.PostForm(u.Scheme+"://"+u.Host+"/login/link", url.Values{"code": {u.Query().Get("code")}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/" || !strings.Contains(string(page), `id="entries"`) {
		t.Fatalf("after the login: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	for _, want := range wants {
		if !strings.Contains(string(page), want) {
			t.Errorf("the viewer's page lacks %q:\n%.2000s", want, page)
		}
	}
}

// TestDemo runs `chatwarden demo` as a subprocess, as a newcomer would,
// and checks what it shows and the database it leaves: every scene's
// records, the raid summarised, and chains that verify.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo takes about 45s")
	}
	t.Parallel()
	db := filepath.Join(t.TempDir(), "demo.db")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestDemoChild$", "-test.v")
	cmd.Env = append(os.Environ(), "CHATWARDEN_DEMO_CHILD="+db, "CHATWARDEN_DEMO_SERVE=1")
	var stdout lockedBuffer
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// With --serve the demo ends by serving the viewer; its link logs in.
	var link string
	for link == "" {
		select {
		case err := <-exited:
			t.Fatalf("the demo exited (%v) without serving the viewer\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		out := stdout.String()
		if m := demoLink.FindString(out); m != "" && strings.Contains(out, "press Ctrl-C to stop") {
			link = m
		}
	}
	t.Logf("the demo took %s to serve the viewer", time.Since(start).Round(time.Second))
	openViewerLink(t, link, "Riverside Gardeners", "Maya Lin")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not stop on Ctrl-C")
	}
	out := stdout.String()
	for _, want := range []string{
		"Log entries will be posted in #mod-log",
		"link_filter.denylist is now free-nitro.gift",
		"Kind: JOIN_RAID", "Count: 300",
		"Kind: IMPERSONATION", "Action: QUARANTINE",
		"Ann answers right: You're verified.",
		"Verification passed", "Verification failed", "Reason: TIMEOUT", "Reason: WRONG_ANSWER",
		"Link removed", "> last chance!! hxxps://free-nitro[.]gift/claim",
		"Message edited", "Before: Seed swap on Saturday at 10",
		"Message deleted", "Message reported", "Member banned", "Ban lifted",
		"Audit log", "every hash chain verifies",
		"chatwarden logs --db " + db,
		"A one-time link to the audit log viewer of the Discord server, logged in as Maya Lin",
		"The viewer stopped.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	// The raid is one entry (edited in place), not 300 join entries in
	// #mod-log: only the four members who joined outside it are shown.
	if n := strings.Count(out, "Member joined   Discord"); n > 4 {
		t.Errorf("%d Discord join entries shown: the raid was not summarised", n)
	}
	if n := strings.Count(out, "Join raid in progress   Discord #mod-log\n"); n != 1 {
		t.Errorf("the raid's entry was posted %d times", n)
	}
	for _, b := range []string{"Ban all", "Kick all", "Time out all", "Join raid over: 300 accounts joined."} {
		if !strings.Contains(out, b) {
			t.Errorf("the demo's raid entry lacks %q", b)
		}
	}
	// The bot's logs never print its tokens (the fake Telegram's is
	// distinctive; the fake Discord's is the demo's own).
	if all := out + stderr.String(); strings.Contains(all, "AAFakeTokenTelegramTestServer") || strings.Contains(all, "Bot "+demoDiscordToken) {
		t.Error("a bot token reached the demo's output")
	}

	s, err := store.Open(db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var discord, telegram string
	for _, p := range s.Properties() {
		switch p.Platform {
		case audit.Discord:
			discord = p.ID
		case audit.Telegram:
			telegram = p.ID
		}
	}
	if discord == "" || telegram == "" {
		t.Fatalf("properties in the demo's database: %+v", s.Properties())
	}
	records := func(p audit.Platform, property string, typ audit.EventType) []*audit.Event {
		t.Helper()
		var evs []*audit.Event
		err := s.Scan(context.Background(), store.Query{Platform: p, Property: property, Types: []audit.EventType{typ}},
			func(e *audit.Event) error { evs = append(evs, e); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	count := func(p audit.Platform, property string, typ audit.EventType, want int) {
		t.Helper()
		if evs := records(p, property, typ); len(evs) != want {
			var got []string // what each record says, to tell a duplicate from a stray
			for _, e := range evs {
				got = append(got, fmt.Sprintf("%s by %s on %s %v", e.Time.Format("15:04:05.000"), e.ActorName, e.Params.Get(audit.ParamTargetName), e.Params))
			}
			t.Errorf("%s %s: %d records, want %d:\n%s", p, typ, len(evs), want, strings.Join(got, "\n"))
		}
	}
	count(audit.Discord, discord, audit.UserJoin, demoRaidSize+4)
	count(audit.Discord, discord, audit.ModerationLink, 2)
	count(audit.Discord, discord, audit.VerificationSuccess, 1)
	count(audit.Discord, discord, audit.VerificationFailure, 3)
	count(audit.Discord, discord, audit.MessageReport, 1)
	count(audit.Discord, discord, audit.ChatMessageEdit, 1)
	kinds := map[string][]*audit.Event{}
	for _, e := range records(audit.Discord, discord, audit.SecurityEvent) {
		kinds[e.Params.Get(audit.ParamKind)] = append(kinds[e.Params.Get(audit.ParamKind)], e)
	}
	var ended []*audit.Event
	for _, r := range kinds[audit.KindJoinRaid] {
		if r.Params.Get("raid_status") == "ENDED" {
			ended = append(ended, r)
		}
	}
	if len(ended) != 1 || ended[0].Params.Get(audit.ParamCount) != "300" {
		t.Errorf("JOIN_RAID records: %+v", kinds[audit.KindJoinRaid])
	}
	if imp := kinds[audit.KindImpersonation]; len(imp) != 1 {
		t.Errorf("IMPERSONATION records: %+v", imp)
	}
	// Link deletions: one CHAT_MESSAGE_DELETE each, by the bot; Ann's own
	// deletion is hers.
	byBot := 0
	for _, e := range records(audit.Discord, discord, audit.ChatMessageDelete) {
		if e.ActorType == audit.ActorBot {
			byBot++
		}
	}
	if byBot != 2 {
		t.Errorf("%d message deletions by the bot, want 2 (one per phishing message)", byBot)
	}
	if logins := kinds[httpapi.KindViewerLogin]; len(logins) != 1 || logins[0].ActorName != "Maya Lin" {
		t.Errorf("VIEWER_LOGIN records: %+v", logins)
	}
	count(audit.Telegram, telegram, audit.ModerationLink, 1)
	count(audit.Telegram, telegram, audit.VerificationSuccess, 1)
	count(audit.Telegram, telegram, audit.UserBan, 1)
	count(audit.Telegram, telegram, audit.UserBanRemove, 1)
	count(audit.Telegram, telegram, audit.ChatMessageEdit, 1)
	if n := len(records(audit.Telegram, telegram, audit.SettingsChange)); n < 3 {
		t.Errorf("%d Telegram settings changes, want at least 3", n)
	}
	results, err := s.VerifyAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range results {
		if !v.OK {
			t.Errorf("chain %s:%s: %s", v.Platform, v.Property, v.Problem)
		}
	}
}

// TestDemoChild is the demo process TestDemo runs.
func TestDemoChild(t *testing.T) {
	db := os.Getenv("CHATWARDEN_DEMO_CHILD")
	if db == "" {
		t.Skip("only run as a child of TestDemo")
	}
	ctx := context.Background()
	opts := Options{NoColor: true}
	if os.Getenv("CHATWARDEN_DEMO_SERVE") != "" { // as chatwarden demo --serve
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt)
		defer stop()
		opts.Serve = true
	}
	if err := Run(ctx, db, os.Stdout, os.Stderr, opts); err != nil {
		fmt.Fprintln(os.Stderr, "chatwarden:", err)
		os.Exit(1)
	}
	os.Exit(0)
}
