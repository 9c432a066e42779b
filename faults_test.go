package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/config"
)

// TestTelegramFaultsLoseNothing runs the whole bot (serve) against a fake
// Telegram that misbehaves the way Telegram does during incidents: while
// members keep talking, getUpdates fails intermittently (502 pages from the
// front end, JSON 500s, 429 with retry_after), and log posts are answered
// with 429 for a while and then with 5xx. Afterwards every update is
// recorded exactly once, every entry reached its log channel, and the
// chains verify.
func TestTelegramFaultsLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test in -short mode")
	}
	sc := newTelegramScene(t)
	cfg, err := config.Load(sc.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, zerolog.Nop()) }()
	defer func() {
		cancel()
		<-done
	}()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	var sent []string
	say := func() {
		g := sc.groups[rng.IntN(len(sc.groups))]
		text := fmt.Sprintf("message %d", len(sent))
		sc.fake.Message(g.chat, sc.members[rng.IntN(len(sc.members))], text)
		sent = append(sent, text)
	}
	// Log posts: rate limited first, then a server outage.
	sc.fake.Inject429("sendMessage", 2, 1)
	sc.fake.Inject5xx("sendMessage", 2, 502)
	sc.fake.Inject5xxJSON("sendMessage", 1, 500)
	for round := range 6 {
		// Intermittent: each failure is followed by a successful poll
		// before the next one.
		polls := len(sc.fake.Calls("getUpdates"))
		switch round % 3 {
		case 0:
			sc.fake.FailGetUpdates(1)
		case 1:
			sc.fake.Inject5xxJSON("getUpdates", 1, 500)
		case 2:
			sc.fake.Inject429("getUpdates", 1, 1)
		}
		for range 5 {
			say()
			time.Sleep(time.Duration(20+rng.IntN(60)) * time.Millisecond)
		}
		waitUntil(t, "a poll after the failure", func() bool { return len(sc.fake.Calls("getUpdates")) >= polls+2 })
	}
	start := time.Now()
	if !sc.fake.WaitUpdatesConsumed(60 * time.Second) {
		t.Fatalf("%d updates never consumed", len(sc.fake.PendingUpdates()))
	}
	t.Logf("updates consumed after %s", time.Since(start))
	waitUntil(t, "every entry in the log channels", func() bool {
		for _, text := range sent {
			if !sc.logged(text) {
				return false
			}
		}
		return true
	})
	t.Logf("entries delivered after %s", time.Since(start))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil
	sc.check(t, sent)
	if n := len(sc.fake.Calls("getUpdates")); n < 7 {
		t.Errorf("only %d getUpdates calls: the faults were not all met", n)
	}
}
