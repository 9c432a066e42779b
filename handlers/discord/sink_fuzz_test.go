package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/settings"
)

// capture answers every REST request of a session with an empty message
// and keeps the last body, so that Post can run without a network while
// the test reads exactly what would have been sent.
type capture struct {
	mu   sync.Mutex
	body []byte
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
	}
	c.mu.Lock()
	c.body = b
	c.mu.Unlock()
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"id":"1","channel_id":"1"}`)), Request: r}, nil
}

func (c *capture) last() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.body)
}

// postingBot is a Bot whose only abilities are rendering and posting log
// entries: enough for Post, with locales routed by property id.
func postingBot(t testing.TB) (*Bot, *capture) {
	t.Helper()
	s, err := discordgo.New("Bot fuzz")
	if err != nil {
		t.Fatal(err)
	}
	c := &capture{}
	s.Client = &http.Client{Transport: c}
	router, _ := logchannel.NewRouter(context.Background(), nil, "en")
	for _, l := range logentry.Locales() {
		router.Update(audit.Discord, l, settings.Community{Locale: l})
	}
	return &Bot{s: s, opts: Options{Router: router}}, c
}

// hostileEvent builds a record from fuzzed parts the way the outbox hands
// it to the sink: normalized to the stored limits. Strings are made valid
// UTF-8 first, as every platform's JSON decoding does.
//
// Long strings come from repeating short ones reps times (names and values
// then reach their stored limits, content its 16 KiB), so that the fuzzer
// works on small inputs and minimizes quickly.
func hostileEvent(typ uint8, locale, actor, actorID, target, targetID, key, val, content string, reps uint16) *audit.Event {
	v := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	long := func(s string) string {
		if n := int(reps%4096) + 1; len(s)*n <= 64<<10 {
			s = strings.Repeat(s, n)
		}
		return v(s)
	}
	e := &audit.Event{Platform: audit.Discord, PropertyID: v(locale), Type: audit.EventType(typ), Function: audit.FuncGateway,
		ActorType: audit.ActorNonAdmin, ActorName: long(actor), ActorID: v(actorID), ChannelID: v(targetID),
		MessageID: v(targetID), Content: long(content), Time: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	e.ID = audit.MakeID(e.Time, 7)
	if targetID != "" {
		e.TargetIDs = []string{v(targetID), v(actorID)}
	}
	e.Params.Set(audit.ParamTargetName, long(target))
	e.Params.Set(audit.ParamChannelName, long(target))
	e.Params.Set(audit.ParamKind, long(val))
	e.Params.Set(audit.ParamReason, long(val))
	e.Params.Set(long(key), long(val))
	e.Attachments = []audit.Attachment{{Name: long(target), URL: long(val), Size: int64(len(val)) << (reps % 48)}}
	e.Normalize(e.Time)
	return e
}

// pingable matches what Discord would turn into a ping were mentions
// parsed: user and role mentions, @everyone and @here.
var pingable = regexp.MustCompile(`<@[!&]?[0-9]+>|@everyone|@here`)

// checkEmbed fails unless em is within Discord's embed limits, holds no
// mention syntax, and keeps the entry's shape: the summary on the first
// line of the description, every further line a quote of the content.
func checkEmbed(t *testing.T, em *discordgo.MessageEmbed) {
	t.Helper()
	runes := utf8.RuneCountInString
	if n := runes(em.Title); n == 0 || n > maxTitle {
		t.Fatalf("title of %d characters", n)
	}
	if n := runes(em.Description); n == 0 || n > maxDescription {
		t.Fatalf("description of %d characters", n)
	}
	if em.Footer == nil || runes(em.Footer.Text) > maxFooter {
		t.Fatalf("footer %+v", em.Footer)
	}
	if len(em.Fields) > maxFields {
		t.Fatalf("%d fields", len(em.Fields))
	}
	if n := embedSize(em); n > maxEmbedTotal {
		t.Fatalf("embed of %d characters", n)
	}
	texts := []string{em.Title, em.Description, em.Footer.Text}
	for _, f := range em.Fields {
		if n := runes(f.Name); n == 0 || n > maxFieldName {
			t.Fatalf("field name of %d characters: %q", n, f.Name)
		}
		if n := runes(f.Value); n == 0 || n > maxFieldValue {
			t.Fatalf("field value of %d characters", n)
		}
		if strings.ContainsAny(f.Name+f.Value, "\n\r") {
			t.Fatalf("field %q: %q spans lines", f.Name, f.Value)
		}
		texts = append(texts, f.Name, f.Value)
	}
	for _, s := range texts {
		if m := pingable.FindString(s); m != "" {
			t.Fatalf("mention %q survives in %q", m, s)
		}
	}
	lines := strings.Split(em.Description, "\n")
	for _, l := range lines[1:] {
		// A cut may end the quote inside its "> " prefix or right after a
		// line break: the marker then stands alone, still not a line of
		// the bot's own.
		if !strings.HasPrefix(l, "> ") && !strings.HasPrefix(l, ">"+audit.CutMarker) && l != audit.CutMarker {
			t.Fatalf("description line %q is neither the summary nor quoted content", l)
		}
	}
}

// FuzzDiscordPost renders hostile records through Post and checks what
// would reach Discord: within the message and embed limits, every mention
// disabled, no entry dropped without being counted.
func FuzzDiscordPost(f *testing.F) {
	f.Add(uint8(audit.ChatMessage), "en", "Ann", "400000000000000003", "", "", "reason", "", "hello @everyone <@&300000000000000001> **bold**", uint8(1), uint16(0))
	f.Add(uint8(audit.ModerationLink), "fr", "\u0301", "1", "_", "2", "url", "https://evil.example/@here", "x\n", uint8(3), uint16(3000))
	f.Add(uint8(audit.UserBan), "hi", "\u202eevil\u202c", "<@1>", "Bob\nReason: forged", "<@&2>", "k\nx", "v\r\nw", "", uint8(12), uint16(0))
	f.Add(uint8(audit.SecurityEvent), "en", "\u200b", "", "*", "3", "kind", "@", "\u0300", uint8(10), uint16(4000))
	f.Add(uint8(audit.ChatMessageDelete), "en", "@", "", "everyone", "", "old_content", "`", "@\u200beveryone\n> ", uint8(11), uint16(900))
	f.Add(uint8(255), "xx", "", "", "", "", "", "", "", uint8(0), uint16(0))
	f.Fuzz(func(t *testing.T, typ uint8, locale, actor, actorID, target, targetID, key, val, content string, copies uint8, reps uint16) {
		b, c := postingBot(t)
		n := int(copies%12) + 1
		evs := make([]*audit.Event, n)
		for i := range evs {
			evs[i] = hostileEvent(typ, locale, actor, actorID, target, targetID, key, val, content, reps)
		}
		for _, e := range evs {
			checkEmbed(t, b.embed(e))
		}
		sent, err := b.Post(context.Background(), "200000000000000002", evs)
		if err != nil {
			t.Fatal(err)
		}
		var msg struct {
			Embeds          []*discordgo.MessageEmbed         `json:"embeds"`
			AllowedMentions *discordgo.MessageAllowedMentions `json:"allowed_mentions"`
		}
		if err := json.Unmarshal(c.last(), &msg); err != nil {
			t.Fatalf("body %.300q: %v", c.last(), err)
		}
		if sent < 1 || sent != len(msg.Embeds) || len(msg.Embeds) > maxEmbeds {
			t.Fatalf("Post says %d sent, the message has %d embeds", sent, len(msg.Embeds))
		}
		if msg.AllowedMentions == nil || len(msg.AllowedMentions.Parse) != 0 || len(msg.AllowedMentions.Roles) != 0 ||
			len(msg.AllowedMentions.Users) != 0 || msg.AllowedMentions.RepliedUser {
			t.Fatalf("allowed_mentions %+v: a post could ping", msg.AllowedMentions)
		}
		total := 0
		for _, em := range msg.Embeds {
			checkEmbed(t, em)
			total += embedSize(em)
		}
		if total > maxEmbedTotal {
			t.Fatalf("message of %d embed characters", total)
		}
	})
}
