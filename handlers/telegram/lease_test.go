package telegram_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/coord/coordtest"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// fleetProcess is one process of a fleet: its own store and recorder,
// the shared fake Telegram and lease.
type fleetProcess struct {
	t    *testing.T
	name string
	fake *telegramtest.Server
	s    *store.Store
	rec  *recorder.Recorder
	stop func()
}

func newFleetProcess(t *testing.T, name string, fake *telegramtest.Server) *fleetProcess {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), name+".db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := recorder.New(s, recorder.Options{})
	t.Cleanup(func() { rec.Close(context.Background()); s.Close() })
	return &fleetProcess{t: t, name: name, fake: fake, s: s, rec: rec, stop: func() {}}
}

// run starts a bot (as after a restart) taking part in lease.
func (p *fleetProcess) run(lease *coordtest.Lease, hooks func(*telegram.Bot)) {
	p.t.Helper()
	b, err := telegram.New(telegram.Options{Token: p.fake.Token(), APIURL: p.fake.URL, PollTimeout: time.Second,
		Store: p.s, Recorder: p.rec, Lease: lease.For(p.name),
		Logger: zerolog.New(zerolog.NewTestWriter(p.t)).Level(zerolog.WarnLevel)})
	if err != nil {
		p.t.Fatal(err)
	}
	if hooks != nil {
		hooks(b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	p.stop = func() { cancel(); <-done }
	p.t.Cleanup(p.stop)
}

// texts counts the chat's recorded messages by text.
func (p *fleetProcess) texts(chat int64, into map[string]int) {
	p.t.Helper()
	page, err := p.s.Query(context.Background(), store.Query{Platform: audit.Telegram, Property: id(chat),
		Types: []audit.EventType{audit.ChatMessage}, Limit: 1000})
	if err != nil {
		p.t.Fatal(err)
	}
	for _, e := range page.Events {
		into[e.Content]++
	}
}

func onceEach(t *testing.T, chat int64, sent []string, procs ...*fleetProcess) {
	t.Helper()
	got := map[string]int{}
	for _, p := range procs {
		p.texts(chat, got)
	}
	for _, text := range sent {
		if got[text] != 1 {
			t.Errorf("%q recorded %d times across the fleet, want once (all: %v)", text, got[text], got)
		}
	}
	if len(got) != len(sent) {
		t.Errorf("%d texts recorded, %d sent: %v", len(got), len(sent), got)
	}
}

func waitRecorded(t *testing.T, chat int64, n int, procs ...*fleetProcess) {
	t.Helper()
	waitFor(t, "the fleet to record the messages", func() bool {
		got := map[string]int{}
		for _, p := range procs {
			p.texts(chat, got)
		}
		total := 0
		for _, c := range got {
			total += c
		}
		return total >= n
	})
}

// TestLeaseBatchLeftByACrashIsRecordedOnRestart: the poller commits a
// batch to the lease and dies before its own commit. The next holder
// starts after the batch (Telegram is told it was received), and the dead
// process records the batch from the lease when it starts again, though
// it no longer holds the lease: each message once across the fleet.
func TestLeaseBatchLeftByACrashIsRecordedOnRestart(t *testing.T) {
	fake := telegramtest.New(telegramtest.Options{LongPollCap: time.Second, AllowedUpdates: telegram.AllowedUpdates})
	t.Cleanup(fake.Close)
	owner, ann := fake.NewUser("Owner"), fake.NewUser("Ann")
	g := fake.NewSupergroup("G", owner, ann)
	lease := coordtest.New()
	a, b := newFleetProcess(t, "a", fake), newFleetProcess(t, "b", fake)

	var sent []string
	say := func(text string) { fake.Message(g, ann, text); sent = append(sent, text) }
	for _, s := range []string{"one", "two", "three"} {
		say(s)
	}
	hook, crashed := crashOnce()
	a.run(lease, func(bot *telegram.Bot) { telegram.SetCommitHooks(bot, hook, nil) })
	waitCrash(t, crashed)
	a.stop()
	if lease.Commits("a") != 1 || lease.Holder() != "a" {
		t.Fatalf("a committed %d batches to the lease, holder %q; want 1, a", lease.Commits("a"), lease.Holder())
	}
	if n := len(fake.PendingUpdates()); n != 3 {
		t.Fatalf("%d updates pending at Telegram after the crash; want the batch's 3", n)
	}

	lease.Expire() // a's TTL runs out
	b.run(lease, nil)
	say("four")
	waitRecorded(t, g.ID, 1, b)
	if !fake.WaitUpdatesConsumed(5 * time.Second) {
		t.Fatalf("b did not confirm the updates: %d pending", len(fake.PendingUpdates()))
	}
	if lease.Holder() != "b" {
		t.Fatalf("holder %q; want b", lease.Holder())
	}
	got := map[string]int{}
	b.texts(g.ID, got)
	if len(got) != 1 || got["four"] != 1 {
		t.Fatalf("b recorded %v; want only the message after a's batch", got)
	}

	a.run(lease, nil) // restarted: stands by, records its batch
	waitRecorded(t, g.ID, 4, a, b)
	say("five")
	waitRecorded(t, g.ID, 5, a, b)
	a.stop()
	a.run(lease, nil) // a second restart records nothing again
	say("six")
	waitRecorded(t, g.ID, 6, a, b)
	onceEach(t, g.ID, sent, a, b)
	if lease.Holder() != "b" {
		t.Fatalf("a standby took the lease: holder %q", lease.Holder())
	}
}

// TestLeaseLostBeforeCommitLeavesTheBatch: the poller loses the lease
// while it holds a batch (another process won the race): its lease commit
// fails, it records nothing of the batch and stands by, and the new
// holder receives the batch from the offset in the lease.
func TestLeaseLostBeforeCommitLeavesTheBatch(t *testing.T) {
	fake := telegramtest.New(telegramtest.Options{LongPollCap: time.Second, AllowedUpdates: telegram.AllowedUpdates})
	t.Cleanup(fake.Close)
	owner, ann := fake.NewUser("Owner"), fake.NewUser("Ann")
	g := fake.NewSupergroup("G", owner, ann)
	lease := coordtest.New()
	a, b := newFleetProcess(t, "a", fake), newFleetProcess(t, "b", fake)
	var sent []string
	say := func(text string) { fake.Message(g, ann, text); sent = append(sent, text) }

	a.run(lease, nil)
	say("one")
	waitRecorded(t, g.ID, 1, a)
	b.run(lease, nil)
	lease.Steal("b") // at a's next lease commit
	say("two")
	say("three")
	waitRecorded(t, g.ID, 3, a, b)
	say("four")
	waitRecorded(t, g.ID, 4, a, b)
	onceEach(t, g.ID, sent, a, b)
	gotA, gotB := map[string]int{}, map[string]int{}
	a.texts(g.ID, gotA)
	b.texts(g.ID, gotB)
	if gotA["two"] != 0 || gotB["two"] != 1 || gotB["four"] != 1 {
		t.Fatalf("a recorded %v, b %v; want the lost batch and what follows in b", gotA, gotB)
	}
	var st struct {
		Offset int64 `json:"offset"`
	}
	if err := json.Unmarshal(lease.Value(), &st); err != nil {
		t.Fatal(err)
	}
	if !fake.WaitUpdatesConsumed(5*time.Second) || st.Offset == 0 {
		t.Fatalf("offset in the lease %d, %d updates pending", st.Offset, len(fake.PendingUpdates()))
	}
}

// TestLeaseSplitsALargeBatch: a getUpdates answer too large for one lease
// commit (NATS refuses messages over 1 MiB) is committed and recorded in
// parts; the updates left out are asked for again, none lost or doubled.
func TestLeaseSplitsALargeBatch(t *testing.T) {
	fake := telegramtest.New(telegramtest.Options{LongPollCap: time.Second, AllowedUpdates: telegram.AllowedUpdates})
	t.Cleanup(fake.Close)
	owner, ann := fake.NewUser("Owner"), fake.NewUser("Ann")
	g := fake.NewSupergroup("G", owner, ann)
	lease := coordtest.New()
	a := newFleetProcess(t, "a", fake)
	var sent []string
	long := strings.Repeat("é", 2000) // 4,000 bytes of text, more escaped
	for i := range 100 {
		text := id(int64(i)) + " " + long
		fake.Message(g, ann, text)
		sent = append(sent, text)
	}
	a.run(lease, nil)
	waitRecorded(t, g.ID, 100, a)
	onceEach(t, g.ID, sent, a)
	if n := lease.Commits("a"); n < 2 {
		t.Fatalf("100 updates of 4 KB committed to the lease in %d commit(s); want them split", n)
	}
	if n := lease.Largest(); n > 300<<10 {
		t.Fatalf("a lease value of %d bytes; want at most about 256 KiB", n)
	}
}
