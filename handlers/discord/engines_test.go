package discord_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/handlers/discord"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/handlers/enginetest"
	"github.com/chatwarden/chatwarden/internal/testlog"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
	"github.com/chatwarden/chatwarden/verification"
)

// The engines' end-to-end tests: the real Discord handler, the real
// moderation and verification engines and the API tokens, wired as main's
// bot.Run wires them, against the fake Discord.

const (
	engGuild    = "110000000000000001"
	engGeneral  = "210000000000000001"
	engLog      = "210000000000000002"
	engVerify   = "210000000000000003"
	engModRole  = "310000000000000001"
	engAdmin    = "310000000000000002"
	engVerified = "310000000000000003"
)

var (
	engOwner = &discordgo.User{ID: "410000000000000001", Username: "olga", GlobalName: "Olga Petrova"}
	engMod   = &discordgo.User{ID: "410000000000000002", Username: "maximilian", GlobalName: "Maximilian"}
	engAda   = &discordgo.User{ID: "410000000000000003", Username: "ada"}
	engAnn   = &discordgo.User{ID: "410000000000000004", Username: "ann", GlobalName: "Ann"}
)

// engGuildOf is the guild of the engine tests: an owner, a moderator
// (Ban and Kick Members), an admin (Manage Server) and a plain member.
func engGuildOf() *discordgo.Guild {
	return &discordgo.Guild{ID: engGuild, Name: "Engines", OwnerID: engOwner.ID,
		Roles: []*discordgo.Role{{ID: engGuild, Name: "@everyone"},
			{ID: engModRole, Name: "mods", Permissions: discordgo.PermissionBanMembers | discordgo.PermissionKickMembers},
			{ID: engAdmin, Name: "admins", Permissions: discordgo.PermissionManageGuild},
			{ID: engVerified, Name: "verified"}},
		Channels: []*discordgo.Channel{{ID: engGeneral, GuildID: engGuild, Name: "general", Type: discordgo.ChannelTypeGuildText},
			{ID: engLog, GuildID: engGuild, Name: "audit-log", Type: discordgo.ChannelTypeGuildText},
			{ID: engVerify, GuildID: engGuild, Name: "verify", Type: discordgo.ChannelTypeGuildText}},
		Members: []*discordgo.Member{{User: engOwner, Roles: []string{}}, {User: engMod, Roles: []string{engModRole}},
			{User: engAda, Roles: []string{engAdmin}}, {User: engAnn, Roles: []string{}}}}
}

// engineConfig tunes the engines of a harness.
type engineConfig struct {
	mod  func(*moderation.Defaults)
	ver  func(*verification.Defaults)
	log  []audit.EventType // the log channel's types (nil: all)
	fake discordtest.Options
	// setup, if set, prepares the fake (guilds, members) before the bot
	// first connects.
	setup func(*discordtest.Server)
}

// engineHarness is a bot with real engines: the engines record through
// the recorder (as in bot.Run), the recorder's subscriber feeds
// them, and log routing goes through the moderation engine's raid filter.
// Both engines run on fake clocks, so raids end and deadlines pass when a
// test says so; the bot and the engines can be restarted on the same
// store.
type engineHarness struct {
	t      *testing.T
	cfg    engineConfig
	fake   *discordtest.Server
	s      *store.Store
	router *logchannel.Router
	rec    *recorder.Recorder
	eng    *enginetest.Set
	logs   *testlog.Buffer

	mu      sync.Mutex
	b       *discord.Bot
	stopBot func()

	marks atomic.Int64
}

const stopTimeout = enginetest.StopTimeout

func newEngineHarness(t *testing.T, cfg engineConfig) *engineHarness {
	t.Helper()
	h := &engineHarness{t: t, cfg: cfg, logs: &testlog.Buffer{}}
	h.fake = discordtest.New(cfg.fake)
	t.Cleanup(h.fake.Close)
	h.fake.AddGuild(engGuildOf())
	if cfg.setup != nil {
		cfg.setup(h.fake)
	}
	s, err := store.Open(filepath.Join(t.TempDir(), "e.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close the store: %v", err)
		}
	})
	if _, _, err := s.UpdateSettings(context.Background(), audit.Discord, engGuild, func(x *settings.Community) error {
		x.LogChannels = []settings.LogChannel{{ID: engLog, Types: cfg.log}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if h.router, err = logchannel.NewRouter(context.Background(), s, "en"); err != nil {
		t.Fatal(err)
	}
	h.rec = recorder.New(s, recorder.Options{})
	h.eng = enginetest.New(t, s, h.rec, h.router, zerolog.New(h.logs).Level(zerolog.DebugLevel),
		enginetest.Config{Mod: cfg.mod, Ver: cfg.ver})
	// Cleanups run last first: the bot stops, then the engines finish
	// their work, then the recorder drains, then the store closes (as
	// bot.Run does).
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := h.rec.Close(ctx); err != nil {
			t.Errorf("close the recorder: %v\n%s", err, enginetest.Stacks())
		}
	})
	t.Cleanup(h.eng.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bot log:\n%s", h.logs.String())
		}
	})
	h.start()
	return h
}

// start runs a new Bot on the harness's store and engines and waits until
// it is ready and holds the guild.
func (h *engineHarness) start() {
	t := h.t
	t.Helper()
	mod, ver := h.eng.Engines()
	b, err := discord.New(discord.Options{Token: "test-token", APIURL: h.fake.APIURL(), Store: h.s, Recorder: h.rec,
		Logger: zerolog.New(h.logs).Level(zerolog.DebugLevel), CorrelationWindow: 300 * time.Millisecond,
		ReadyTimeout: 10 * time.Second, Router: h.router, LogInterval: 100 * time.Millisecond,
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: h.fake.Transport(nil)},
		Moderation: mod, Verification: ver, Tokens: h.eng.Tokens})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("the bot stopped with %v", err)
				}
			case <-time.After(stopTimeout):
				t.Errorf("the bot did not stop within %s\n%s", stopTimeout, enginetest.Stacks())
			}
		})
	}
	h.mu.Lock()
	h.b, h.stopBot = b, stop
	h.mu.Unlock()
	t.Cleanup(stop)
	select {
	case <-b.Ready():
	case err := <-done:
		t.Fatalf("the bot stopped before READY: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatalf("no READY within 15s\n%s", enginetest.Stacks())
	}
	h.poll("the guild in the state", func() bool {
		_, err := b.Session().State.Guild(engGuild)
		return err == nil
	})
	if !h.cfg.fake.HoldMemberChunks {
		h.poll("the member list read", func() bool { return hasProfile(h.s, engGuild, engAnn.ID) })
	}
}

// stop stops the bot (not the engines).
func (h *engineHarness) stop() {
	h.mu.Lock()
	stop := h.stopBot
	h.mu.Unlock()
	stop()
}

// restart stops the bot and the engines, lets both clocks run on by idle
// (time passing while the process is down), and starts new engines and a
// new bot on the same store.
func (h *engineHarness) restart(idle time.Duration) {
	h.t.Helper()
	h.stop()
	h.eng.Restart(idle)
	h.start()
}

// poll waits until cond holds, failing after 10 seconds.
func (h *engineHarness) poll(what string, cond func() bool) {
	h.t.Helper()
	h.pollFor(10*time.Second, what, cond)
}

