package telegram_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/coord/coordtest"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/internal/testlog"
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
	// adoptAfter is the grace before adopting others' batches (default
	// one hour: never, in a test).
	adoptAfter  time.Duration
	pollTimeout time.Duration // default 1s
	logs        testlog.Buffer
}

// leaseScene is what the lease tests share: the fake Bot API with the
// group G of its owner and Ann, one lease, and what Ann said through say.
type leaseScene struct {
	fake  *telegramtest.Server
	g     telegramtest.Chat
	ann   telegramtest.User
	lease *coordtest.Lease
	sent  []string
}

func newLeaseScene(t *testing.T) *leaseScene {
	fake := telegramtest.New(telegramtest.Options{LongPollCap: time.Second, AllowedUpdates: telegram.AllowedUpdates})
	t.Cleanup(fake.Close)
	owner, ann := fake.NewUser("Owner"), fake.NewUser("Ann")
	return &leaseScene{fake: fake, g: fake.NewSupergroup("G", owner, ann), ann: ann, lease: coordtest.New()}
}

// say has Ann say text in G, and keeps it in sent.
func (sc *leaseScene) say(text string) {
	sc.fake.Message(sc.g, sc.ann, text)
	sc.sent = append(sc.sent, text)
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
	adopt := p.adoptAfter
	if adopt == 0 {
		adopt = time.Hour
	}
	poll := p.pollTimeout
	if poll == 0 {
		poll = time.Second
	}
	b, err := telegram.New(telegram.Options{Token: p.fake.Token(), APIURL: p.fake.URL, PollTimeout: poll,
		Store: p.s, Recorder: p.rec, Lease: lease.For(p.name), AdoptAfter: adopt,
		Logger: zerolog.New(zerolog.MultiLevelWriter(zerolog.NewTestWriter(p.t), &p.logs)).Level(zerolog.InfoLevel)})
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
	sc := newLeaseScene(t)
	fake, g, lease := sc.fake, sc.g, sc.lease
	a, b := newFleetProcess(t, "a", fake), newFleetProcess(t, "b", fake)

	say := sc.say
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
	onceEach(t, g.ID, sc.sent, a, b)
	if lease.Holder() != "b" {
		t.Fatalf("a standby took the lease: holder %q", lease.Holder())
	}
}

