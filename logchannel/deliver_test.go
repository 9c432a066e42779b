package logchannel_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// poster records what it was asked to post and can fail on demand.
type poster struct {
	mu     sync.Mutex
	posted map[string][]string // target -> actor ids in order
	calls  []time.Time
	script []error // errors for the next calls, in order
	max    int     // accept at most this many per call (0: all)
}

func (p *poster) Post(ctx context.Context, target string, evs []*audit.Event) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, time.Now())
	if len(p.script) > 0 {
		err := p.script[0]
		p.script = p.script[1:]
		if err != nil {
			return 0, err
		}
	}
	n := len(evs)
	if p.max > 0 && n > p.max {
		n = p.max
	}
	for _, e := range evs[:n] {
		p.posted[target] = append(p.posted[target], e.ActorID)
	}
	return n, nil
}

func (p *poster) got(target string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.posted[target]...)
}

func setup(t *testing.T, initial map[string]settings.Community) (*store.Store, *recorder.Recorder, *logchannel.Router) {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "o.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for prop, set := range initial {
		if _, _, err := s.UpdateSettings(context.Background(), audit.Discord, prop, func(x *settings.Community) error { *x = set; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	router, err := logchannel.NewRouter(context.Background(), s, "en")
	if err != nil {
		t.Fatal(err)
	}
	rec := recorder.New(s, recorder.Options{Routers: []recorder.Router{router}})
	t.Cleanup(func() { rec.Close(context.Background()); s.Close() })
	return s, rec, router
}

func ev(prop, actor string, t audit.EventType) *audit.Event {
	return &audit.Event{Platform: audit.Discord, PropertyID: prop, Type: t, Function: audit.FuncGateway,
		ActorType: audit.ActorNonAdmin, ActorID: actor}
}

func TestLogRouterKeepsPropertiesApart(t *testing.T) {
	s, rec, router := setup(t, map[string]settings.Community{
		"A": {LogChannels: []settings.LogChannel{{ID: "logA"}, {ID: "modsA", Types: []audit.EventType{audit.UserBan}}}},
		"B": {LogChannels: []settings.LogChannel{{ID: "logB"}}},
	})
	if err := rec.Record(context.Background(), ev("A", "a1", audit.UserJoin), ev("A", "a2", audit.UserBan), ev("B", "b1", audit.UserBan), ev("C", "c1", audit.UserJoin)); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"logA": {"a1", "a2"}, "modsA": {"a2"}, "logB": {"b1"}}
	for target, actors := range want {
		p, err := s.OutboxPending(context.Background(), "discord", target, 100)
		if err != nil || len(p) != len(actors) {
			t.Fatalf("%s: %d pending (%v), want %v", target, len(p), err, actors)
		}
		for i, d := range p {
			if d.Event.ActorID != actors[i] {
				t.Fatalf("%s got %s's entry", target, d.Event.ActorID)
			}
		}
	}
	router.Update(audit.Discord, "C", settings.Community{LogChannels: []settings.LogChannel{{ID: "logC"}}, Locale: "hi"})
	if got := router.Route(ev("C", "c2", audit.UserJoin)); len(got) != 1 || got[0].Target != "logC" {
		t.Fatalf("after update: %+v", got)
	}
	if router.Locale(audit.Discord, "C") != "hi" || router.Locale(audit.Discord, "A") != "en" {
		t.Fatal("locale")
	}
}

// run runs d until the test ends or the returned stop is called.
func run(t *testing.T, d *logchannel.Deliverer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestDelivererDeliversInOrderAndSurvivesFailures(t *testing.T) {
	s, rec, _ := setup(t, map[string]settings.Community{"A": {LogChannels: []settings.LogChannel{{ID: "log"}}}})
	for i := 0; i < 25; i++ {
		if err := rec.Record(context.Background(), ev("A", string(rune('a'+i)), audit.UserJoin)); err != nil {
			t.Fatal(err)
		}
	}
	p := &poster{posted: map[string][]string{}, max: 4,
		script: []error{errors.New("502 bad gateway"), &logchannel.RetryAfterError{Wait: 50 * time.Millisecond}}}
	var failures atomic.Int32
	d := logchannel.NewDeliverer(logchannel.DelivererOptions{Sink: "discord", Outbox: s, Poster: p, MinInterval: time.Millisecond, Poll: 10 * time.Millisecond,
		OnFailure: func(target string, err error) {
			if target == "log" && err != nil {
				failures.Add(1)
			}
		}})
	run(t, d)
	waitFor(t, "all 25 entries", func() bool { return len(p.got("log")) == 25 })
	if n := failures.Load(); n != 2 {
		t.Errorf("OnFailure called %d times, want 2 (the 502 and the 429)", n)
	}
	got := p.got("log")
	for i, a := range got {
		if a != string(rune('a'+i)) {
			t.Fatalf("entry %d is %s: out of order or duplicated: %v", i, a, got)
		}
	}
	// The outbox entry goes once Post has returned: wait for it.
	waitFor(t, "an empty outbox", func() bool { n, _ := s.OutboxDepth("discord"); return n == 0 })
	// The failed and rate-limited calls came before any delivery and
	// lost nothing; the retry waited.
	p.mu.Lock()
	gap := p.calls[2].Sub(p.calls[1])
	p.mu.Unlock()
	if gap < 50*time.Millisecond {
		t.Fatalf("retried %s after a 50ms retry-after", gap)
	}
}

func TestDelivererPausesForbiddenTargets(t *testing.T) {
	s, rec, _ := setup(t, map[string]settings.Community{"A": {LogChannels: []settings.LogChannel{{ID: "gone"}, {ID: "ok"}}}})
	p := &poster{posted: map[string][]string{}, script: []error{platform.ErrForbidden}}
	paused := make(chan string, 1)
	d := logchannel.NewDeliverer(logchannel.DelivererOptions{Sink: "discord", Outbox: s, Poster: p, MinInterval: time.Millisecond,
		Poll: 10 * time.Millisecond, OnPause: func(target string, err error) { paused <- target }})
	if err := rec.Record(context.Background(), ev("A", "x", audit.UserJoin)); err != nil {
		t.Fatal(err)
	}
	run(t, d)
	if got := <-paused; got != "gone" {
		t.Fatalf("paused %s", got)
	}
	waitFor(t, "the other channel", func() bool { return len(p.got("ok")) == 1 })
	time.Sleep(50 * time.Millisecond)
	if n, _ := s.OutboxDepth("discord"); n != 1 || len(p.got("gone")) != 0 {
		t.Fatalf("paused channel: depth %d, posted %v", n, p.got("gone"))
	}
	d.Resume("gone")
	waitFor(t, "the resumed channel", func() bool { return len(p.got("gone")) == 1 })
}

func TestDelivererDropsPurgedEntries(t *testing.T) {
	s, rec, _ := setup(t, map[string]settings.Community{"A": {LogChannels: []settings.LogChannel{{ID: "log"}}}})
	old := ev("A", "old", audit.UserJoin)
	old.Time = time.Now().AddDate(0, 0, -100)
	if err := rec.Record(context.Background(), old, ev("A", "new", audit.UserJoin)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Purge(context.Background(), audit.Discord, "A", time.Now().AddDate(0, 0, -90)); err != nil {
		t.Fatal(err)
	}
	p := &poster{posted: map[string][]string{}}
	run(t, logchannel.NewDeliverer(logchannel.DelivererOptions{Sink: "discord", Outbox: s, Poster: p, Poll: 10 * time.Millisecond}))
	waitFor(t, "delivery", func() bool { return len(p.got("log")) == 1 })
	waitFor(t, "an empty outbox", func() bool { n, _ := s.OutboxDepth("discord"); return n == 0 })
	if got := p.got("log"); got[0] != "new" {
		t.Fatalf("posted %v", got)
	}
}

func TestContentPolicyFollowsTheProperty(t *testing.T) {
	no, yes := false, true
	_, _, router := setup(t, map[string]settings.Community{"quiet": {StoreContent: &no}, "loud": {StoreContent: &yes}})
	msg := func(prop string) *audit.Event {
		e := ev(prop, "a", audit.ChatMessageEdit)
		e.Content = "secret"
		e.Params.Set(audit.ParamOldContent, "older secret")
		e.Attachments = []audit.Attachment{{Name: "f.txt", URL: "https://cdn/f.txt", Size: 3}}
		return e
	}
	for _, c := range []struct {
		prop          string
		byDefault     bool
		wantContent   bool
		wantAttachURL bool
	}{
		{"quiet", true, false, false},
		{"loud", false, true, true},
		{"unset", true, true, true},
		{"unset", false, false, false},
	} {
		e := msg(c.prop)
		router.ContentPolicy(c.byDefault)(e)
		if (e.Content != "") != c.wantContent || (e.Params[audit.ParamOldContent] != "") != c.wantContent ||
			(e.Attachments[0].URL != "") != c.wantAttachURL || e.Attachments[0].Name != "f.txt" {
			t.Errorf("%s (default %v): %+v", c.prop, c.byDefault, e)
		}
		// Text not stored stays readable in memory, and only there.
		if !c.wantContent {
			raw, _ := json.Marshal(e)
			if e.Withheld != "secret" || strings.Contains(string(raw), "secret") {
				t.Errorf("%s: withheld %q, JSON %s", c.prop, e.Withheld, raw)
			}
		}
	}
}

// TestDelivererHoldsAndDrops: a held entry waits until Hold lets it go,
// while later entries of its channel are posted; dropped entries leave the
// outbox unposted; MaxHold bounds a hold.
func TestDelivererHoldsAndDrops(t *testing.T) {
	s, rec, _ := setup(t, map[string]settings.Community{"A": {LogChannels: []settings.LogChannel{{ID: "log"}}}})
	for _, a := range []string{"m1", "held", "x1", "m2", "x2", "m3"} {
		typ := audit.ChatMessage
		if a != "m1" && a != "m2" && a != "m3" {
			typ = audit.UserJoin
		}
		if err := rec.Record(context.Background(), ev("A", a, typ)); err != nil {
			t.Fatal(err)
		}
	}
	var release atomic.Bool
	var asked atomic.Int32
	p := &poster{posted: map[string][]string{}}
	d := logchannel.NewDeliverer(logchannel.DelivererOptions{Sink: "discord", Outbox: s, Poster: p,
		MinInterval: time.Millisecond, Poll: 10 * time.Millisecond, HoldRetry: time.Millisecond,
		Hold: func(e *audit.Event) logchannel.Verdict {
			switch {
			case strings.HasPrefix(e.ActorID, "x"):
				return logchannel.Drop
			case e.ActorID == "held" && !release.Load():
				asked.Add(1)
				return logchannel.Hold
			}
			return logchannel.Post
		}})
	stop := run(t, d)
	waitFor(t, "the held entry to be asked about again", func() bool { return asked.Load() > 3 })
	if got := p.got("log"); strings.Join(got, ",") != "m1,m2,m3" {
		t.Fatalf("posted %v while the join is held, want m1,m2,m3", got)
	}
	release.Store(true)
	d.Wake()
	waitFor(t, "the rest", func() bool { return len(p.got("log")) == 4 })
	if got := strings.Join(p.got("log"), ","); got != "m1,m2,m3,held" {
		t.Fatalf("posted %s", got)
	}
	if n, _ := s.OutboxDepth("discord"); n != 0 {
		t.Fatalf("%d entries left in the outbox", n)
	}

	// A hold that never ends is bounded by MaxHold. The first deliverer
	// stops first: it would post the new entry at once.
	stop()
	if err := rec.Record(context.Background(), ev("A", "stuck", audit.UserJoin)); err != nil {
		t.Fatal(err)
	}
	p2 := &poster{posted: map[string][]string{}}
	d2 := logchannel.NewDeliverer(logchannel.DelivererOptions{Sink: "discord", Outbox: s, Poster: p2,
		MinInterval: time.Millisecond, Poll: 10 * time.Millisecond, HoldRetry: time.Millisecond, MaxHold: time.Millisecond,
		Hold: func(*audit.Event) logchannel.Verdict { return logchannel.Hold }})
	run(t, d2)
	waitFor(t, "the stuck entry", func() bool { return len(p2.got("log")) == 1 })
}
