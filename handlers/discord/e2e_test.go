package discord_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/discord"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

const (
	guildID   = "100000000000000001"
	otherID   = "100000000000000002"
	channelID = "200000000000000001"
	logID     = "200000000000000002"
	modRole   = "300000000000000001"
)

var (
	owner  = &discordgo.User{ID: "400000000000000001", Username: "owner"}
	mod    = &discordgo.User{ID: "400000000000000002", Username: "mod"}
	member = &discordgo.User{ID: "400000000000000003", Username: "ann", GlobalName: "Ann"}
)

type harness struct {
	t    *testing.T
	fake *discordtest.Server
	s    *store.Store
	rec  *recorder.Recorder
	b    *discord.Bot
	stop context.CancelFunc
	done chan error

	reconnects atomic.Int32 // Options.OnReconnect calls
}

func guild(id string) *discordgo.Guild {
	return &discordgo.Guild{ID: id, Name: "Test " + id, OwnerID: owner.ID,
		Roles: []*discordgo.Role{{ID: id, Name: "@everyone"},
			{ID: modRole, Name: "mods", Permissions: discordgo.PermissionBanMembers | discordgo.PermissionKickMembers}},
		Channels: []*discordgo.Channel{{ID: channelID, GuildID: id, Name: "general", Type: discordgo.ChannelTypeGuildText},
			{ID: logID, GuildID: id, Name: "audit-log", Type: discordgo.ChannelTypeGuildText}},
		Members: []*discordgo.Member{{User: owner, Roles: []string{}}, {User: mod, Roles: []string{modRole}},
			{User: member, Roles: []string{}}}}
}

func start(t *testing.T, opts discordtest.Options) (*harness, error) {
	return startWith(t, opts, nil)
}

// startWith starts the bot with a guild's settings (log channels) saved.
func startWith(t *testing.T, opts discordtest.Options, initial *settings.Community) (*harness, error) {
	t.Helper()
	return startTweaked(t, opts, initial, nil)
}

// startTweaked is startWith with the bot's options changed by tweak.
func startTweaked(t *testing.T, opts discordtest.Options, initial *settings.Community, tweak func(*discord.Options)) (*harness, error) {
	t.Helper()
	fake := discordtest.New(opts)
	t.Cleanup(fake.Close)
	fake.AddGuild(guild(guildID))
	s, err := store.Open(filepath.Join(t.TempDir(), "d.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if initial != nil {
		s.UpdateSettings(context.Background(), audit.Discord, guildID, func(x *settings.Community) error { *x = *initial; return nil })
	}
	router, err := logchannel.NewRouter(context.Background(), s, "en")
	if err != nil {
		t.Fatal(err)
	}
	rec := recorder.New(s, recorder.Options{Routers: []recorder.Router{router}})
	t.Cleanup(func() { rec.Close(context.Background()); s.Close() })
	h := &harness{t: t}
	bo := discord.Options{Token: "test-token", APIURL: fake.APIURL(), Store: s, Recorder: rec,
		Logger: zerolog.Nop(), CorrelationWindow: 300 * time.Millisecond, ReadyTimeout: 5 * time.Second,
		Router: router, LogInterval: 10 * time.Millisecond, OnReconnect: func() { h.reconnects.Add(1) }, ViewerLink: fakeViewerLink}
	if tweak != nil {
		tweak(&bo)
	}
	b, err := discord.New(bo)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.fake, h.s, h.rec, h.b, h.stop, h.done = fake, s, rec, b, cancel, make(chan error, 1)
	go func() { h.done <- b.Run(ctx) }()
	select {
	case <-b.Ready():
	case err := <-h.done:
		cancel()
		return nil, err
	case <-time.After(10 * time.Second):
		t.Fatal("no READY")
	}
	t.Cleanup(func() { cancel(); <-h.done })
	// Wait until GUILD_CREATE reached the state.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := b.Session().State.Guild(guildID); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("guild never reached the state")
		}
	}
	// Wait until the bot read the member list GUILD_CREATE lacks (it
	// lists only the bot and members in voice): until then, a member's
	// first update has nothing to be diffed against.
	for deadline := time.Now().Add(5 * time.Second); !opts.HoldMemberChunks && !hasProfile(s, guildID, member.ID); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the member list was never read")
		}
	}
	return h, nil
}

// hasProfile reports whether the bot stored a member's profile (what it
// diffs the member's updates against).
func hasProfile(s *store.Store, guild, user string) bool {
	_, err := s.GetKV("discord/profile", []byte(guild+"/"+user))
	return err == nil
}