// TestLeaseLostBeforeCommitLeavesTheBatch: the poller loses the lease
// while it holds a batch (another process won the race): its lease commit
// fails, it records nothing of the batch and stands by, and the new
// holder receives the batch from the offset in the lease.
func TestLeaseLostBeforeCommitLeavesTheBatch(t *testing.T) {
	sc := newLeaseScene(t)
	fake, g, lease := sc.fake, sc.g, sc.lease
	a, b := newFleetProcess(t, "a", fake), newFleetProcess(t, "b", fake)
	say := sc.say

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
	onceEach(t, g.ID, sc.sent, a, b)
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
	sc := newLeaseScene(t)
	fake, g, ann, lease := sc.fake, sc.g, sc.ann, sc.lease
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

// leaseValue is the lease's value as the tests read it.
type leaseValue struct {
	Offset  int64 `json:"offset"`
	Pending map[string]struct {
		From    int64             `json:"from"`
		Next    int64             `json:"next"`
		Updates []json.RawMessage `json:"updates"`
	} `json:"pending"`
	Adopted map[string]struct {
		From int64  `json:"from"`
		Next int64  `json:"next"`
		By   string `json:"by"`
	} `json:"adopted"`
}

func readLease(t *testing.T, lease *coordtest.Lease) leaseValue {
	t.Helper()
	var v leaseValue
	if err := json.Unmarshal(lease.Value(), &v); err != nil {
		t.Fatalf("lease value %q: %v", lease.Value(), err)
	}
	return v
}

// leftBatch crashes process a around its first batch's local commit
// (before it when before is true), with three messages in it, and
// returns the batch's range as committed to the lease.
func leftBatch(t *testing.T, fake *telegramtest.Server, lease *coordtest.Lease, a *fleetProcess, before bool, say func(string)) (from, next int64) {
	t.Helper()
	for _, s := range []string{"one", "two", "three"} {
		say(s)
	}
	hook, crashed := crashOnce()
	a.run(lease, func(bot *telegram.Bot) {
		if before {
			telegram.SetCommitHooks(bot, hook, nil)
		} else {
			telegram.SetCommitHooks(bot, nil, hook)
		}
	})
	waitCrash(t, crashed)
	a.stop()
	v := readLease(t, lease)
	p, ok := v.Pending["a"]
	if !ok || len(p.Updates) != 3 || p.Next != v.Offset {
		t.Fatalf("after the crash the lease holds %+v; want a's batch of 3 pending", v)
	}
	return p.From, p.Next
}

// TestLeaseBatchOfAProcessThatNeverReturnsIsAdopted: the poller commits
// a batch to the lease and dies before recording it, for good. The next
// holder, once the grace has passed, settles the batch, records it in its
// own store, drops it from the lease and notes that it adopted it: every
// message once. When the dead process does come back much later, it
// finds its batch adopted and, not having recorded it, records nothing
// and warns of nothing.
func TestLeaseBatchOfAProcessThatNeverReturnsIsAdopted(t *testing.T) {
	sc := newLeaseScene(t)
	fake, g, lease := sc.fake, sc.g, sc.lease
	a, b := newFleetProcess(t, "a", fake), newFleetProcess(t, "b", fake)
	b.adoptAfter = 300 * time.Millisecond
	say := sc.say
	from, next := leftBatch(t, fake, lease, a, true, say)

	lease.Expire()
	b.run(lease, nil)
	say("four")
	waitRecorded(t, g.ID, 4, b)
	waitFor(t, "b to drop a's batch from the lease", func() bool { _, ok := readLease(t, lease).Pending["a"]; return !ok })
	v := readLease(t, lease)
	if ad := v.Adopted["a"]; ad.By != "b" || ad.From != from || ad.Next != next {
		t.Fatalf("the lease notes a's batch %d..%d adopted as %+v; want by b", from, next, ad)
	}
	if item, winner := lease.Settled("a"); item != fmt.Sprintf("%d-%d", from, next) || winner != "b" {
		t.Fatalf("a's batch settled as item %s by %q; want %d-%d by b", item, winner, from, next)
	}
	say("five")
	waitRecorded(t, g.ID, 5, b)
	onceEach(t, g.ID, sc.sent, a, b)
	got := map[string]int{}
	a.texts(g.ID, got)
	if len(got) != 0 {
		t.Fatalf("a recorded %v before its crash; want nothing", got)
	}

	a.run(lease, nil) // much later
	waitFor(t, "a to see its batch adopted", func() bool { return strings.Contains(a.logs.String(), "another process recorded the batch") })
	say("six")
	waitRecorded(t, g.ID, 6, a, b)
	onceEach(t, g.ID, sc.sent, a, b)
	if strings.Contains(a.logs.String(), "twice") {
		t.Fatalf("a warned of a double record:\n%s", a.logs.String())
	}
}

// TestLeaseBatchRecordedBeforeTheCrashIsAdoptedWithAWarning: the poller
// dies after recording its batch but before clearing it from the lease,
// and stays away past the grace: the next holder adopts the batch, which
// is then in both stores. When the dead process comes back, it does not
// record the batch a second time, and it warns once, naming the range.
func TestLeaseBatchRecordedBeforeTheCrashIsAdoptedWithAWarning(t *testing.T) {
	sc := newLeaseScene(t)
	fake, g, lease := sc.fake, sc.g, sc.lease
	a, b := newFleetProcess(t, "a", fake), newFleetProcess(t, "b", fake)
	b.adoptAfter = 300 * time.Millisecond
	say := sc.say
	from, next := leftBatch(t, fake, lease, a, false, say)

	lease.Expire()
	b.run(lease, nil)
	waitRecorded(t, g.ID, 3, b)
	waitFor(t, "b to drop a's batch from the lease", func() bool { _, ok := readLease(t, lease).Pending["a"]; return !ok })
	for _, p := range []*fleetProcess{a, b} {
		got := map[string]int{}
		p.texts(g.ID, got)
		if got["one"] != 1 || got["two"] != 1 || got["three"] != 1 {
			t.Fatalf("%s recorded %v; want the batch once in each store", p.name, got)
		}
	}

	want := fmt.Sprintf(`"from":%d,"next":%d,"by":"b"`, from, next)
	warnings := func() int { return strings.Count(a.logs.String(), "query nodes show them twice") }
	a.run(lease, nil)
	waitFor(t, "a's warning", func() bool { return warnings() == 1 })
	if line := a.logs.String(); !strings.Contains(line, want) {
		t.Fatalf("a's warning does not name the range %s:\n%s", want, line)
	}
	say("four")
	waitRecorded(t, g.ID, 7, a, b) // 3 in a, 3 adopted in b, four
	a.stop()
	a.run(lease, nil)
	say("five")
	waitRecorded(t, g.ID, 8, a, b)
	if n := warnings(); n != 1 {
		t.Fatalf("a warned %d times; want once", n)
	}
	got := map[string]int{}
	a.texts(g.ID, got)
	if got["one"] != 1 || got["two"] != 1 || got["three"] != 1 || got["four"]+got["five"] != 0 {
		t.Fatalf("a recorded %v; want its batch once and nothing after (b polls)", got)
	}
}

// TestLeaseProcessBackWithinTheGraceRecordsItsOwn: the poller dies
// before recording its batch and comes back before the next holder's
// grace ends: it settles the batch first and records it; the holder then
// drops the batch from the lease without adopting it.
func TestLeaseProcessBackWithinTheGraceRecordsItsOwn(t *testing.T) {
	sc := newLeaseScene(t)
	fake, g, lease := sc.fake, sc.g, sc.lease
	a, b := newFleetProcess(t, "a", fake), newFleetProcess(t, "b", fake)
	b.adoptAfter = 3 * time.Second
	say := sc.say
	from, next := leftBatch(t, fake, lease, a, true, say)

	lease.Expire()
	b.run(lease, nil)
	say("four")
	waitRecorded(t, g.ID, 1, b)
	a.run(lease, nil)
	waitRecorded(t, g.ID, 4, a, b)
	waitFor(t, "a to settle its batch, once recorded", func() bool { _, winner := lease.Settled("a"); return winner != "" })
	if item, winner := lease.Settled("a"); item != fmt.Sprintf("%d-%d", from, next) || winner != "a" {
		t.Fatalf("a's batch settled as item %s by %q; want %d-%d by a", item, winner, from, next)
	}
	waitFor(t, "b to drop a's batch from the lease after its grace", func() bool { _, ok := readLease(t, lease).Pending["a"]; return !ok })
	if v := readLease(t, lease); len(v.Adopted) != 0 {
		t.Fatalf("the lease notes adoptions %+v; want none", v.Adopted)
	}
	say("five")
	waitRecorded(t, g.ID, 5, a, b)
	onceEach(t, g.ID, sc.sent, a, b)
	got := map[string]int{}
	b.texts(g.ID, got)
	if got["one"]+got["two"]+got["three"] != 0 {
		t.Fatalf("b recorded %v; want none of a's batch", got)
	}
}

// TestLeaseClearsARecordedBatch counts the lease writes: a burst of 250
// updates (three getUpdates batches) costs one write per batch and one
// to clear the last once recorded, the next poll having come back empty
// within a second; a batch followed by quiet costs two. Polling only for
// that second after a batch, the holder then waits with the configured
// timeout. A stop clears the batch before handing the lease over.
func TestLeaseClearsARecordedBatch(t *testing.T) {
	fake := telegramtest.New(telegramtest.Options{LongPollCap: 3 * time.Second, AllowedUpdates: telegram.AllowedUpdates})
	t.Cleanup(fake.Close)
	owner, ann := fake.NewUser("Owner"), fake.NewUser("Ann")
	g := fake.NewSupergroup("G", owner, ann)
	lease := coordtest.New()
	a := newFleetProcess(t, "a", fake)
	a.pollTimeout = 3 * time.Second
	var sent []string
	say := func(text string) { fake.Message(g, ann, text); sent = append(sent, text) }
	for i := range 250 {
		say("burst " + id(int64(i)))
	}
	cleared := func() bool { _, ok := readLease(t, lease).Pending["a"]; return lease.Value() != nil && !ok }
	a.run(lease, nil)
	waitRecorded(t, g.ID, 250, a)
	waitFor(t, "the last batch cleared", cleared)
	if n := lease.Commits("a"); n != 4 {
		t.Fatalf("250 updates in 3 batches took %d lease writes; want 4 (3 batches, 1 clear)", n)
	}
	for i := range 3 {
		say("quiet " + id(int64(i)))
		waitRecorded(t, g.ID, 251+i, a)
		waitFor(t, "the batch cleared", cleared)
	}
	if n := lease.Commits("a"); n != 10 {
		t.Fatalf("3 more batches, each followed by quiet, took %d writes in all; want 10", n)
	}
	var short, long int
	for _, c := range fake.GetUpdatesCalls() {
		switch c.Timeout {
		case 1:
			short++
		case 3:
			long++
		}
	}
	if short < 4 || long == 0 {
		t.Fatalf("%d polls of 1s after a batch and %d of 3s (the configured timeout); want at least 4 and 1", short, long)
	}

	say("last")
	waitRecorded(t, g.ID, 254, a)
	a.stop()
	if v := readLease(t, lease); len(v.Pending) != 0 || lease.Holder() != "" {
		t.Fatalf("after a stop the lease holds %+v, holder %q; want nothing pending, released", v.Pending, lease.Holder())
	}
	onceEach(t, g.ID, sent, a)
}

// TestLeaseLeavesAnEarlierReleasesBatch: a batch an earlier release left
// in the lease (without "clears": it kept every batch there until its
// next, recorded or not) is neither adopted nor dropped by a new holder,
// however long it holds the lease; that process records it, or not, when
// it starts again, as before.
func TestLeaseLeavesAnEarlierReleasesBatch(t *testing.T) {
	sc := newLeaseScene(t)
	fake, g, ann, lease := sc.fake, sc.g, sc.ann, sc.lease
	old, err := lease.For("old").Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	raw := fmt.Sprintf(`{"update_id":7,"message":{"message_id":1,"date":%d,"chat":{"id":%d,"type":"supergroup","title":"G"},"from":{"id":%d,"is_bot":false,"first_name":"Ann"},"text":"old release"}}`,
		time.Now().Unix(), g.ID, ann.ID)
	if err := old.Commit(context.Background(), []byte(`{"offset":8,"pending":{"old":{"from":7,"next":8,"updates":[`+raw+`]}}}`)); err != nil {
		t.Fatal(err)
	}
	old.Release(context.Background())
	b := newFleetProcess(t, "b", fake)
	b.adoptAfter = 100 * time.Millisecond
	b.run(lease, nil)
	var sent []string
	for i := range 3 {
		text := "new " + id(int64(i))
		fake.Message(g, ann, text)
		sent = append(sent, text)
		waitRecorded(t, g.ID, i+1, b)
		time.Sleep(200 * time.Millisecond) // past the grace
	}
	onceEach(t, g.ID, sent, b)
	if p, ok := readLease(t, lease).Pending["old"]; !ok || p.From != 7 || len(p.Updates) != 1 {
		t.Fatalf("the earlier release's batch in the lease: %+v, %v; want it kept", p, ok)
	}
	if _, winner := lease.Settled("old"); winner != "" {
		t.Fatalf("the earlier release's batch settled by %q", winner)
	}
}
