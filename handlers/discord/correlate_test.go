package discord

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
)

type sink struct {
	mu  sync.Mutex
	evs []*audit.Event
}

func (s *sink) emit(evs ...*audit.Event) {
	s.mu.Lock()
	s.evs = append(s.evs, evs...)
	s.mu.Unlock()
}

func (s *sink) wait(t *testing.T, n int) []*audit.Event {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		s.mu.Lock()
		got := append([]*audit.Event(nil), s.evs...)
		s.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func removal(user string) *audit.Event {
	e := &audit.Event{ActorID: user, PropertyID: "g", Type: audit.UserRemove}
	e.Params.Set(audit.ParamRemoval, audit.RemovalLeft)
	return e
}

func kicked(e *audit.Event, a auditEntry) {
	e.ActorID = a.actor
	e.Params.Set(audit.ParamRemoval, audit.RemovalKicked)
	e.Params.Set(audit.ParamReason, a.reason)
}

func TestCorrelatorEntryAfterEvent(t *testing.T) {
	var s sink
	c := newCorrelator(time.Second, s.emit)
	key := corrKey{"g", auditMemberKick, "u1"}
	c.await(removal("u1"), kicked, key)
	if !c.entry(key, auditEntry{actor: "mod", reason: "spam", at: time.Now()}) {
		t.Fatal("entry did not complete the waiting removal")
	}
	got := s.wait(t, 1)
	if len(got) != 1 || got[0].ActorID != "mod" || got[0].Params[audit.ParamRemoval] != audit.RemovalKicked || got[0].Params[audit.ParamReason] != "spam" {
		t.Fatalf("got %+v", got)
	}
}

func TestCorrelatorEntryBeforeEvent(t *testing.T) {
	var s sink
	c := newCorrelator(time.Second, s.emit)
	key := corrKey{"g", auditMemberKick, "u1"}
	c.entry(key, auditEntry{actor: "mod", at: time.Now()})
	c.await(removal("u1"), kicked, key)
	if got := s.wait(t, 1); len(got) != 1 || got[0].ActorID != "mod" {
		t.Fatalf("got %+v", got)
	}
}

func TestCorrelatorTimesOutAsLeft(t *testing.T) {
	var s sink
	c := newCorrelator(30*time.Millisecond, s.emit)
	c.await(removal("u1"), kicked, corrKey{"g", auditMemberKick, "u1"})
	got := s.wait(t, 1)
	if len(got) != 1 || got[0].ActorID != "u1" || got[0].Params[audit.ParamRemoval] != audit.RemovalLeft {
		t.Fatalf("got %+v", got)
	}
	// An entry for another guild or user never completes it.
	c.await(removal("u2"), kicked, corrKey{"g", auditMemberKick, "u2"})
	c.entry(corrKey{"other", auditMemberKick, "u2"}, auditEntry{actor: "mod", at: time.Now()})
	got = s.wait(t, 2)
	if len(got) != 2 || got[1].ActorID != "u2" {
		t.Fatalf("an entry of another guild completed the removal: %+v", got[1])
	}
}

func TestCorrelatorSuppressAndFlush(t *testing.T) {
	var s sink
	c := newCorrelator(time.Hour, s.emit)
	c.await(removal("u1"), kicked, corrKey{"g", auditMemberKick, "u1"})
	if !c.suppress(corrKey{"g", auditMemberKick, "u1"}) {
		t.Fatal("nothing suppressed")
	}
	c.await(removal("u2"), kicked, corrKey{"g", auditMemberKick, "u2"})
	c.await(removal("u3"), kicked, corrKey{"g", auditMemberKick, "u3"})
	c.flush()
	got := s.wait(t, 2)
	if len(got) != 2 {
		t.Fatalf("flush recorded %d events, want 2 (u1 was suppressed)", len(got))
	}
}

func TestCorrelatorSecondEventReleasesFirst(t *testing.T) {
	var s sink
	c := newCorrelator(time.Hour, s.emit)
	key := corrKey{"g", auditMemberKick, "u1"}
	c.await(removal("u1"), kicked, key)
	c.await(removal("u1"), kicked, key)
	if got := s.wait(t, 1); len(got) != 1 {
		t.Fatalf("the first waiting event was not released: %d", len(got))
	}
	c.flush()
	if got := s.wait(t, 2); len(got) != 2 {
		t.Fatalf("events lost: %d", len(got))
	}
}

func TestDiff(t *testing.T) {
	old := profile{User: "u", Username: "ann", Nick: "A", Roles: []string{"1", "2"}}
	now := profile{User: "u", Username: "ann", Nick: "Annie", Roles: []string{"2", "3"}, Timeout: "2026-11-23T00:00:00Z"}
	got := diff(old, now)
	fields := map[string]change{}
	for _, c := range got {
		fields[c.field] = c
	}
	if len(got) != 3 || fields["nickname"].new != "Annie" || fields["roles"].old != "1,2" || fields["timeout"].new == "" {
		t.Fatalf("diff %+v", got)
	}
	if d := diff(old, old); len(d) != 0 {
		t.Fatalf("equal profiles differ: %+v", d)
	}
	if got := minus([]string{"2", "3"}, []string{"1", "2"}); len(got) != 1 || got[0] != "3" {
		t.Fatalf("minus %v", got)
	}
}

func TestRedirect(t *testing.T) {
	var path, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, auth = r.URL.RequestURI(), r.Header.Get("Authorization")
	}))
	defer srv.Close()
	rt, err := newRedirect(srv.URL+"/proxy/api/v9/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", discordgo.EndpointAPI+"users/@me?x=1", nil)
	req.Header.Set("Authorization", "Bot t")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if path != "/proxy/api/v9/users/@me?x=1" || auth != "Bot t" {
		t.Fatalf("redirected to %q with auth %q", path, auth)
	}
	for _, bad := range []string{"ftp://x", "not a url", "http://"} {
		if _, err := newRedirect(bad, nil); err == nil {
			t.Errorf("api_url %q accepted", bad)
		}
	}
}