// wait polls the store until n records match q.
func (h *harness) wait(q store.Query, n int) []*audit.Event {
	h.t.Helper()
	q.Platform, q.Property, q.Limit = audit.Discord, guildID, 1000
	var evs []*audit.Event
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		page, err := h.s.Query(context.Background(), q)
		if err != nil {
			h.t.Fatal(err)
		}
		if evs = page.Events; len(evs) >= n {
			return evs
		}
	}
	h.t.Fatalf("%+v: %d records, want %d", q, len(evs), n)
	return nil
}

func TestStartupChecks(t *testing.T) {
	h, err := start(t, discordtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := h.fake.Identifies()
	if len(ids) != 1 || ids[0].Intents != discord.Intents {
		t.Fatalf("identify %+v, want intents %d", ids, discord.Intents)
	}
	if _, err := start(t, discordtest.Options{Token: "another"}); !errors.Is(err, discord.ErrTokenRejected) || !strings.Contains(err.Error(), "developer portal") {
		t.Fatalf("wrong token: %v", err)
	}
	_, err = start(t, discordtest.Options{AppFlags: discordtest.FlagMessageContent})
	if !errors.Is(err, discord.ErrIntentsDisabled) || !strings.Contains(err.Error(), "SERVER MEMBERS") {
		t.Fatalf("disabled intent: %v", err)
	}
	// Without MESSAGE CONTENT the bot runs, identifying without it
	// (content_test.go).
	h, err = start(t, discordtest.Options{AppFlags: discordtest.FlagGuildMembers})
	if err != nil {
		t.Fatalf("message content off: %v", err)
	}
	if ids := h.fake.Identifies(); len(ids) != 1 || ids[0].Intents != discord.Intents&^discordgo.IntentMessageContent {
		t.Fatalf("identify %+v, want intents %d", ids, discord.Intents&^discordgo.IntentMessageContent)
	}
}

func TestGatewaySourcesBecomeRecords(t *testing.T) {
	h, err := start(t, discordtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	newbie := &discordgo.User{ID: "400000000000000009", Username: "newbie"}
	h.fake.Join(guildID, newbie)
	join := h.wait(store.Query{Types: []audit.EventType{audit.UserJoin}}, 1)[0]
	if join.ActorID != newbie.ID || join.ActorType != audit.ActorNonAdmin || join.PlatformType != "GUILD_MEMBER_ADD" || join.Function != audit.FuncGateway {
		t.Fatalf("join %+v", join)
	}

	msg := h.fake.Say(guildID, channelID, member, "hello @everyone")
	got := h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, 1)[0]
	if got.Content != "hello @everyone" || got.MessageID != msg.ID || got.ChannelID != channelID || got.ActorName != "Ann" {
		t.Fatalf("message %+v", got)
	}
	h.fake.Edit(msg, "hello again")
	edit := h.wait(store.Query{Types: []audit.EventType{audit.ChatMessageEdit}}, 1)[0]
	if edit.Content != "hello again" || edit.Params[audit.ParamOldContent] != "hello @everyone" {
		t.Fatalf("edit %+v", edit)
	}
	h.fake.Delete(msg)
	del := h.wait(store.Query{Types: []audit.EventType{audit.ChatMessageDelete}}, 1)[0]
	if del.Content != "hello again" || del.Target() != member.ID {
		t.Fatalf("delete: the earlier content must come from the store: %+v", del)
	}

	h.fake.KickBy(guildID, mod.ID, newbie.ID, "spam")
	kick := h.wait(store.Query{Types: []audit.EventType{audit.UserRemove}}, 1)[0]
	if kick.ActorID != mod.ID || kick.ActorType != audit.ActorAdmin || kick.Params[audit.ParamRemoval] != audit.RemovalKicked ||
		kick.Params[audit.ParamReason] != "spam" || kick.Target() != newbie.ID {
		t.Fatalf("kick %+v", kick)
	}
	h.fake.Leave(guildID, member.ID)
	left := h.wait(store.Query{Types: []audit.EventType{audit.UserRemove}}, 2)[0]
	if left.ActorID != member.ID || left.Params[audit.ParamRemoval] != audit.RemovalLeft {
		t.Fatalf("leave %+v", left)
	}
}

func TestOwnActionsRecordedOnce(t *testing.T) {
	h, err := start(t, discordtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	msg := h.fake.Say(guildID, channelID, member, "buy cheap nitro")
	h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, 1)
	cause := platform.Cause{Function: audit.FuncLinkFilter, Reason: "phishing"}
	if err := h.b.DeleteMessage(ctx, guildID, channelID, msg.ID, cause); err != nil {
		t.Fatal(err)
	}
	if err := h.b.Ban(ctx, guildID, member.ID, cause); err != nil {
		t.Fatal(err)
	}
	time.Sleep(800 * time.Millisecond) // longer than the correlation window: echoes would have landed
	dels := h.wait(store.Query{Types: []audit.EventType{audit.ChatMessageDelete}}, 1)
	bans := h.wait(store.Query{Types: []audit.EventType{audit.UserBan}}, 1)
	removes, _ := h.s.Query(ctx, store.Query{Platform: audit.Discord, Property: guildID, Types: []audit.EventType{audit.UserRemove}})
	if len(dels) != 1 || len(bans) != 1 || len(removes.Events) != 0 {
		t.Fatalf("the bot's actions were recorded %d/%d times with %d removals; want once each and no removal", len(dels), len(bans), len(removes.Events))
	}
	if dels[0].ActorType != audit.ActorBot || dels[0].Function != audit.FuncLinkFilter || dels[0].Content != "buy cheap nitro" ||
		dels[0].Params[audit.ParamReason] != "phishing" || bans[0].ActorID != h.fake.BotID() {
		t.Fatalf("action records: %+v %+v", dels[0], bans[0])
	}
	var reasons []string
	for _, c := range h.fake.Calls() {
		if c.Reason != "" {
			reasons = append(reasons, c.Method+" "+c.Reason)
		}
	}
	if len(reasons) != 2 {
		t.Fatalf("audit-log reasons sent: %v", reasons)
	}
}

// TestAuditLogReasonsAreEncoded: the reason Discord shows in its audit log
// reaches it whole whatever the presser's name holds: a newline (which
// net/http refuses in a raw header) and non-ASCII (which Discord reads
// URL-encoded); the fake refuses unencoded reasons as garbled.
func TestAuditLogReasonsAreEncoded(t *testing.T) {
	h, err := start(t, discordtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cause := platform.Cause{Function: audit.FuncCommand, Reason: "raid «wave 2» 100%", ActorName: "Zoë\nthe admin 🛡"}
	if err := h.b.Ban(ctx, guildID, member.ID, cause); err != nil {
		t.Fatal(err)
	}
	long := platform.Cause{Function: audit.FuncCommand, Reason: strings.Repeat("é", 600)}
	if err := h.b.Unban(ctx, guildID, member.ID, long); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range h.fake.Calls() {
		if strings.Contains(c.Path, "/bans/") {
			got = append(got, c.Reason)
		}
	}
	want := "raid «wave 2» 100% (by Zoë\nthe admin 🛡)"
	if len(got) != 2 || got[0] != want || utf8.RuneCountInString(got[1]) > 512 || !strings.HasPrefix(got[1], "éé") {
		t.Fatalf("reasons Discord received: %q; want %q and a cut reason", got, want)
	}
}

func TestResumeDeliversEventsMissedWhileDisconnected(t *testing.T) {
	h, err := start(t, discordtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.fake.DropConnections()
	for i := 0; i < 20; i++ {
		h.fake.Say(guildID, channelID, member, "while you were away")
	}
	h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, 20)
	if h.fake.Resumes() < 1 {
		t.Fatal("discordgo did not resume")
	}
	if h.reconnects.Load() < 1 {
		t.Fatal("the dropped connection was not reported to OnReconnect (the reconnect metric)")
	}
	if n := len(h.fake.Identifies()); n != 1 {
		t.Fatalf("%d identifies: a resume must not start a new session", n)
	}
}

func TestIsolationBetweenGuilds(t *testing.T) {
	h, err := start(t, discordtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.fake.AddGuild(guild(otherID))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := h.b.Session().State.Guild(otherID); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("second guild never arrived")
		}
	}
	h.fake.Say(otherID, channelID, member, "in the other guild")
	h.fake.Say(guildID, channelID, member, "in this guild")
	evs := h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, 1)
	time.Sleep(100 * time.Millisecond)
	evs = h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, 1)
	for _, e := range evs {
		if e.PropertyID != guildID || strings.Contains(e.Content, "other") {
			t.Fatalf("a record of another guild in this guild's query: %+v", e)
		}
	}
}

func discordtestOptions() discordtest.Options { return discordtest.Options{} }
