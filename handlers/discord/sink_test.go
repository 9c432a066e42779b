package discord_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

type posted struct {
	Embeds []struct {
		Title, Description string
		Footer             struct{ Text string }
		Color              int
	}
	AllowedMentions *struct {
		Parse []string `json:"parse"`
	} `json:"allowed_mentions"`
}

func decodePosts(t *testing.T, bodies [][]byte) []posted {
	t.Helper()
	var out []posted
	for _, b := range bodies {
		var p posted
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("post body %s: %v", b, err)
		}
		out = append(out, p)
	}
	return out
}

func (h *harness) waitPosts(n int) []posted {
	h.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		posts := decodePosts(h.t, h.fake.Posts(logID))
		embeds := 0
		for _, p := range posts {
			embeds += len(p.Embeds)
		}
		if embeds >= n {
			return posts
		}
	}
	h.t.Fatalf("fewer than %d entries reached the log channel", n)
	return nil
}

func TestLogChannelEntries(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), &settings.Community{Locale: "fr", LogChannels: []settings.LogChannel{{ID: logID}}})
	if err != nil {
		t.Fatal(err)
	}
	h.fake.Fail5xx("/channels/"+logID+"/messages", 2) // an outage first: nothing may be lost
	h.fake.Say(guildID, channelID, member, "hello @everyone **bold** [x](https://evil.example)")
	h.fake.Join(guildID, &discordgo.User{ID: "400000000000000010", Username: "zoe"})
	posts := h.waitPosts(2)
	var all []string
	for _, p := range posts {
		if p.AllowedMentions == nil || len(p.AllowedMentions.Parse) != 0 {
			t.Fatalf("a log post may ping: allowed_mentions %+v", p.AllowedMentions)
		}
		for _, e := range p.Embeds {
			all = append(all, e.Title+" | "+e.Description+" | "+e.Footer.Text)
		}
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{"Ann a publié un message.", "zoe a rejoint le serveur.", "> hello @\u200beveryone \\*\\*bold\\*\\* \\[x\\]"} {
		if !strings.Contains(text, want) {
			t.Errorf("log entries lack %q:\n%s", want, text)
		}
	}
	// The bot's own log posts come back through the gateway and must not
	// be recorded (or they would be logged again).
	time.Sleep(200 * time.Millisecond)
	page, _ := h.s.Query(context.Background(), store.Query{Platform: audit.Discord, Property: guildID, Types: []audit.EventType{audit.ChatMessage}})
	if len(page.Events) != 1 {
		t.Fatalf("%d CHAT_MESSAGE records: the bot logged its own log posts", len(page.Events))
	}
	if n, _ := h.s.OutboxDepth("discord"); n != 0 {
		t.Fatalf("%d entries left in the outbox", n)
	}
}

func TestLostAccessPausesTheChannel(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), &settings.Community{LogChannels: []settings.LogChannel{{ID: logID}}})
	if err != nil {
		t.Fatal(err)
	}
	h.fake.DenyChannel(logID)
	h.fake.Join(guildID, &discordgo.User{ID: "400000000000000011", Username: "yves"})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		set, _ := h.s.Settings(context.Background(), audit.Discord, guildID)
		if lc := set.LogChannel(logID); lc != nil && lc.Paused != "" {
			if !strings.Contains(lc.Paused, "permissions") {
				t.Fatalf("pause reason %q", lc.Paused)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the channel was not paused")
		}
	}
	if n, _ := h.s.OutboxDepth("discord"); n != 1 {
		t.Fatalf("the entry must wait in the outbox while paused: depth %d", n)
	}
}

// TestRaidDeliveredWithinRateLimits sends 2,000 joins: every entry reaches
// the log channel and no request exceeds the fake's per-channel limit
// (shrunk from Discord's 5 per 5 s so that the test is quick).
func TestRaidDeliveredWithinRateLimits(t *testing.T) {
	h, err := startWith(t, discordtest.Options{MessageLimit: 50, MessageWindow: time.Second},
		&settings.Community{LogChannels: []settings.LogChannel{{ID: logID}}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := 0; i < n; i++ {
		h.fake.Join(guildID, &discordgo.User{ID: strconv.Itoa(500000000000000000 + i), Username: "raider" + strconv.Itoa(i)})
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := h.s.Counts(context.Background(), audit.Discord, guildID, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if c[audit.UserJoin] == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d joins recorded", c[audit.UserJoin], n)
		}
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if d, _ := h.s.OutboxDepth("discord"); d == 0 {
			break
		}
		if time.Now().After(deadline) {
			d, _ := h.s.OutboxDepth("discord")
			t.Fatalf("%d entries still undelivered", d)
		}
	}
	embeds := 0
	for _, p := range decodePosts(t, h.fake.Posts(logID)) {
		embeds += len(p.Embeds)
	}
	if embeds != n {
		t.Fatalf("%d entries delivered, want %d", embeds, n)
	}
	if v := h.fake.RateLimitViolations(); v != 0 {
		t.Fatalf("%d requests over the rate limit", v)
	}
}