// TestCorrelatorGroupCompletedByOneEntry: the records of a bulk delete wait
// together; one entry names the moderator of each, whichever comes first,
// and without an entry all are recorded as they are when the window ends.
func TestCorrelatorGroupCompletedByOneEntry(t *testing.T) {
	group := func() []*audit.Event { return []*audit.Event{removal("a"), removal("b"), removal("c")} }
	key := corrKey{"g", auditMessageBulk, "channel"}
	mod := auditEntry{actor: "mod", reason: "purge", at: time.Now()}

	var after sink
	c := newCorrelator(time.Second, after.emit)
	c.awaitAll(group(), kicked, key)
	if !c.entry(key, mod) {
		t.Fatal("the entry did not complete the waiting group")
	}
	var before sink
	c = newCorrelator(time.Second, before.emit)
	c.entry(key, mod)
	c.awaitAll(group(), kicked, key)
	for name, s := range map[string]*sink{"entry after": &after, "entry before": &before} {
		got := s.wait(t, 3)
		if len(got) != 3 {
			t.Fatalf("%s: %d records, want 3", name, len(got))
		}
		for _, e := range got {
			if e.ActorID != "mod" || e.Params[audit.ParamReason] != "purge" {
				t.Errorf("%s: %+v not named after the entry", name, e)
			}
		}
	}

	var none sink
	c = newCorrelator(50*time.Millisecond, none.emit)
	c.awaitAll(group(), kicked, key)
	got := none.wait(t, 3)
	if len(got) != 3 || got[0].ActorID != "a" || got[2].ActorID != "c" {
		t.Fatalf("without an entry: %+v", got)
	}
}

// A shared key's entry (a prune's) completes every event waiting on it,
// and stays for the events that come after it within the window.
func TestCorrelatorSharedEntryCompletesMany(t *testing.T) {
	var s sink
	c := newCorrelator(time.Hour, s.emit)
	prune := corrKey{"g", auditMemberPrune, anyTarget}
	c.await(removal("u1"), kicked, corrKey{"g", auditMemberKick, "u1"}, prune)
	c.await(removal("u2"), kicked, corrKey{"g", auditMemberKick, "u2"}, prune)
	if !c.entry(prune, auditEntry{actor: "mod", at: time.Now()}) {
		t.Fatal("the prune completed nothing")
	}
	c.await(removal("u3"), kicked, corrKey{"g", auditMemberKick, "u3"}, prune)
	got := s.wait(t, 3)
	if len(got) != 3 {
		t.Fatalf("%d records, want 3", len(got))
	}
	for _, e := range got {
		if e.ActorID != "mod" {
			t.Errorf("%s's removal: actor %s, want the pruning moderator", e.Target(), e.ActorID)
		}
	}
	// The kick key of a completed removal is free again.
	c.entry(corrKey{"g", auditMemberKick, "u1"}, auditEntry{actor: "other", at: time.Now()})
	c.flush()
	if got := s.wait(t, 3); len(got) != 3 {
		t.Fatalf("a completed removal was recorded again: %d", len(got))
	}
}

// The late hook decides what a window without an entry records: it may
// complete the events (an entry read over REST) or drop them.
func TestCorrelatorLateHook(t *testing.T) {
	var s sink
	c := newCorrelator(10*time.Millisecond, s.emit)
	c.awaitLate([]*audit.Event{removal("u1")}, kicked, func(p *pending) []*audit.Event {
		p.applyAll(auditEntry{actor: "late-mod", reason: "read over REST"})
		return p.events
	}, corrKey{"g", auditMemberKick, "u1"})
	dropped := make(chan struct{})
	c.awaitLate([]*audit.Event{removal("u2")}, kicked, func(*pending) []*audit.Event { close(dropped); return nil },
		corrKey{"g", auditMemberKick, "u2"})
	c.awaitLate([]*audit.Event{removal("u3")}, kicked, func(*pending) []*audit.Event {
		t.Error("the late hook ran for an event its entry completed")
		return nil
	}, corrKey{"g", auditMemberKick, "u3"})
	c.entry(corrKey{"g", auditMemberKick, "u3"}, auditEntry{actor: "mod", at: time.Now()})
	<-dropped // u2's window ended and its hook dropped it
	got := s.wait(t, 2)
	if len(got) != 2 {
		t.Fatalf("%d records, want u1's (completed late) and u3's; u2's was dropped", len(got))
	}
	actors := map[string]string{}
	for _, e := range got {
		actors[e.Params[audit.ParamReason]] = e.ActorID
	}
	if actors["read over REST"] != "late-mod" || actors[""] != "mod" {
		t.Fatalf("actors by reason: %v", actors)
	}
}