func (h *engineHarness) pollFor(d time.Duration, what string, cond func() bool) {
	h.t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// records returns the guild's records of the given types, newest first.
func (h *engineHarness) records(types ...audit.EventType) []*audit.Event {
	h.t.Helper()
	var out []*audit.Event
	q := store.Query{Platform: audit.Discord, Property: engGuild, Types: types, Limit: 1000}
	for {
		page, err := h.s.Query(context.Background(), q)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, page.Events...)
		if page.Older == "" {
			return out
		}
		q.Cursor = page.Older
	}
}

// wait polls the store until there are at least n records of typ.
func (h *engineHarness) wait(typ audit.EventType, n int) []*audit.Event {
	h.t.Helper()
	var evs []*audit.Event
	h.poll(strconv.Itoa(n)+" "+typ.String()+" records", func() bool {
		evs = h.records(typ)
		return len(evs) >= n
	})
	return evs
}

// settle waits until everything the fake sent so far has been handled and
// recorded: a marker message is posted and deleted by its author (the
// deletion waits out the correlation window like any earlier deletion or
// removal would), then the engines' queued work is flushed.
func (h *engineHarness) settle() {
	h.t.Helper()
	m := h.fake.Say(engGuild, engGeneral, engAnn, "marker "+strconv.FormatInt(h.marks.Add(1), 10))
	h.poll("the marker message", func() bool { return h.hasMessage(audit.ChatMessage, m.ID) })
	h.fake.Delete(m)
	h.poll("the marker's deletion", func() bool { return h.hasMessage(audit.ChatMessageDelete, m.ID) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mod, ver := h.eng.Engines()
	if err := mod.Flush(ctx); err != nil {
		h.t.Fatal(err)
	}
	if err := ver.Flush(ctx); err != nil {
		h.t.Fatal(err)
	}
}

func (h *engineHarness) hasMessage(typ audit.EventType, id string) bool {
	return slices.ContainsFunc(h.records(typ), func(e *audit.Event) bool { return e.MessageID == id })
}

// exactly settles and checks there are exactly n records of typ, leaving
// out the settle markers.
func (h *engineHarness) exactly(typ audit.EventType, n int) []*audit.Event {
	h.t.Helper()
	h.wait(typ, n)
	h.settle()
	var out []*audit.Event
	for _, e := range h.records(typ) {
		if !strings.HasPrefix(e.Content, "marker ") {
			out = append(out, e)
		}
	}
	if len(out) != n {
		h.t.Fatalf("%d %s records, want exactly %d: %s", len(out), typ, n, describe(out))
	}
	return out
}

func describe(evs []*audit.Event) string {
	var parts []string
	for _, e := range evs {
		parts = append(parts, e.Type.String()+"/"+e.Function.String()+" by "+e.ActorID+" "+jsonOf(e.Params))
	}
	return strings.Join(parts, "; ")
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// logEntries waits for the log channel's outbox to empty and returns
// every entry posted there (embed descriptions and field values) but the
// settle markers'.
func (h *engineHarness) logEntries() []string {
	h.t.Helper()
	// Discord lets five posts a channel through every five seconds: a
	// backlog of entries takes a while.
	h.pollFor(40*time.Second, "the log outbox to empty", func() bool {
		n, err := h.s.OutboxDepth(audit.Discord.String())
		return err == nil && n == 0
	})
	var out []string
	for _, p := range decodeEngPosts(h.t, h.fake.Posts(engLog)) {
		for _, e := range p {
			if !strings.Contains(e, "> marker ") {
				out = append(out, e)
			}
		}
	}
	return out
}

// decodeEngPosts returns each post's embeds as text.
func decodeEngPosts(t *testing.T, bodies [][]byte) [][]string {
	t.Helper()
	var out [][]string
	for _, b := range bodies {
		var p struct {
			Embeds []struct {
				Title, Description string
				Fields             []struct{ Name, Value string }
			}
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("post body %s: %v", b, err)
		}
		var embeds []string
		for _, e := range p.Embeds {
			text := e.Title + "\n" + e.Description
			for _, f := range e.Fields {
				text += "\n" + f.Name + ": " + f.Value
			}
			embeds = append(embeds, text)
		}
		out = append(out, embeds)
	}
	return out
}

func countContaining(entries []string, s string) int {
	n := 0
	for _, e := range entries {
		if strings.Contains(e, s) {
			n++
		}
	}
	return n
}

// calls returns the REST calls of a method whose path matches.
func (h *engineHarness) calls(method, path string) []discordtest.Call {
	var out []discordtest.Call
	for _, c := range h.fake.Calls() {
		if c.Method == method && c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

// engAnswer is an interaction callback or edit as the fake received it.
type engAnswer struct {
	Type int `json:"type"`
	Data struct {
		Content    string `json:"content"`
		Flags      int    `json:"flags"`
		Components []struct {
			Components []struct {
				Label    string `json:"label"`
				CustomID string `json:"custom_id"`
			} `json:"components"`
		} `json:"components"`
		Choices []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"choices"`
	} `json:"data"`
}

// buttons returns an answer's buttons by label.
func (a engAnswer) buttons() map[string]string {
	out := map[string]string{}
	for _, row := range a.Data.Components {
		for _, b := range row.Components {
			out[b.Label] = b.CustomID
		}
	}
	return out
}

// reply waits for the final answer to an interaction: a callback, or the
// edit that follows a deferred one (type 5 or 6).
func (h *engineHarness) reply(in *discordtest.Interaction) engAnswer {
	h.t.Helper()
	var a engAnswer
	h.poll("the answer to interaction "+in.ID, func() bool {
		rs := in.Replies()
		if len(rs) == 0 {
			return false
		}
		if err := json.Unmarshal(rs[0].Body, &a); err != nil {
			h.t.Fatalf("callback %s: %v", rs[0].Body, err)
		}
		if a.Type != int(discordgo.InteractionResponseDeferredChannelMessageWithSource) &&
			a.Type != int(discordgo.InteractionResponseDeferredMessageUpdate) {
			return true
		}
		if len(rs) < 2 {
			return false
		}
		deferred := a
		a = engAnswer{}
		if err := json.Unmarshal(rs[len(rs)-1].Body, &a.Data); err != nil {
			h.t.Fatalf("edit %s: %v", rs[len(rs)-1].Body, err)
		}
		a.Type, a.Data.Flags = deferred.Type, deferred.Data.Flags
		return true
	})
	return a
}

const ephemeral = int(discordgo.MessageFlagsEphemeral)

func TestEnginesLinkFilterDeletesPhishingOnce(t *testing.T) {
	h := newEngineHarness(t, engineConfig{mod: func(d *moderation.Defaults) {
		d.LinkFilter.Denylist = []string{"evil.example"}
	}})
	f := h.fake
	phish := f.Say(engGuild, engGeneral, engAnn, "urgent: verify at https://login.evil.example/account now")
	allowed := f.Say(engGuild, engGeneral, engAnn, "the docs are at https://go.dev/doc/")
	hidden := f.Say(engGuild, engGeneral, engAnn, "free nitro hxxps://evil[.]example/login")

	links := h.wait(audit.ModerationLink, 2)
	links = h.exactly(audit.ModerationLink, 2)
	byMsg := map[string]*audit.Event{}
	for _, l := range links {
		if l.ActorID != f.BotID() || l.ActorType != audit.ActorBot || l.Target() != engAnn.ID || l.Function != audit.FuncLinkFilter ||
			l.Params[audit.ParamDomain] != "evil.example" && !strings.HasSuffix(l.Params[audit.ParamDomain], ".evil.example") {
			t.Errorf("MODERATION_LINK %+v", l)
		}
		byMsg[l.MessageID] = l
	}
	if byMsg[phish.ID] == nil || byMsg[hidden.ID] == nil || byMsg[allowed.ID] != nil {
		t.Fatalf("link records for %v; want the phishing %s and the obfuscated %s", describe(links), phish.ID, hidden.ID)
	}
	if o := byMsg[phish.ID].Params[audit.ParamOutcome]; o != moderation.OutcomeDone {
		t.Errorf("outcome %q", o)
	}

	// One DELETE per removed message, none of the allowed one.
	for _, m := range []*discordgo.Message{phish, hidden, allowed} {
		want := 1
		if m == allowed {
			want = 0
		}
		if n := len(h.calls(http.MethodDelete, "/channels/"+engGeneral+"/messages/"+m.ID)); n != want {
			t.Errorf("message %q: %d DELETE calls, want %d", m.Content, n, want)
		}
	}

	// One CHAT_MESSAGE_DELETE each, by the bot: the gateway's echo of the
	// bot's own deletion is not a second record.
	dels := h.exactly(audit.ChatMessageDelete, 2)
	for _, d := range dels {
		if d.ActorID != f.BotID() || d.ActorType != audit.ActorBot || d.Function != audit.FuncLinkFilter || d.Target() != engAnn.ID {
			t.Errorf("CHAT_MESSAGE_DELETE %s", describe([]*audit.Event{d}))
		}
	}

	// The log channel tells each removal once, with the content, and not
	// the bot's deletion besides.
	h.poll("two link-filter entries", func() bool {
		return countContaining(h.logEntries(), "removed by link filtering") >= 2
	})
	entries := h.logEntries()
	if n := countContaining(entries, "removed by link filtering"); n != 2 {
		t.Errorf("%d link-filter entries:\n%s", n, strings.Join(entries, "\n---\n"))
	}
	if countContaining(entries, "deleted a message") != 0 {
		t.Errorf("the bot's deletion is logged besides the MODERATION_LINK:\n%s", strings.Join(entries, "\n---\n"))
	}
	var removal []string
	for _, e := range entries {
		if strings.Contains(e, "removed by link filtering") {
			removal = append(removal, e)
		}
	}
	if countContaining(removal, "urgent: verify at") != 1 || countContaining(removal, `free nitro hxxps://evil\[.\]example`) != 1 {
		t.Errorf("the removed message's content is not in the log:\n%s", strings.Join(entries, "\n---\n"))
	}
}

// configSet runs /config set as u and returns the answer.
func (h *engineHarness) configSet(u *discordgo.User, key, value string) engAnswer {
	h.t.Helper()
	return h.reply(h.fake.Slash(engGuild, u, "config", "set", discordtest.Str("key", key), discordtest.Str("value", value)))
}

func TestEnginesImpersonationOfTheOwner(t *testing.T) {
	h := newEngineHarness(t, engineConfig{})
	f := h.fake
	// Cyrillic О, а and е in "Оlgа Pеtrova".
	fake1 := &discordgo.User{ID: "410000000000000011", Username: "olga_help", GlobalName: "\u041elg\u0430 P\u0435trova"}
	f.Join(engGuild, fake1)
	sec := h.wait(audit.SecurityEvent, 1)[0]
	if sec.Params[audit.ParamKind] != audit.KindImpersonation || sec.Target() != fake1.ID || !slices.Contains(sec.TargetIDs, engOwner.ID) ||
		sec.Params[audit.ParamAction] != moderation.ActFlag || sec.Params[audit.ParamMatchedName] != "Olga Petrova" ||
		sec.ActorID != f.BotID() || sec.Function != audit.FuncImpersonation {
		t.Fatalf("impersonation record %s", describe([]*audit.Event{sec}))
	}
	if n := len(h.calls(http.MethodPatch, "/guilds/"+engGuild+"/members/"+fake1.ID)); n != 0 {
		t.Fatalf("a flagged member was changed (%d PATCH calls)", n)
	}

	// With quarantine the next one is timed out.
	if a := h.configSet(engAda, "impersonation.action", "quarantine"); !strings.Contains(a.Data.Content, "is now quarantine") {
		t.Fatalf("/config set: %q", a.Data.Content)
	}
	fake2 := &discordgo.User{ID: "410000000000000012", Username: "olgap", GlobalName: "\u041elga Petr\u043eva"}
	f.Join(engGuild, fake2)
	var patch []discordtest.Call
	h.poll("the impersonator's timeout", func() bool {
		patch = h.calls(http.MethodPatch, "/guilds/"+engGuild+"/members/"+fake2.ID)
		return len(patch) > 0
	})
	var body struct {
		Until *time.Time `json:"communication_disabled_until"`
	}
	if err := json.Unmarshal(patch[0].Body, &body); err != nil || body.Until == nil ||
		body.Until.Sub(h.eng.ModClock.Now()) < 23*time.Hour || body.Until.Sub(h.eng.ModClock.Now()) > 25*time.Hour {
		t.Fatalf("timeout PATCH %s (%v): want communication_disabled_until a day ahead", patch[0].Body, err)
	}
	if !strings.Contains(patch[0].Reason, "impersonation") {
		t.Errorf("audit-log reason %q", patch[0].Reason)
	}

	// The owner and the staff are never flagged for names like their own:
	// the owner writes hers with a zero, the moderator takes the owner's.
	f.Rename(engGuild, engOwner.ID, "0lga Petrova")
	f.Rename(engGuild, engMod.ID, "Olga Petrova")
	h.wait(audit.UserUpdate, 2)
	secs := h.exactly(audit.SecurityEvent, 2)
	q := secs[0]
	if q.Target() != fake2.ID || q.Params[audit.ParamAction] != moderation.ActQuarantine || q.Params[audit.ParamOutcome] != moderation.OutcomeDone {
		t.Fatalf("quarantine record %s", describe(secs))
	}
	// The timeout is recorded once, by the action (the gateway's echo of it
	// is not a second USER_UPDATE).
	var timeouts []*audit.Event
	for _, e := range h.records(audit.UserUpdate) {
		if e.Params[audit.ParamField] == "timeout" {
			timeouts = append(timeouts, e)
		}
	}
	if len(timeouts) != 1 || timeouts[0].Function != audit.FuncImpersonation || timeouts[0].Target() != fake2.ID {
		t.Fatalf("timeout records: %s", describe(timeouts))
	}
}

// Impersonation compares whole names: a newcomer called by a moderator's
// first name alone ("Alice" for "Alice Admin") is not flagged; one who
// copies the whole name is, and the alert names the staff name matched.
func TestEnginesImpersonationByWholeNames(t *testing.T) {
	h := newEngineHarness(t, engineConfig{})
	f := h.fake
	f.Rename(engGuild, engMod.ID, "Alice Admin")
	h.wait(audit.UserUpdate, 1)
	alice := &discordgo.User{ID: "410000000000000021", Username: "alice_k", GlobalName: "Alice"}
	f.Join(engGuild, alice)
	h.poll("the engines to see the first join", func() bool { return h.eng.Joins.Load() >= 1 })
	copycat := &discordgo.User{ID: "410000000000000022", Username: "helpdesk_7", GlobalName: "\u0410lice Admin"} // Cyrillic А
	f.Join(engGuild, copycat)
	sec := h.exactly(audit.SecurityEvent, 1)[0]
	if sec.Target() != copycat.ID || sec.Params[audit.ParamMatchedName] != "Alice Admin" || !slices.Contains(sec.TargetIDs, engMod.ID) {
		t.Fatalf("impersonation record %s", describe([]*audit.Event{sec}))
	}
}

func roleOpt(name, id string) discordtest.Option {
	return discordtest.Option{Name: name, Type: discordgo.ApplicationCommandOptionRole, Value: id}
}

// enableVerification runs /config verification as the admin and returns
// the posted Verify button's custom id.
func (h *engineHarness) enableVerification(kind, timeout string) string {
	h.t.Helper()
	a := h.reply(h.fake.Slash(engGuild, engAda, "config", "verification", discordtest.ChannelArg("channel", engVerify),
		roleOpt("role", engVerified), discordtest.Str("kind", kind), discordtest.Str("timeout", timeout)))
	if !strings.Contains(a.Data.Content, "Verification is on") || a.Data.Flags&ephemeral == 0 {
		h.t.Fatalf("/config verification: %+v", a)
	}
	var posts [][]byte
	h.poll("the Verify button", func() bool { posts = h.fake.Posts(engVerify); return len(posts) > 0 })
	var prompt engAnswer
	if err := json.Unmarshal(posts[len(posts)-1], &prompt.Data); err != nil {
		h.t.Fatal(err)
	}
	id := prompt.buttons()["Verify"]
	if !verification.IsButton(id) {
		h.t.Fatalf("the prompt's buttons %v", prompt.buttons())
	}
	return id
}

// pending returns the guild's pending challenges.
func (h *engineHarness) pending() []verification.Challenge {
	h.t.Helper()
	_, ver := h.eng.Engines()
	p, err := ver.Pending(audit.Discord, engGuild)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// joinPending makes u join and waits for their challenge.
func (h *engineHarness) joinPending(u *discordgo.User) {
	h.t.Helper()
	h.fake.Join(engGuild, u)
	h.poll(u.Username+"'s challenge", func() bool {
		return slices.ContainsFunc(h.pending(), func(c verification.Challenge) bool { return c.User == u.ID })
	})
}

func TestEnginesVerificationByButton(t *testing.T) {
	h := newEngineHarness(t, engineConfig{})
	f := h.fake

	// A member without Manage Server cannot turn it on.
	a := h.reply(f.Slash(engGuild, engAnn, "config", "verification", discordtest.ChannelArg("channel", engVerify)))
	if !strings.Contains(a.Data.Content, "Manage Server") || a.Data.Flags&ephemeral == 0 {
		t.Fatalf("a member's /config verification: %+v", a)
	}
	if n := len(f.Posts(engVerify)); n != 0 {
		t.Fatalf("a member's /config verification posted %d messages", n)
	}
	if evs := h.records(audit.SettingsChange); len(evs) != 0 {
		t.Fatalf("a member's /config verification was recorded: %s", describe(evs))
	}

	start := h.enableVerification("button", "5m")
	// One command is one SETTINGS_CHANGE listing its changes.
	changes := h.records(audit.SettingsChange)
	if len(changes) != 1 || changes[0].ActorID != engAda.ID {
		t.Fatalf("settings changes: %s", describe(changes))
	}
	var keys []string
	for _, k := range strings.Split(changes[0].Params[audit.ParamSetting], ", ") {
		keys = append(keys, k+"="+changes[0].Params["new_"+k])
	}
	slices.Sort(keys)
	want := []string{"verification.channel=" + engVerify, "verification.enabled=on", "verification.kind=button",
		"verification.role=" + engVerified, "verification.timeout=5m0s"}
	if !slices.Equal(keys, want) {
		t.Fatalf("settings changes %v, want %v", keys, want)
	}

	zoe := &discordgo.User{ID: "410000000000000021", Username: "zoe"}
	h.joinPending(zoe)

	// Verify shows Zoe her own question, privately.
	q := h.reply(f.Press(engGuild, zoe, start))
	human := q.buttons()["I'm human"]
	if q.Type != int(discordgo.InteractionResponseChannelMessageWithSource) || q.Data.Flags&ephemeral == 0 || human == "" {
		t.Fatalf("Verify press: %+v", q)
	}
	// Another member's press of Zoe's button does not count.
	if a := h.reply(f.Press(engGuild, engAnn, human)); !strings.Contains(a.Data.Content, "for someone else") || a.Data.Flags&ephemeral == 0 {
		t.Fatalf("another member's press: %+v", a)
	}
	roleCall := "/guilds/" + engGuild + "/members/" + zoe.ID + "/roles/" + engVerified
	if n := len(h.calls(http.MethodPut, roleCall)); n != 0 {
		t.Fatalf("another member's press granted the role (%d calls)", n)
	}
	if evs := h.records(audit.VerificationSuccess, audit.VerificationFailure); len(evs) != 0 {
		t.Fatalf("another member's press was recorded: %s", describe(evs))
	}

	// Zoe's press passes: the ephemeral question is updated (type 7) and
	// she gets the role.
	ok := h.reply(f.Press(engGuild, zoe, human))
	if ok.Type != int(discordgo.InteractionResponseUpdateMessage) || !strings.Contains(ok.Data.Content, "verified") || len(ok.buttons()) != 0 {
		t.Fatalf("Zoe's press: %+v", ok)
	}
	h.poll("the role", func() bool { return len(h.calls(http.MethodPut, roleCall)) == 1 })
	pass := h.exactly(audit.VerificationSuccess, 1)[0]
	if pass.Target() != zoe.ID || pass.Params[audit.ParamAction] != "ROLE" || pass.Params[audit.ParamOutcome] != "DONE" ||
		pass.Params[audit.ParamVerifyKind] != "BUTTON" || pass.ActorID != f.BotID() {
		t.Fatalf("success record %s", describe([]*audit.Event{pass}))
	}
	if p := h.pending(); len(p) != 0 {
		t.Fatalf("still pending: %+v", p)
	}
	// The role is recorded once, by the action.
	var roles []*audit.Event
	for _, e := range h.records(audit.UserUpdate) {
		if e.Params[audit.ParamField] == "roles" {
			roles = append(roles, e)
		}
	}
	if len(roles) != 1 || roles[0].Function != audit.FuncVerification || roles[0].Params[audit.ParamRolesAdded] != engVerified {
		t.Fatalf("role records: %s", describe(roles))
	}
	// The log channel shows the result only: the role is a detail of it,
	// stored (quiet) and not posted.
	if roles[0].Params[audit.ParamQuiet] != audit.QuietDetail {
		t.Errorf("the role record is not marked quiet: %s", describe(roles))
	}
	// Zoe's join entry is held until the raid guard's hold passes on the
	// engine's clock.
	h.eng.ModClock.Advance(4 * time.Second)
	entries := h.logEntries()
	if n := countContaining(entries, "passed verification"); n != 1 {
		t.Errorf("%d verification entries, want 1:\n%s", n, strings.Join(entries, "\n---\n"))
	}
	if n := countContaining(entries, "profile was updated"); n != 0 {
		t.Errorf("the role is posted besides the result:\n%s", strings.Join(entries, "\n---\n"))
	}
	if n := countContaining(entries, "changed several settings"); n != 1 || countContaining(entries, "changed a setting") != 0 {
		t.Errorf("%d settings entries for one /config verification:\n%s", n, strings.Join(entries, "\n---\n"))
	}
}

var sumRE = regexp.MustCompile(`What is (\d+) \+ (\d+)\?`)

// wrongAnswer returns the custom id of a wrong answer of a math question.
func wrongAnswer(t *testing.T, a engAnswer) string {
	t.Helper()
	m := sumRE.FindStringSubmatch(a.Data.Content)
	if m == nil {
		t.Fatalf("no sum in %q", a.Data.Content)
	}
	x, _ := strconv.Atoi(m[1])
	y, _ := strconv.Atoi(m[2])
	for label, id := range a.buttons() {
		if label != strconv.Itoa(x+y) {
			return id
		}
	}
	t.Fatalf("no wrong answer among %v", a.buttons())
	return ""
}

func TestEnginesVerificationFailsByWrongAnswers(t *testing.T) {
	h := newEngineHarness(t, engineConfig{})
	f := h.fake
	start := h.enableVerification("math", "5m")
	if a := h.configSet(engAda, "verification.max_attempts", "2"); !strings.Contains(a.Data.Content, "is now 2") {
		t.Fatalf("/config set: %q", a.Data.Content)
	}
	zoe := &discordgo.User{ID: "410000000000000022", Username: "zoe"}
	h.joinPending(zoe)

	q := h.reply(f.Press(engGuild, zoe, start))
	if len(q.buttons()) != 4 {
		t.Fatalf("math question %+v", q)
	}
	retry := h.reply(f.Press(engGuild, zoe, wrongAnswer(t, q)))
	if retry.Type != int(discordgo.InteractionResponseUpdateMessage) || !strings.Contains(retry.Data.Content, "Wrong answer, 1 attempt left") {
		t.Fatalf("first wrong answer: %+v", retry)
	}
	// Only Zoe's presses count: another member's press of her buttons
	// neither answers nor uses an attempt.
	if a := h.reply(f.Press(engGuild, engAnn, wrongAnswer(t, retry))); !strings.Contains(a.Data.Content, "for someone else") {
		t.Fatalf("another member's press: %+v", a)
	}
	last := h.reply(f.Press(engGuild, zoe, wrongAnswer(t, retry)))
	if !strings.Contains(last.Data.Content, "Verification failed") {
		t.Fatalf("last wrong answer: %+v", last)
	}
	fail := h.exactly(audit.VerificationFailure, 1)[0]
	if fail.Target() != zoe.ID || fail.Params[audit.ParamReason] != audit.ReasonWrongAnswer || fail.Params[audit.ParamAttempts] != "2" ||
		fail.Params[audit.ParamAction] != "KICK" || fail.Params[audit.ParamOutcome] != "DONE" || fail.Params[audit.ParamVerifyKind] != "MATH" {
		t.Fatalf("failure record %s", describe([]*audit.Event{fail}))
	}
	if n := len(h.calls(http.MethodDelete, "/guilds/"+engGuild+"/members/"+zoe.ID)); n != 1 {
		t.Fatalf("%d kicks, want 1", n)
	}
	rm := h.exactly(audit.UserRemove, 1)[0]
	if rm.Function != audit.FuncVerification || rm.Target() != zoe.ID || rm.Params[audit.ParamRemoval] != audit.RemovalKicked {
		t.Fatalf("kick record %s", describe([]*audit.Event{rm}))
	}
	if n := len(h.calls(http.MethodPut, "/guilds/"+engGuild+"/members/"+zoe.ID+"/roles/"+engVerified)); n != 0 {
		t.Fatal("a failed member got the role")
	}
}

func TestEnginesVerificationTimesOutAcrossARestart(t *testing.T) {
	h := newEngineHarness(t, engineConfig{})
	h.enableVerification("button", "1m")
	zoe := &discordgo.User{ID: "410000000000000023", Username: "zoe"}
	h.joinPending(zoe)

	// Down for two minutes: the deadline passes while nothing runs, and
	// fires as soon as the new bot is attached.
	h.restart(2 * time.Minute)
	fail := h.wait(audit.VerificationFailure, 1)[0]
	if fail.Params[audit.ParamReason] != audit.ReasonTimeout || fail.Params[audit.ParamAction] != "KICK" ||
		fail.Params[audit.ParamOutcome] != "DONE" || fail.Target() != zoe.ID {
		t.Fatalf("timeout record %s", describe([]*audit.Event{fail}))
	}
	h.poll("the kick", func() bool { return len(h.calls(http.MethodDelete, "/guilds/"+engGuild+"/members/"+zoe.ID)) == 1 })
	h.exactly(audit.VerificationFailure, 1)
	if rm := h.exactly(audit.UserRemove, 1)[0]; rm.Function != audit.FuncVerification || rm.Target() != zoe.ID {
		t.Fatalf("kick record %s", describe([]*audit.Event{rm}))
	}
	if p := h.pending(); len(p) != 0 {
		t.Fatalf("still pending: %+v", p)
	}
}

// TestEnginesJoinRaidIsOneEntryWithItsActions: a raid of 200 joins is one
// log entry, posted while the raid runs and edited when it ends, with no
// join entry of a raider; its "Ban all" bans exactly the raiders (one
// bulk ban of 200), not the member who joined just before, once however
// often it is pressed.
func TestEnginesJoinRaidIsOneEntryWithItsActions(t *testing.T) {
	h := newEngineHarness(t, engineConfig{})
	f := h.fake
	early := &discordgo.User{ID: "510000000000099999", Username: "early"}
	f.Join(engGuild, early)
	h.poll("the engines to see the first join", func() bool { return h.eng.Joins.Load() >= 1 })
	// Seconds later (past the join hold), the raid.
	h.eng.ModClock.Advance(5 * time.Second)
	h.poll("the early member's join entry", func() bool {
		return countContaining(decodeAll(h), "Member joined") == 1
	})
	const n = 200
	var raiders []string
	for i := range n {
		u := &discordgo.User{ID: strconv.Itoa(510000000000000000 + i), Username: "raider" + strconv.Itoa(i)}
		raiders = append(raiders, u.ID)
		f.Join(engGuild, u)
	}
	h.wait(audit.UserJoin, n+1)
	h.poll("the engines to see every join", func() bool { return h.eng.Joins.Load() >= n+1 })
	mod, _ := h.eng.Engines()
	if !mod.InRaid(audit.Discord, engGuild) {
		t.Fatal("no raid under way after 200 joins")
	}
	// The raid's entry is posted while it runs, with its buttons, while the
	// engines' clock stands still: within 2 s (none at all) of virtual time
	// after detection. The join hold runs on that clock too; the count
	// below, after the clock moved past every hold, finds no raider's join.
	h.poll("the raid's entry with Ban all", func() bool { return len(h.logButtons("Ban all")) == 1 })
	if got := countContaining(decodeAll(h), "Join raid in progress"); got != 1 {
		t.Fatalf("%d raid entries in progress", got)
	}
	if len(h.logButtons("Kick all")) != 1 || len(h.logButtons("Time out all")) != 1 || len(h.logButtons("Ban")) != 0 {
		t.Fatal("the raid entry's buttons are not Ban all, Kick all and Time out all")
	}
	// Quiet: the raid ends and its entry is edited, not posted again.
	h.eng.ModClock.Advance(11 * time.Second)
	h.poll("the raid's entry to say it is over", func() bool {
		return countContaining(decodeAll(h), "Join raid over: 200 accounts joined.") == 1
	})
	entries := decodeAll(h)
	if got := countContaining(entries, "Join raid"); got != 1 {
		t.Errorf("%d raid entries in the log channel:\n%s", got, strings.Join(entries, "\n---\n"))
	}
	if joined := countContaining(entries, "Member joined"); joined != 1 {
		t.Errorf("%d join entries in the log channel, want only the early member's", joined)
	}
	if f.Edits(engLog) == 0 {
		t.Error("the raid's entry was never edited")
	}

	// Ban all: a plain member may not; the owner confirms, and exactly
	// the raiders are banned, in one bulk ban.
	ban := h.logButtons("Ban all")[0]
	if a := h.reply(f.Press(engGuild, engAnn, ban)); !strings.Contains(a.Data.Content, "permission") {
		t.Fatalf("a member's Ban all: %q", a.Data.Content)
	}
	ask := h.reply(f.Press(engGuild, engOwner, ban))
	confirm := ask.buttons()["Ban 200 accounts"]
	if confirm == "" || ask.Data.Flags&ephemeral == 0 || len(f.BulkBans()) != 0 {
		t.Fatalf("Ban all asked %+v (bulk bans %d)", ask.Data, len(f.BulkBans()))
	}
	if a := h.reply(f.Press(engGuild, engOwner, confirm)); !strings.Contains(a.Data.Content, "Banning") {
		t.Fatalf("the confirmation: %q", a.Data.Content)
	}
	h.poll("200 USER_BAN records", func() bool { return len(h.records(audit.UserBan)) >= n })
	again := h.reply(f.Press(engGuild, engOwner, confirm))
	if !strings.Contains(again.Data.Content, "already") && !strings.Contains(again.Data.Content, "Already") {
		t.Errorf("a second confirmation: %q", again.Data.Content)
	}
	bulk := f.BulkBans()
	if len(bulk) != 1 || len(bulk[0]) != n {
		t.Fatalf("bulk bans %v", bulk)
	}
	if !slices.Equal(bulk[0], raiders) || f.Banned(engGuild, early.ID) {
		t.Fatal("the bulk ban is not exactly the raiders")
	}
	h.poll("the result on the raid's entry", func() bool { return len(h.logButtons("✓ Banned 200 of 200 (Olga Petrova)")) == 1 })
	bans := h.exactly(audit.UserBan, n)
	for _, b := range bans {
		if b.ActorID != engOwner.ID || b.Function != audit.FuncCommand || !slices.Contains(raiders, b.Target()) {
			t.Fatalf("ban record %s", describe([]*audit.Event{b}))
		}
	}
	if v := f.RateLimitViolations(); v != 0 {
		t.Errorf("%d requests over Discord's rate limits", v)
	}
}

// decodeAll returns every entry of the log channel as it stands now
// (edits applied), but the settle markers'.
func decodeAll(h *engineHarness) []string {
	var out []string
	for _, p := range decodeEngPosts(h.t, h.fake.Posts(engLog)) {
		for _, e := range p {
			if !strings.Contains(e, "> marker ") {
				out = append(out, e)
			}
		}
	}
	return out
}

func TestEnginesUnauthorizedIntegrations(t *testing.T) {
	good := &discordgo.User{ID: "610000000000000001", Username: "helper"}
	h := newEngineHarness(t, engineConfig{mod: func(d *moderation.Defaults) {
		d.IntegrationGuard.Allowlist = []string{good.ID}
	}})
	f := h.fake
	f.AddBot(engGuild, engAda.ID, good)
	spam := &discordgo.User{ID: "610000000000000002", Username: "free_nitro_bot"}
	f.AddBot(engGuild, engAnn.ID, spam)
	hook := f.CreateWebhook(engGuild, engAnn.ID, engGeneral, "Captain Hook")
	app := f.Snowflake()
	f.AuditEntryChanges(engGuild, engAnn.ID, discordgo.AuditLogActionIntegrationCreate, app, map[string]any{"name": "Shady App"})

	// The spam bot is reported by its USER_JOIN and its BOT_ADD entry:
	// one record. The allowlisted bot is none.
	secs := h.wait(audit.SecurityEvent, 3)
	secs = h.exactly(audit.SecurityEvent, 3)
	byKind := map[string]*audit.Event{}
	for _, s := range secs {
		if s.Params[audit.ParamKind] != audit.KindUnauthorizedIntegration || s.Function != audit.FuncIntegrationGuard || s.ActorID != f.BotID() {
			t.Errorf("record %s", describe([]*audit.Event{s}))
		}
		byKind[s.Params[moderation.ParamIntegration]] = s
	}
	b, w, i := byKind[moderation.IntegrationBot], byKind[moderation.IntegrationWebhook], byKind[moderation.IntegrationApp]
	if b == nil || w == nil || i == nil {
		t.Fatalf("records %s; want a bot, a webhook and an integration", describe(secs))
	}
	if !slices.Equal(b.TargetIDs, []string{spam.ID, engAnn.ID}) || b.Params[audit.ParamTargetName] != "free_nitro_bot" {
		t.Errorf("bot record %s", describe([]*audit.Event{b}))
	}
	if !slices.Equal(w.TargetIDs, []string{hook, engAnn.ID}) || w.Params[audit.ParamWebhookID] != hook ||
		w.Params[audit.ParamTargetName] != "Captain Hook" || w.ChannelID != engGeneral {
		t.Errorf("webhook record %s (channel %q)", describe([]*audit.Event{w}), w.ChannelID)
	}
	if !slices.Equal(i.TargetIDs, []string{app, engAnn.ID}) || i.Params[audit.ParamTargetName] != "Shady App" {
		t.Errorf("integration record %s", describe([]*audit.Event{i}))
	}
	// The bots' joins are recorded, naming who added them.
	joins := h.exactly(audit.UserJoin, 2)
	for _, j := range joins {
		if j.Params[audit.ParamIsBot] != "true" || j.ActorType != audit.ActorBot {
			t.Errorf("bot join %s", describe([]*audit.Event{j}))
		}
		if j.ActorID == spam.ID && j.Params[verification.ParamAddedBy] != engAnn.ID {
			t.Errorf("the spam bot's join does not name who added it: %s", describe([]*audit.Event{j}))
		}
	}

	// With integration_guard.kick on, the next unlisted bot is kicked, and
	// the kick is recorded once, by the guard.
	if a := h.configSet(engAda, "integration_guard.kick", "on"); !strings.Contains(a.Data.Content, "is now on") {
		t.Fatalf("/config set: %q", a.Data.Content)
	}
	spam2 := &discordgo.User{ID: "610000000000000003", Username: "airdrop_bot"}
	f.AddBot(engGuild, engAnn.ID, spam2)
	h.poll("the kick", func() bool { return len(h.calls(http.MethodDelete, "/guilds/"+engGuild+"/members/"+spam2.ID)) == 1 })
	secs = h.exactly(audit.SecurityEvent, 4)
	if k := secs[0]; k.Target() != spam2.ID || k.Params[audit.ParamAction] != moderation.ActKick || k.Params[audit.ParamOutcome] != moderation.OutcomeDone {
		t.Fatalf("kick record %s", describe(secs[:1]))
	}
	rm := h.exactly(audit.UserRemove, 1)[0]
	if rm.Function != audit.FuncIntegrationGuard || rm.Target() != spam2.ID || rm.ActorID != f.BotID() {
		t.Fatalf("removal record %s", describe([]*audit.Event{rm}))
	}
	// One bot added is one entry: its alert. The unlisted bots' joins and
	// the kick are told by it; the allowed bot's join is posted once its
	// hold (on the engine's clock) has passed.
	h.eng.ModClock.Advance(4 * time.Second)
	entries := h.logEntries()
	all := strings.Join(entries, "\n---\n")
	for _, bot := range []string{spam.Username, spam2.Username} {
		bot = strings.ReplaceAll(bot, "_", `\_`) // as the embed escapes it
		if n := countContaining(entries, "involving "+bot+"."); n != 1 {
			t.Errorf("%d alerts for %s:\n%s", n, bot, all)
		}
		if n := countContaining(entries, bot+" joined."); n != 0 {
			t.Errorf("%s's join is posted besides its alert:\n%s", bot, all)
		}
	}
	if n := countContaining(entries, good.Username+" joined."); n != 1 {
		t.Errorf("the allowed bot's join: %d entries:\n%s", n, all)
	}
	if n := countContaining(entries, "removed airdrop"); n != 0 {
		t.Errorf("the guard's kick is posted besides its alert:\n%s", all)
	}
}

func TestEnginesConfigSet(t *testing.T) {
	h := newEngineHarness(t, engineConfig{})
	f := h.fake

	// Autocomplete suggests keys to admins only.
	ac := h.reply(f.Autocomplete(engGuild, engAda, "config", "set", "key", "verif"))
	if ac.Type != int(discordgo.InteractionApplicationCommandAutocompleteResult) || len(ac.Data.Choices) == 0 {
		t.Fatalf("autocomplete %+v", ac)
	}
	for _, c := range ac.Data.Choices {
		if !strings.Contains(c.Value, "verif") {
			t.Errorf("suggested %q for %q", c.Value, "verif")
		}
	}
	if ac := h.reply(f.Autocomplete(engGuild, engAnn, "config", "set", "key", "")); len(ac.Data.Choices) != 0 {
		t.Errorf("a member was suggested %d keys", len(ac.Data.Choices))
	}

	// An admin changes a setting twice: each change is recorded with the
	// old and the new value.
	for _, c := range []struct{ value, want string }{
		{"evil.example", "link_filter.denylist is now evil.example."},
		{"evil.example, phish.example", "link_filter.denylist is now evil.example, phish.example."},
	} {
		a := h.configSet(engAda, "link_filter.denylist", c.value)
		if a.Data.Content != c.want || a.Data.Flags&ephemeral == 0 {
			t.Fatalf("/config set %q: %+v", c.value, a)
		}
	}
	changes := h.wait(audit.SettingsChange, 2)
	if c := changes[0]; c.ActorID != engAda.ID || c.ActorType != audit.ActorAdmin || c.Params[audit.ParamSetting] != "link_filter.denylist" ||
		c.Params[audit.ParamOldValue] != "evil.example" || c.Params[audit.ParamNewValue] != "evil.example,phish.example" || c.Function != audit.FuncCommand {
		t.Fatalf("second change %s", describe(changes))
	}
	if c := changes[1]; c.Params[audit.ParamOldValue] != "" || c.Params[audit.ParamNewValue] != "evil.example" {
		t.Fatalf("first change %s", describe(changes))
	}
	// The setting is in force: the link filter now removes such links.
	m := f.Say(engGuild, engGeneral, engAnn, "see https://phish.example/x")
	h.poll("the removal", func() bool { return h.hasMessage(audit.ModerationLink, m.ID) })

	// A member without Manage Server is refused and nothing is recorded;
	// an unknown key or a bad value is explained, and not recorded either.
	for _, c := range []struct {
		u          *discordgo.User
		key, value string
		want       string
	}{
		{engAnn, "link_filter.enabled", "off", "You need the Manage Server permission."},
		{engMod, "link_filter.enabled", "off", "You need the Manage Server permission."},
		{engAda, "no.such.key", "1", `"no.such.key" is not a setting`},
		{engAda, "link_filter.mode", "sometimes", `"sometimes" is not one of`},
		{engAda, "verification.timeout", "1s", "is not within 30s..24h0m0s"},
	} {
		a := h.configSet(c.u, c.key, c.value)
		if !strings.Contains(a.Data.Content, c.want) || a.Data.Flags&ephemeral == 0 {
			t.Errorf("/config set %s %s by %s: %q, want %q", c.key, c.value, c.u.Username, a.Data.Content, c.want)
		}
	}
	h.exactly(audit.SettingsChange, 2)
	set, err := h.s.Settings(context.Background(), audit.Discord, engGuild)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := command.GetEngineSetting(set, "link_filter.enabled"); v != "" {
		t.Fatalf("a refused /config set changed link_filter.enabled to %q", v)
	}
	// /config show lists what the guild changed.
	show := h.reply(f.Slash(engGuild, engAda, "config", "show"))
	if !strings.Contains(show.Data.Content, "link_filter.denylist: evil.example,phish.example") {
		t.Fatalf("/config show: %q", show.Data.Content)
	}
}

var tokenRE = regexp.MustCompile(command.TokenPrefix + `[A-Za-z0-9_-]{20,}`)

func TestEnginesAPITokens(t *testing.T) {
	h := newEngineHarness(t, engineConfig{})
	f := h.fake

	if a := h.reply(f.SlashGroup(engGuild, engAnn, "config", "api-token", "create")); !strings.Contains(a.Data.Content, "Manage Server") {
		t.Fatalf("a member's api-token create: %q", a.Data.Content)
	}
	created := h.reply(f.SlashGroup(engGuild, engAda, "config", "api-token", "create", discordtest.Str("label", "grafana board")))
	token := tokenRE.FindString(created.Data.Content)
	if token == "" || created.Data.Flags&ephemeral == 0 || !strings.Contains(created.Data.Content, "shown only now") {
		t.Fatalf("api-token create: %+v", created)
	}
	info, err := h.eng.Tokens.Lookup(context.Background(), token)
	if err != nil || info.Property != engGuild || info.CreatedBy != engAda.ID || info.Label != "grafana board" {
		t.Fatalf("lookup %+v %v", info, err)
	}
	change := h.exactly(audit.SettingsChange, 1)[0]
	if change.Params[audit.ParamSetting] != "api_token" || change.Params[command.ParamTokenID] != info.ID ||
		change.Params[audit.ParamNewValue] != "created" || change.ActorID != engAda.ID {
		t.Fatalf("change %s", describe([]*audit.Event{change}))
	}
	list := h.reply(f.SlashGroup(engGuild, engAda, "config", "api-token", "list"))
	if !strings.Contains(list.Data.Content, info.ID) || !strings.Contains(list.Data.Content, "grafana board") {
		t.Fatalf("api-token list: %q", list.Data.Content)
	}
	show := h.reply(f.Slash(engGuild, engAda, "config", "show"))

	// The token is in no record, no log post, no other answer and no log
	// line.
	h.poll("the change's log entry", func() bool { return countContaining(h.logEntries(), "changed a setting") > 0 })
	secret := token[len(command.TokenPrefix):]
	for _, e := range h.records() {
		if strings.Contains(jsonOf(e), secret) {
			t.Fatalf("a record holds the token: %s", jsonOf(e))
		}
	}
	for _, p := range h.fake.Posts(engLog) {
		if bytes.Contains(p, []byte(secret)) {
			t.Fatalf("a log post holds the token: %s", p)
		}
	}
	for _, s := range []string{list.Data.Content, show.Data.Content, h.logs.String()} {
		if strings.Contains(s, secret) {
			t.Fatalf("the token was shown again or logged: %q", s)
		}
	}

	revoked := h.reply(f.SlashGroup(engGuild, engAda, "config", "api-token", "revoke", discordtest.Str("id", info.ID)))
	if !strings.Contains(revoked.Data.Content, "is revoked") {
		t.Fatalf("api-token revoke: %q", revoked.Data.Content)
	}
	if _, err := h.eng.Tokens.Lookup(context.Background(), token); err == nil {
		t.Fatal("the revoked token still works")
	}
	h.exactly(audit.SettingsChange, 2)
}

func TestEnginesNewModeratorIsProtectedAtOnce(t *testing.T) {
	h := newEngineHarness(t, engineConfig{})
	f := h.fake
	bart := &discordgo.User{ID: "410000000000000031", Username: "bartholomew", GlobalName: "Bartholomew"}
	f.Join(engGuild, bart)
	h.wait(audit.UserJoin, 1)
	// The staff list is read (and cached) for the join's check; then Bart
	// becomes a moderator.
	h.settle()
	f.SetRoles(engGuild, engOwner.ID, bart.ID, engModRole)
	h.poll("the promotion", func() bool {
		return slices.ContainsFunc(h.records(audit.UserUpdate), func(e *audit.Event) bool { return e.Params[audit.ParamRolesAdded] == engModRole })
	})
	fake := &discordgo.User{ID: "410000000000000032", Username: "bart_support", GlobalName: "B\u0430rtholomew"}
	f.Join(engGuild, fake)
	sec := h.wait(audit.SecurityEvent, 1)[0]
	if sec.Target() != fake.ID || !slices.Contains(sec.TargetIDs, bart.ID) || !strings.EqualFold(sec.Params[audit.ParamMatchedName], "Bartholomew") {
		t.Fatalf("impersonation record %s", describe([]*audit.Event{sec}))
	}
}

func TestEnginesDirectoryOverREST(t *testing.T) {
	trusted := "310000000000000009"
	// The member chunks never come: the directory reads over REST.
	h := newEngineHarness(t, engineConfig{fake: discordtest.Options{LargeGuilds: true, HoldMemberChunks: true}, mod: func(d *moderation.Defaults) {
		d.LinkFilter.Denylist = []string{"evil.example"}
		d.LinkFilter.BlockInvites = true
	}})
	f := h.fake
	if _, err := h.b.Session().State.Member(engGuild, engOwner.ID); err == nil {
		t.Fatal("the state holds the owner of a large guild")
	}
	tess := &discordgo.User{ID: "410000000000000041", Username: "tess"}
	g := engGuildOf()
	g.Roles = append(g.Roles, &discordgo.Role{ID: trusted, Name: "trusted"})
	g.Members = append(g.Members, &discordgo.Member{User: tess, Roles: []string{trusted}})
	f.AddGuild(g) // the same guild, now with Tess and her role (still large)
	h.poll("the trusted role in the state", func() bool {
		_, err := h.b.Session().State.Role(engGuild, trusted)
		return err == nil
	})
	f.AddInvite(engGuild, "owncode")
	if a := h.configSet(engAda, "link_filter.exempt_roles", trusted); !strings.Contains(a.Data.Content, "is now") {
		t.Fatalf("/config set: %q", a.Data.Content)
	}

	// The owner is read over REST for the staff list: her look-alike is
	// caught.
	fake1 := &discordgo.User{ID: "410000000000000042", Username: "olga_help", GlobalName: "\u041elg\u0430 P\u0435trova"}
	f.Join(engGuild, fake1)
	sec := h.wait(audit.SecurityEvent, 1)[0]
	if sec.Params[audit.ParamKind] != audit.KindImpersonation || !slices.Contains(sec.TargetIDs, engOwner.ID) {
		t.Fatalf("impersonation record %s", describe([]*audit.Event{sec}))
	}
	if len(h.calls(http.MethodGet, "/guilds/"+engGuild+"/members/"+engOwner.ID)) == 0 {
		t.Fatal("the owner was not read over REST")
	}

	// Tess's role, read over REST, exempts her; the guild's own invite
	// (listed over REST) is allowed and another one is not.
	tessLink := f.Say(engGuild, engGeneral, tess, "https://evil.example/tess")
	own := f.Say(engGuild, engGeneral, engAnn, "join us: https://discord.gg/owncode")
	other := f.Say(engGuild, engGeneral, engAnn, "better server: https://discord.gg/spamcode")
	links := h.exactly(audit.ModerationLink, 1)
	if links[0].MessageID != other.ID {
		t.Fatalf("link records %s; want the foreign invite %s only (own %s, exempt %s)", describe(links), other.ID, own.ID, tessLink.ID)
	}
	if len(h.calls(http.MethodGet, "/guilds/"+engGuild+"/members/"+tess.ID)) == 0 {
		t.Error("Tess's roles were not read over REST")
	}
	if len(h.calls(http.MethodGet, "/guilds/"+engGuild+"/invites")) == 0 {
		t.Error("the guild's invites were not listed")
	}
}

func TestEnginesSlowVerificationPressIsDeferred(t *testing.T) {
	h := newEngineHarness(t, engineConfig{})
	f := h.fake
	start := h.enableVerification("button", "5m")
	zoe := &discordgo.User{ID: "410000000000000024", Username: "zoe"}
	h.joinPending(zoe)
	q := h.reply(f.Press(engGuild, zoe, start))
	// Granting the role takes longer than Discord waits for an answer:
	// the press is acknowledged (type 6) and the answer edited in.
	f.Delay("/guilds/"+engGuild+"/members/"+zoe.ID+"/roles/", 3*time.Second)
	in := f.Press(engGuild, zoe, q.buttons()["I'm human"])
	ok := h.reply(in)
	if ok.Type != int(discordgo.InteractionResponseDeferredMessageUpdate) || !strings.Contains(ok.Data.Content, "verified") || len(ok.buttons()) != 0 {
		t.Fatalf("slow press: %+v (%d replies)", ok, len(in.Replies()))
	}
	h.exactly(audit.VerificationSuccess, 1)
}
