package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.API.Listen = ln.Addr().String()
	ln.Close()
	base := "http://" + cfg.API.Listen
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, zerolog.Nop()) }()
	defer func() {
		cancel()
		<-done
	}()

	waitUntil(t, "readiness once Telegram answers", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
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
	// Every failed poll is a reconnect, every refused post a delivery
	// failure: an operator's dashboard sees the incident.
	metrics := scrape(t, base)
	if n := metrics[`chatwarden_reconnects_total{platform="telegram"}`]; n < 6 {
		t.Errorf("%v Telegram reconnects counted, want at least 6 (one per getUpdates failure)", n)
	}
	if n := metrics[`chatwarden_delivery_failures_total{platform="telegram"}`]; n < 5 {
		t.Errorf("%v Telegram delivery failures counted, want at least 5 (2 429s, 3 5xx)", n)
	}
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

// scrape reads a running bot's /metrics: series (name with labels) to
// value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[series] = v
		}
	}
	return out
}
