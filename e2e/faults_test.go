package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/internal/testlog"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// TestTelegramFaultsLoseNothing runs the whole bot (bot.Run) against a fake
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
	go func() { done <- bot.Run(ctx, cfg, zerolog.Nop()) }()
	defer func() {
		cancel()
		<-done
	}()

	waitUntil(t, "readiness once Telegram answers", func() bool { return ready(base) })
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

// TestDiscordGatewayDropsLoseNothing runs the whole bot (bot.Run) against
// the fake Discord while its gateway connection drops every few seconds
// for a minute, the way a flaky network does, and members keep talking
// throughout; midway the log channel's route answers 429 for a while and
// then 5xx. The bot resumes each time; afterwards every message is
// recorded exactly once, every one reached the log channel once, no post
// came back before its retry_after, the reconnects were counted, the
// chain verifies, and the token never reached the logs.
func TestDiscordGatewayDropsLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test in -short mode")
	}
	t.Parallel()
	fake := discordtest.New(discordtest.Options{Token: "drop-token"})
	t.Cleanup(fake.Close)
	const guildID, general, logs = "110000000000000001", "210000000000000001", "210000000000000002"
	owner := &discordtest.User{ID: "410000000000000001", Username: "owner"}
	members := []*discordtest.User{{ID: "410000000000000002", Username: "ann"}, {ID: "410000000000000003", Username: "bob"}}
	fake.AddGuild(&discordtest.Guild{ID: guildID, Name: "Drops", OwnerID: owner.ID,
		Roles: []*discordtest.Role{{ID: guildID, Name: "@everyone"}},
		Channels: []*discordtest.Channel{{ID: general, GuildID: guildID, Name: "general", Type: discordtest.ChannelTypeGuildText},
			{ID: logs, GuildID: guildID, Name: "logs", Type: discordtest.ChannelTypeGuildText}},
		Members: []*discordtest.Member{{User: owner}, {User: members[0]}, {User: members[1]}}})
	db := filepath.Join(t.TempDir(), "drops.db")
	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.UpdateSettings(context.Background(), audit.Discord, guildID, func(st *settings.Community) error {
		st.LogChannels = []settings.LogChannel{{ID: logs, Types: []audit.EventType{audit.ChatMessage}}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	cfg, err := config.Parse([]byte(fmt.Sprintf("storage: {path: %q}\ndiscord: {enabled: true, token: drop-token, api_url: %q}\napi: {listen: %q}\n",
		db, fake.APIURL(), listen)), "drops.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logged testlog.Buffer
	go func() { done <- bot.Run(ctx, cfg, zerolog.New(&logged)) }()
	defer func() {
		cancel()
		<-done
	}()
	waitUntil(t, "the bot connected", func() bool { return len(fake.Commands("")) > 0 })

	restFaults := time.AfterFunc(20*time.Second, func() {
		fake.RateLimit("/channels/"+logs+"/messages", 8, 700*time.Millisecond)
		time.AfterFunc(10*time.Second, func() { fake.Fail5xx("/channels/"+logs+"/messages", 6) })
	})
	defer restFaults.Stop()
	var sent []string
	drops, wasUp := 0, false
	deadline := time.Now().Add(time.Minute)
	nextDrop := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		text := fmt.Sprintf("message %d", len(sent))
		fake.Say(guildID, general, members[len(sent)%2], text)
		sent = append(sent, text)
		// Paced so that the log channel (one post of up to 10 entries a
		// second) keeps up: the test is about the gateway, not the backlog.
		time.Sleep(150 * time.Millisecond)
		// Only a socket that has been up since the last step counts as a
		// drop: one closed in the middle of the handshake makes discordgo's
		// Open fail and retry, which is no reconnect of a live session.
		up := fake.Connected()
		if time.Now().After(nextDrop) && wasUp && up && fake.DropConnections() > 0 {
			drops++
			nextDrop = time.Now().Add(time.Duration(2000+rand.IntN(2000)) * time.Millisecond)
			up = false
		}
		wasUp = up
	}
	t.Logf("%d messages sent through %d dropped connections; %d resumes", len(sent), drops, fake.Resumes())
	posted := func() map[string]int {
		n := map[string]int{}
		for _, raw := range fake.Posts(logs) {
			var p struct {
				Embeds []struct {
					Description string `json:"description"`
				} `json:"embeds"`
			}
			if json.Unmarshal(raw, &p) != nil {
				continue
			}
			for _, em := range p.Embeds {
				for _, text := range sent {
					if strings.Contains(em.Description, text+"\n") || strings.HasSuffix(em.Description, text) {
						n[text]++
					}
				}
			}
		}
		return n
	}
	waitUntil(t, "every message in the log channel", func() bool { return len(posted()) == len(sent) })
	for text, n := range posted() {
		if n > 1 {
			t.Errorf("%q posted %d times", text, n)
		}
	}
	if v := fake.RateLimitViolations(); v != 0 {
		t.Errorf("%d requests came back before their retry_after", v)
	}
	waitUntil(t, "ready again after the drops", func() bool { return ready("http://" + listen) })
	reconnects := func() float64 { return scrape(t, "http://"+listen)[`chatwarden_reconnects_total{platform="discord"}`] }
	waitUntil(t, fmt.Sprintf("a reconnect counted for each of %d drops", drops), func() bool { return reconnects() >= float64(drops) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil

	s, err = store.Open(db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recorded := map[string]int{}
	err = s.Scan(context.Background(), store.Query{Platform: audit.Discord, Property: guildID, Types: []audit.EventType{audit.ChatMessage}},
		func(e *audit.Event) error { recorded[e.Content]++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	recordedOnce(t, s, recorded, sent)
	attempts := 0
	for _, c := range fake.Calls() {
		if c.Method == http.MethodPost && c.Path == "/channels/"+logs+"/messages" {
			attempts++
		}
	}
	if accepted := len(fake.Posts(logs)); attempts < accepted+8+6 {
		t.Errorf("%d log posts accepted in %d attempts: the injected 429s and 5xx did not all happen", accepted, attempts)
	}
	if out := logged.String(); !strings.Contains(out, "discord ready") || strings.Contains(out, "drop-token") {
		t.Errorf("the logs lack the ready line or hold the token:\n%s", out)
	}
}

// ready reports whether the API at base answers /readyz with 200.
func ready(base string) bool {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
