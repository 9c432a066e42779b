package discord_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/discord"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// instance is one run of the bot on a database file, against a fake that
// outlives it.
type instance struct {
	*harness
	stopOnce sync.Once
}

// launch opens the store at path and runs a bot on it against fake, the
// way main wires them; stop (also run at cleanup) shuts it down.
func launch(t *testing.T, fake *discordtest.Server, path string) *instance {
	t.Helper()
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	router, err := logchannel.NewRouter(context.Background(), s, "en")
	if err != nil {
		t.Fatalf("log router: %v", err)
	}
	rec := recorder.New(s, recorder.Options{Routers: []recorder.Router{router}})
	b, err := discord.New(discord.Options{Token: "test-token", APIURL: fake.APIURL(), Store: s, Recorder: rec,
		Logger: zerolog.Nop(), CorrelationWindow: 300 * time.Millisecond, ReadyTimeout: 5 * time.Second,
		Router: router, LogInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("new bot: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{harness: &harness{t: t, fake: fake, s: s, rec: rec, b: b, stop: cancel, done: make(chan error, 1)}}
	go func() { in.done <- b.Run(ctx) }()
	t.Cleanup(in.shutdown)
	select {
	case <-b.Ready():
	case err := <-in.done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no READY")
	}
	return in
}

// halt stops the bot (Run returns); the store stays open to be inspected.
func (in *instance) halt() {
	in.stop()
	if err := <-in.done; err != nil {
		in.t.Errorf("run: %v", err)
	}
	in.done <- nil // for shutdown
}

// shutdown stops the bot if it runs, then closes the recorder and the
// store, as main does on SIGTERM.
func (in *instance) shutdown() {
	in.stopOnce.Do(func() {
		in.stop()
		<-in.done
		in.rec.Close(context.Background())
		if err := in.s.Close(); err != nil {
			in.t.Errorf("close the store: %v", err)
		}
	})
}

// postsSent counts the log posts the bot sent, answered or not.
func postsSent(fake *discordtest.Server) int {
	n := 0
	for _, c := range fake.Calls() {
		if c.Method == "POST" && c.Path == "/channels/"+logID+"/messages" {
			n++
		}
	}
	return n
}

// TestRestartDuringLogDeliveryLosesNothing stops the bot while the log
// channel's backlog is being posted (each post answered slowly), starts a
// new bot on the same database and fake, and checks that every entry
// reaches the channel and the outbox ends empty. The only duplicates
// allowed are README's "at least once": the entries of the one post in
// flight at the stop, posted again.
func TestRestartDuringLogDeliveryLosesNothing(t *testing.T) {
	fake := discordtest.New(discordtest.Options{MessageLimit: 100, MessageWindow: time.Second})
	t.Cleanup(fake.Close)
	fake.AddGuild(guild(guildID))
	path := filepath.Join(t.TempDir(), "d.db")
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpdateSettings(context.Background(), audit.Discord, guildID, func(x *settings.Community) error { *x = *logged(); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fake.Delay("/channels/"+logID+"/messages", 150*time.Millisecond)

	first := launch(t, fake, path)
	const n = 60
	for i := 0; i < n; i++ {
		fake.Join(guildID, &discordgo.User{ID: strconv.Itoa(600000000000000000 + i), Username: fmt.Sprintf("joiner%d", i)})
	}
	joins := first.wait(store.Query{Types: []audit.EventType{audit.UserJoin}}, n)
	// Stop once a post was accepted and the next one is in flight (sent,
	// not yet answered).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		accepted := len(fake.Posts(logID))
		if accepted > 0 && postsSent(fake) > accepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no log post in flight before the restart")
		}
	}
	first.halt()
	depth, err := first.s.OutboxDepth("discord")
	if err != nil {
		t.Fatal(err)
	}
	if depth == 0 {
		t.Fatal("the outbox drained before the stop: the restart would prove nothing")
	}
	first.shutdown()
	t.Logf("%d of %d entries left in the outbox at the stop", depth, n)

	second := launch(t, fake, path)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		d, err := second.s.OutboxDepth("discord")
		if err != nil {
			t.Fatal(err)
		}
		if d == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d entries still in the outbox after the restart", d)
		}
	}

	seen := map[string]int{}     // record id -> entries posted
	postOf := map[string][]int{} // record id -> posts holding it
	for i, p := range second.logPosts() {
		for _, em := range p.Embeds {
			id, _, _ := strings.Cut(em.Footer.Text, " · ")
			seen[id]++
			postOf[id] = append(postOf[id], i)
		}
	}
	var dups []string
	for _, e := range joins {
		switch c := seen[e.ID.String()]; {
		case c == 0:
			t.Errorf("the entry of %s never reached the log channel", e.ID)
		case c > 2:
			t.Errorf("the entry of %s was posted %d times", e.ID, c)
		case c == 2:
			dups = append(dups, e.ID.String())
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct entries posted, want %d", len(seen), n)
	}
	// Every duplicate comes from one earlier post: the one in flight.
	if len(dups) > 0 {
		inFlight := postOf[dups[0]][0]
		for _, id := range dups {
			if postOf[id][0] != inFlight {
				t.Errorf("duplicates from posts %d and %d: more than the post in flight was repeated", inFlight, postOf[id][0])
			}
		}
	}
	t.Logf("%d entries, %d posted twice", len(seen), len(dups))
}

// TestMemberRequestRateLimitedAfterARestart: a bot restarted within
// Discord's 30 s window for a guild's member list gets a RATE_LIMITED
// dispatch for its request and asks again once retry_after has passed,
// not before, so the large guild's staff still reach the state. It waits
// out the real window (about 30 s), in parallel with nothing else.
func TestMemberRequestRateLimitedAfterARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out Discord's 30 s member-request window")
	}
	t.Parallel()
	const window = 30 * time.Second // Discord's, and the fake's
	fake := discordtest.New(discordtest.Options{LargeGuilds: true})
	t.Cleanup(fake.Close)
	fake.AddGuild(guild(guildID))
	whole := func() (answered, refused []discordtest.MemberRequest) {
		for _, r := range fake.MemberRequests() {
			if r.GuildID == guildID && r.Query != nil && *r.Query == "" && r.Limit == 0 {
				if r.Answered {
					answered = append(answered, r)
				} else {
					refused = append(refused, r)
				}
			}
		}
		return answered, refused
	}
	db := filepath.Join(t.TempDir(), "r.db")
	first := launch(t, fake, db)
	waitFor(t, "the first member-list request answered", func() bool { a, _ := whole(); return len(a) == 1 })
	first.shutdown()

	second := launch(t, fake, db)
	waitFor(t, "the restarted bot's request refused as rate limited", func() bool { _, r := whole(); return len(r) >= 1 })
	waitForUpTo(t, window+15*time.Second, "a member-list request answered after the RATE_LIMITED one",
		func() bool { a, _ := whole(); return len(a) == 2 })
	answered, refused := whole()
	if len(refused) != 1 {
		t.Errorf("%d requests refused; the bot must wait out retry_after, not retry at once", len(refused))
	}
	if gap := answered[1].Time.Sub(answered[0].Time); gap < window {
		t.Errorf("asked again %v after the first answer, within the %v window", gap, window)
	}
	// The fake marks the request answered when it sends the chunks; the
	// bot reads them after that.
	waitFor(t, "the moderator from the chunks in the state", func() bool {
		_, err := second.b.Session().State.Member(guildID, mod.ID)
		return err == nil
	})
}
