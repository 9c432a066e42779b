package moderation_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/moderation/moderationtest"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

const guild = "900000000000000001"

var start = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	t          *testing.T
	st         *store.Store
	rec        *recorder.Recorder
	eng        *moderation.Engine
	acts       *moderationtest.Actions
	tg         *moderationtest.Actions
	dir        *moderationtest.Directory
	clock      *moderationtest.Clock
	joinRoutes atomic.Int64
	next       int
}

// recorderFunc adapts a function to moderation.Recorder.
type recorderFunc func(ctx context.Context, events ...*audit.Event) error

func (f recorderFunc) Record(ctx context.Context, events ...*audit.Event) error {
	return f(ctx, events...)
}

func newEnv(t *testing.T, defaults moderation.Defaults, tune ...func(*moderation.Options)) *env {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "test.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ev := &env{t: t, st: st, clock: moderationtest.NewClock(start), dir: moderationtest.NewDirectory()}
	opts := moderation.Options{
		Settings: st,
		KV:       st,
		Recorder: recorderFunc(func(ctx context.Context, events ...*audit.Event) error { return ev.rec.Record(ctx, events...) }),
		Defaults: defaults,
		Clock:    ev.clock,
		Logger:   zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	}
	for _, f := range tune {
		f(&opts)
	}
	eng, err := moderation.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ev.eng = eng
	countJoins := recorder.RouterFunc(func(e *audit.Event) []recorder.Route {
		if e.Type == audit.UserJoin {
			ev.joinRoutes.Add(1)
		}
		return []recorder.Route{{Sink: "test", Target: "log"}}
	})
	ev.rec = recorder.New(st, recorder.Options{Routers: []recorder.Router{eng.RaidFilter(countJoins)}})
	ev.acts = moderationtest.NewActions(audit.Discord, ev.rec)
	eng.Attach(ev.acts, ev.dir)
	ev.tg = moderationtest.NewActions(audit.Telegram, ev.rec)
	eng.Attach(ev.tg, ev.dir)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := eng.Close(ctx); err != nil {
			t.Error(err)
		}
		if err := ev.rec.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return ev
}

// feed records gateway events and hands them to the engine, as a platform
// does after commit, then waits for the engine's work.
func (ev *env) feed(events ...*audit.Event) {
	ev.t.Helper()
	ctx := context.Background()
	for _, e := range events {
		if err := ev.rec.Record(ctx, e); err != nil {
			ev.t.Fatal(err)
		}
		if err := ev.eng.Handle(ctx, e); err != nil {
			ev.t.Fatal(err)
		}
	}
	ev.flush()
}

func (ev *env) flush() {
	ev.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ev.eng.Flush(ctx); err != nil {
		ev.t.Fatal(err)
	}
}

// records returns the guild's records of type typ, newest first.
func (ev *env) records(typ audit.EventType) []*audit.Event {
	ev.t.Helper()
	return ev.recordsOf(audit.Discord, guild, typ)
}

func (ev *env) recordsOf(p audit.Platform, property string, typ audit.EventType) []*audit.Event {
	ev.t.Helper()
	var out []*audit.Event
	err := ev.st.Scan(context.Background(), store.Query{Platform: p, Property: property,
		Types: []audit.EventType{typ}}, func(e *audit.Event) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		ev.t.Fatal(err)
	}
	return out
}

// eventually polls cond until it holds or 10 s pass.
func (ev *env) eventually(what string, cond func() bool) {
	ev.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			ev.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (ev *env) settings(fn func(s *settings.Community)) {
	ev.t.Helper()
	_, _, err := ev.st.UpdateSettings(context.Background(), audit.Discord, guild, func(s *settings.Community) error {
		fn(s)
		return nil
	})
	if err != nil {
		ev.t.Fatal(err)
	}
}

func (ev *env) message(user, content string) *audit.Event {
	ev.next++
	return &audit.Event{Time: ev.clock.Now(), Platform: audit.Discord, PropertyID: guild, Type: audit.ChatMessage,
		PlatformType: "MESSAGE_CREATE", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
		ActorID: user, ActorName: "member " + user, ChannelID: "chan1",
		MessageID: "msg" + strconv.Itoa(ev.next), Content: content}
}

func (ev *env) join(user, name string) *audit.Event {
	return &audit.Event{Time: ev.clock.Now(), Platform: audit.Discord, PropertyID: guild, Type: audit.UserJoin,
		PlatformType: "GUILD_MEMBER_ADD", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
		ActorID: user, ActorName: name}
}

func (ev *env) rename(user, field, old, new, display string) *audit.Event {
	e := &audit.Event{Time: ev.clock.Now(), Platform: audit.Discord, PropertyID: guild, Type: audit.UserUpdate,
		PlatformType: "GUILD_MEMBER_UPDATE", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
		ActorID: user, ActorName: display, TargetIDs: []string{user}}
	e.Params.Set(audit.ParamField, field)
	e.Params.Set(audit.ParamOldValue, old)
	e.Params.Set(audit.ParamNewValue, new)
	e.Params.Set(audit.ParamTargetName, display)
	return e
}

func ptr[T any](v T) *T { return &v }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPhishingLinkDeletedAndLoggedOnce(t *testing.T) {
	list := filepath.Join(t.TempDir(), "phishing.txt")
	writeFile(t, list, "# public phishing list\n0.0.0.0 steamcommunity-gift.ru\nfree-nitro.gift\n\nhttps://evil-login.com/path\n")
	d := moderation.BuiltinDefaults()
	d.LinkFilter.DenylistFiles = []string{list}
	ev := newEnv(t, d)

	msg := ev.message("u1", "free nitro!! https://claim.free-nitro.gift/abc hurry")
	ev.feed(msg)
	// The same message again (a redelivery) and an edit of it do not act twice.
	if err := ev.eng.Handle(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	edit := *msg
	edit.Type, edit.ID = audit.ChatMessageEdit, audit.ID{}
	edit.Content = "free nitro https://free-nitro.gift"
	ev.feed(&edit)

	dels := ev.acts.Calls("DeleteMessage")
	if len(dels) != 1 || dels[0].Message != msg.MessageID || dels[0].Channel != "chan1" ||
		dels[0].Cause.Function != audit.FuncLinkFilter || dels[0].Cause.Quiet != audit.QuietDetail {
		t.Fatalf("delete calls = %+v", dels)
	}
	mod := ev.records(audit.ModerationLink)
	if len(mod) != 1 {
		t.Fatalf("%d MODERATION_LINK records, want 1", len(mod))
	}
	want := map[string]string{
		audit.ParamURL: "https://claim.free-nitro.gift/abc", audit.ParamDomain: "claim.free-nitro.gift",
		audit.ParamRule: moderation.RuleDenylist, audit.ParamMode: "DENYLIST",
		audit.ParamAction: moderation.ActDelete, audit.ParamOutcome: moderation.OutcomeDone,
		moderation.ParamMatched: "free-nitro.gift",
	}
	for k, v := range want {
		if got := mod[0].Params.Get(k); got != v {
			t.Errorf("MODERATION_LINK %s = %q, want %q", k, got, v)
		}
	}
	if mod[0].Function != audit.FuncLinkFilter || mod[0].ActorType != audit.ActorBot || mod[0].Target() != "u1" ||
		mod[0].MessageID != msg.MessageID {
		t.Errorf("MODERATION_LINK = %+v", mod[0])
	}
	deletes := ev.records(audit.ChatMessageDelete)
	if len(deletes) != 1 || deletes[0].Function != audit.FuncLinkFilter || deletes[0].ActorType != audit.ActorBot {
		t.Fatalf("CHAT_MESSAGE_DELETE records = %+v", deletes)
	}
}

func TestAllowedLinkStays(t *testing.T) {
	d := moderation.BuiltinDefaults()
	d.LinkFilter.Denylist = []string{"evil.com"}
	ev := newEnv(t, d)
	ev.feed(
		ev.message("u1", "docs at https://example.org/guide and notevil.com"),
		ev.message("u1", "see README.md and v1.2.3"),
	)
	if calls := ev.acts.Calls(); len(calls) != 0 {
		t.Fatalf("actions on allowed links: %+v", calls)
	}
	if n := len(ev.records(audit.ModerationLink)); n != 0 {
		t.Fatalf("%d MODERATION_LINK records, want 0", n)
	}
}

func TestLinkFilterSources(t *testing.T) {
	d := moderation.BuiltinDefaults()
	d.LinkFilter.Denylist = []string{"evil.com"}
	ev := newEnv(t, d)

	embed := ev.message("u1", "look")
	embed.Params.Set(audit.ParamEmbedURLs, "https://ok.example https://www.evil.com/x")
	textLink := ev.message("u2", "click here")
	textLink.Params.Set(moderation.ParamTextLinks, "https://login.evil.com/")
	obfuscated := ev.message("u3", "go to evil [.] com now")
	ev.feed(embed, textLink, obfuscated)

	got := map[string]string{}
	for _, r := range ev.records(audit.ModerationLink) {
		got[r.MessageID] = r.Params.Get(audit.ParamDomain)
	}
	want := map[string]string{embed.MessageID: "www.evil.com", textLink.MessageID: "login.evil.com",
		obfuscated.MessageID: "evil.com"}
	if len(got) != len(want) {
		t.Fatalf("records = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("message %s: domain %q, want %q", k, got[k], v)
		}
	}
}

func TestLinkFilterModesAndInvites(t *testing.T) {
	ev := newEnv(t, moderation.BuiltinDefaults())
	ev.settings(func(s *settings.Community) {
		s.LinkFilter = &settings.LinkFilter{Mode: moderation.ModeAllowlist,
			Allowlist: []string{"example.org", "discord.gg"}, Denylist: []string{"bad.example.org"},
			BlockInvites: ptr(true), AllowedInvites: []string{"ourcode"}}
	})
	ev.dir.SetInvites(guild, "vanity")
	tests := []struct {
		content string
		rule    string // "" when the message stays
	}{
		{"https://docs.example.org/x", ""},
		{"https://github.com/x", moderation.RuleNotAllowlisted},
		{"https://bad.example.org/", moderation.RuleDenylist},
		{"join discord.gg/ourcode", ""},
		{"join https://discord.gg/vanity", ""},
		{"join https://discord.com/invite/other", moderation.RuleInvite},
		{"join discord.gg/other", moderation.RuleInvite},
	}
	var msgs []*audit.Event
	for _, tt := range tests {
		msgs = append(msgs, ev.message("u1", tt.content))
	}
	ev.feed(msgs...)
	rules := map[string]string{}
	for _, r := range ev.records(audit.ModerationLink) {
		rules[r.MessageID] = r.Params.Get(audit.ParamRule)
		if r.Params.Get(audit.ParamMode) != "ALLOWLIST" {
			t.Errorf("mode = %q", r.Params.Get(audit.ParamMode))
		}
	}
	for i, tt := range tests {
		if got := rules[msgs[i].MessageID]; got != tt.rule {
			t.Errorf("%q: rule %q, want %q", tt.content, got, tt.rule)
		}
	}
}

func TestLearnedInviteIsOwn(t *testing.T) {
	d := moderation.BuiltinDefaults()
	d.LinkFilter.BlockInvites = true
	ev := newEnv(t, d)
	inv := &audit.Event{Platform: audit.Discord, PropertyID: guild, Type: audit.PropertyInviteCreate,
		PlatformType: "INVITE_CREATE", Function: audit.FuncGateway, ActorType: audit.ActorAdmin, ActorID: "owner"}
	inv.Params.Set(audit.ParamInviteCode, "fresh")
	ev.feed(inv, ev.message("u1", "discord.gg/fresh"), ev.message("u1", "discord.gg/stale"))
	recs := ev.records(audit.ModerationLink)
	if len(recs) != 1 || recs[0].Params.Get(audit.ParamURL) != "http://discord.gg/stale" {
		t.Fatalf("records = %+v", recs)
	}
}

func TestLinkFilterExemptions(t *testing.T) {
	d := moderation.BuiltinDefaults()
	d.LinkFilter.Denylist = []string{"evil.com"}
	ev := newEnv(t, d)
	ev.settings(func(s *settings.Community) {
		s.LinkFilter = &settings.LinkFilter{ExemptChannels: []string{"links"}, ExemptRoles: []string{"trusted"}}
	})
	ev.dir.SetAdmin(guild, "mod", true)
	ev.dir.SetRoles(guild, "helper", "trusted")

	inChannel := ev.message("u1", "evil.com")
	inChannel.ChannelID = "links"
	byAdminType := ev.message("owner", "evil.com")
	byAdminType.ActorType = audit.ActorAdmin
	byAdmin := ev.message("mod", "evil.com")
	byRole := ev.message("helper", "evil.com")
	byMember := ev.message("u2", "evil.com")
	ev.feed(inChannel, byAdminType, byAdmin, byRole, byMember)
	dels := ev.acts.Calls("DeleteMessage")
	if len(dels) != 1 || dels[0].Message != byMember.MessageID {
		t.Fatalf("deleted %+v, want only %s", dels, byMember.MessageID)
	}

	// Admins lose their exemption when it is turned off.
	ev.settings(func(s *settings.Community) { s.LinkFilter.ExemptAdmins = ptr(false) })
	again := ev.message("mod", "evil.com")
	ev.feed(again)
	if n := len(ev.acts.Calls("DeleteMessage")); n != 2 {
		t.Fatalf("%d deletes after turning the admin exemption off, want 2", n)
	}
}

func TestLinkFilterEscalation(t *testing.T) {
	d := moderation.BuiltinDefaults()
	d.LinkFilter.Denylist = []string{"evil.com"}
	ev := newEnv(t, d)
	ev.settings(func(s *settings.Community) {
		s.LinkFilter = &settings.LinkFilter{Escalate: ptr(true), EscalateAfter: 2,
			EscalateWindowSeconds: 60, EscalateTimeoutSeconds: 600}
	})
	ev.feed(ev.message("u1", "evil.com"))
	ev.clock.Advance(2 * time.Minute) // outside the window: starts over
	ev.feed(ev.message("u1", "evil.com/2"))
	if n := len(ev.acts.Calls("Timeout")); n != 0 {
		t.Fatalf("%d timeouts after violations outside the window", n)
	}
	ev.clock.Advance(30 * time.Second)
	ev.feed(ev.message("u1", "evil.com/3"))
	to := ev.acts.Calls("Timeout")
	if len(to) != 1 || to[0].User != "u1" || !to[0].Until.Equal(ev.clock.Now().Add(10*time.Minute)) ||
		to[0].Cause.Function != audit.FuncLinkFilter {
		t.Fatalf("timeouts = %+v", to)
	}
	var escalated int
	for _, r := range ev.records(audit.ModerationLink) {
		if r.Params.Get(moderation.ParamEscalated) == "true" {
			escalated++
		}
	}
	if escalated != 1 {
		t.Errorf("%d escalated MODERATION_LINK records, want 1", escalated)
	}
	var timeouts int
	for _, r := range ev.records(audit.UserUpdate) {
		if r.Function == audit.FuncLinkFilter && r.Params.Get(audit.ParamField) == "timeout" {
			timeouts++
		}
	}
	if timeouts != 1 {
		t.Errorf("%d timeout records, want 1", timeouts)
	}
}

func TestDenyFileReloaded(t *testing.T) {
	list := filepath.Join(t.TempDir(), "deny.txt")
	writeFile(t, list, "old.example\n")
	d := moderation.BuiltinDefaults()
	d.LinkFilter.DenylistFiles = []string{list}
	ev := newEnv(t, d, func(o *moderation.Options) { o.ReloadInterval = time.Minute })

	ev.feed(ev.message("u1", "https://new.example/"))
	if n := len(ev.acts.Calls("DeleteMessage")); n != 0 {
		t.Fatalf("deleted before the list named the domain")
	}
	writeFile(t, list, "old.example\nnew.example\n")
	ev.clock.Advance(time.Minute)
	ev.eventually("the reloaded list to block new.example", func() bool {
		ev.feed(ev.message("u1", "https://new.example/"))
		return len(ev.acts.Calls("DeleteMessage")) > 0
	})
}

func TestMissingDenyFileFailsNew(t *testing.T) {
	d := moderation.BuiltinDefaults()
	d.LinkFilter.DenylistFiles = []string{filepath.Join(t.TempDir(), "absent.txt")}
	st, err := store.Open(filepath.Join(t.TempDir(), "x.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = moderation.New(moderation.Options{Settings: st, Recorder: recorderFunc(nil), Defaults: d})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("New with a missing deny file: %v", err)
	}
}

func TestImpersonatorOfOwnerFlaggedAndQuarantined(t *testing.T) {
	ev := newEnv(t, moderation.BuiltinDefaults())
	ev.settings(func(s *settings.Community) {
		s.Impersonation = &settings.Impersonation{Action: moderation.ActionQuarantine, QuarantineSeconds: 3600,
			ProtectedNames: []string{"Acme Support"}}
	})
	ev.dir.AddStaff(guild, "owner", "Alice", "alice_w")
	ev.dir.AddStaff(guild, "mod", "Bob")

	ev.feed(
		ev.join("imp", "AIice"),                                   // capital I for l
		ev.join("fan", "Alicia Keys"),                             // not confusable
		ev.rename("owner", "nickname", "", "Alice", "Alice"),      // the owner's own name
		ev.rename("mod", "nickname", "Bob", "alice_w", "alice_w"), // staff are never checked
		ev.rename("u9", "nickname", "", "Acme Supp0rt", "Acme Supp0rt"),
	)
	sec := ev.records(audit.SecurityEvent)
	if len(sec) != 2 {
		t.Fatalf("%d SECURITY_EVENT records, want 2: %+v", len(sec), sec)
	}
	byTarget := map[string]*audit.Event{}
	for _, r := range sec {
		byTarget[r.Target()] = r
	}
	imp := byTarget["imp"]
	if imp == nil {
		t.Fatal("the owner's impersonator was not flagged")
	}
	want := map[string]string{audit.ParamKind: audit.KindImpersonation, audit.ParamMatchedName: "Alice",
		audit.ParamTargetName: "AIice", audit.ParamAction: moderation.ActQuarantine, audit.ParamOutcome: moderation.OutcomeDone}
	for k, v := range want {
		if got := imp.Params.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if imp.Params.Get(audit.ParamNameSkeleton) == "" || imp.Params.Get(audit.ParamMatchedSkeleton) == "" {
		t.Errorf("skeletons missing: %v", imp.Params)
	}
	if imp.Function != audit.FuncImpersonation || len(imp.TargetIDs) != 2 || imp.TargetIDs[1] != "owner" {
		t.Errorf("record = %+v", imp)
	}
	if r := byTarget["u9"]; r == nil || r.Params.Get(audit.ParamMatchedName) != "Acme Support" ||
		r.Params.Get(audit.ParamField) != "nickname" {
		t.Errorf("configured-name impersonation = %+v", r)
	}
	to := ev.acts.Calls("Timeout")
	if len(to) != 2 || to[0].User != "imp" || !to[0].Until.Equal(start.Add(time.Hour)) ||
		to[0].Cause.Function != audit.FuncImpersonation || to[0].Cause.Quiet != audit.QuietDetail {
		t.Fatalf("timeouts = %+v", to)
	}

	// The same name seen again is not recorded twice.
	ev.feed(ev.rename("imp", "global_name", "x", "AIice", "AIice"))
	if n := len(ev.records(audit.SecurityEvent)); n != 2 {
		t.Fatalf("%d SECURITY_EVENT records after a repeat, want 2", n)
	}
}

func TestImpersonationActions(t *testing.T) {
	for _, tt := range []struct {
		action, method, act string
	}{
		{moderation.ActionFlag, "", moderation.ActFlag},
		{moderation.ActionKick, "Kick", moderation.ActKick},
		{moderation.ActionBan, "Ban", moderation.ActBan},
	} {
		t.Run(tt.action, func(t *testing.T) {
			ev := newEnv(t, moderation.BuiltinDefaults())
			ev.settings(func(s *settings.Community) {
				s.Impersonation = &settings.Impersonation{Action: tt.action}
			})
			ev.dir.AddStaff(guild, "owner", "Moderator Max")
			ev.feed(ev.join("imp", "Moderat0r Max"))
			calls := ev.acts.Calls()
			if tt.method == "" && len(calls) != 0 || tt.method != "" && (len(calls) != 1 || calls[0].Method != tt.method) {
				t.Fatalf("calls = %+v", calls)
			}
			sec := ev.records(audit.SecurityEvent)
			if len(sec) != 1 || sec[0].Params.Get(audit.ParamAction) != tt.act {
				t.Fatalf("records = %+v", sec)
			}
		})
	}
}

func TestUnauthorizedIntegration(t *testing.T) {
	ev := newEnv(t, moderation.BuiltinDefaults())
	ev.settings(func(s *settings.Community) {
		s.IntegrationGuard = &settings.IntegrationGuard{Allowlist: []string{"goodbot"}, Kick: ptr(true)}
	})
	good := ev.join("goodbot", "Good Bot")
	good.Params.Set(audit.ParamIsBot, "true")
	bad := ev.join("spambot", "Spam Bot")
	bad.Params.Set(audit.ParamIsBot, "true")
	ev.feed(good, bad)
	// The same bot reported by the audit log is not a second story.
	ctx := context.Background()
	for _, in := range []moderation.Integration{
		{Platform: audit.Discord, Property: guild, Kind: moderation.IntegrationBot, ID: "spambot", Name: "Spam Bot"},
		{Platform: audit.Discord, Property: guild, Kind: moderation.IntegrationWebhook, ID: "wh1", Name: "Captain Hook",
			AddedBy: "u5", ChannelID: "chan1"},
		{Platform: audit.Discord, Property: guild, Kind: moderation.IntegrationWebhook, ID: "goodbot"},
	} {
		if err := ev.eng.OnIntegration(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	ev.flush()

	sec := ev.records(audit.SecurityEvent)
	if len(sec) != 2 {
		t.Fatalf("%d SECURITY_EVENT records, want 2: %+v", len(sec), sec)
	}
	byTarget := map[string]*audit.Event{}
	for _, r := range sec {
		if r.Params.Get(audit.ParamKind) != audit.KindUnauthorizedIntegration || r.Function != audit.FuncIntegrationGuard {
			t.Errorf("record = %+v", r)
		}
		byTarget[r.Target()] = r
	}
	if r := byTarget["spambot"]; r == nil || r.Params.Get(audit.ParamAction) != moderation.ActKick ||
		r.Params.Get(moderation.ParamIntegration) != moderation.IntegrationBot {
		t.Errorf("bot record = %+v", r)
	}
	if r := byTarget["wh1"]; r == nil || r.Params.Get(audit.ParamWebhookID) != "wh1" ||
		r.Params.Get(audit.ParamAction) != moderation.ActNone || len(r.TargetIDs) != 2 || r.TargetIDs[1] != "u5" {
		t.Errorf("webhook record = %+v", r)
	}
	if kicks := ev.acts.Calls("Kick"); len(kicks) != 1 || kicks[0].User != "spambot" || kicks[0].Cause.Quiet != audit.QuietDetail {
		t.Errorf("kicks = %+v", kicks)
	}
}

func TestRaidOf1000Joins(t *testing.T) {
	ev := newEnv(t, moderation.BuiltinDefaults())
	ev.settings(func(s *settings.Community) { s.RaidGuard = &settings.RaidGuard{Joins: 20, WindowSeconds: 10} })
	ctx := context.Background()
	commit := func(e *audit.Event) *audit.Event {
		t.Helper()
		if err := ev.rec.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		ev.eng.Committed([]*audit.Event{e})
		return e
	}
	// A member joining long before the raid is held, then routed as usual.
	early := commit(ev.join("early", "Early Bird"))
	if v := ev.eng.LogVerdict(early); v != logchannel.Hold {
		t.Fatalf("a fresh join's verdict is %v, want Hold", v)
	}
	ev.clock.Advance(time.Minute)
	if v := ev.eng.LogVerdict(early); v != logchannel.Post {
		t.Fatalf("an old join's verdict is %v, want Post", v)
	}
	// One joining three seconds before the raid is inside its window but
	// not a raider.
	before := commit(ev.join("before", "Just Before"))
	ev.clock.Advance(3 * time.Second)
	var raiders []*audit.Event
	for i := range 1000 {
		raiders = append(raiders, commit(ev.join("raider"+strconv.Itoa(i), "raider")))
		if i%10 == 9 {
			ev.clock.Advance(100 * time.Millisecond) // 100 joins a second
		}
	}
	ev.flush()
	if !ev.eng.InRaid(audit.Discord, guild) || ev.eng.RaidsInProgress()[audit.Discord] != 1 {
		t.Fatal("not in a raid after 1000 joins in 10 s")
	}
	// The raid was recorded when it was detected, in progress.
	ev.eventually("the raid's first record", func() bool { return len(ev.records(audit.SecurityEvent)) > 0 })
	sec := ev.records(audit.SecurityEvent)
	first := sec[len(sec)-1]
	id := first.Params.Get(moderation.ParamRaidID)
	if first.Params.Get(moderation.ParamRaidStatus) != moderation.RaidActive || id == "" ||
		first.Params.Get(audit.ParamKind) != audit.KindJoinRaid || first.TargetIDs[0] != "raider0" {
		t.Fatalf("first raid record %+v", first)
	}
	for _, r := range raiders {
		if v := ev.eng.LogVerdict(r); v != logchannel.Drop {
			t.Fatalf("raider %s: verdict %v, want Drop", r.ActorID, v)
		}
	}
	if v := ev.eng.LogVerdict(before); v != logchannel.Post {
		t.Fatalf("the member who joined before the raid: verdict %v, want Post", v)
	}
	// Quiet: the raid ends within one window.
	ev.clock.Advance(11 * time.Second)
	ended := func() []*audit.Event {
		var out []*audit.Event
		for _, r := range ev.records(audit.SecurityEvent) {
			if r.Params.Get(moderation.ParamRaidStatus) == moderation.RaidEnded {
				out = append(out, r)
			}
		}
		return out
	}
	ev.eventually("the raid's end", func() bool { return len(ended()) > 0 })
	ev.clock.Advance(time.Minute)
	ev.flush()
	if e := ended(); len(e) != 1 || e[0].Params.Get(audit.ParamCount) != "1000" ||
		e[0].Params.Get(moderation.ParamRaidID) != id || e[0].Function != audit.FuncRaidGuard {
		t.Fatalf("ended records %+v", e)
	}
	for _, r := range ev.records(audit.SecurityEvent) {
		if r.Params.Get(moderation.ParamRaidID) != id {
			t.Fatalf("a record of another raid: %+v", r)
		}
	}
	if got := ended()[0].Params.Get(audit.ParamDuration); got != "10s" {
		t.Errorf("duration = %q, want 10s", got)
	}
	members, err := ev.eng.RaidMembers(ctx, audit.Discord, guild, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 1000 || members[0] != "raider0" || members[999] != "raider999" ||
		slices.Contains(members, "before") || slices.Contains(members, "early") {
		t.Fatalf("%d raid members, first %q", len(members), members[0])
	}
	if n := len(ev.records(audit.UserJoin)); n != 1002 {
		t.Fatalf("%d USER_JOIN records, want 1002", n)
	}
	// After the raid its joins are still dropped, others posted.
	if v := ev.eng.LogVerdict(raiders[500]); v != logchannel.Drop {
		t.Errorf("a raider's verdict after the raid: %v", v)
	}
	late := commit(ev.join("late", "Late"))
	ev.clock.Advance(4 * time.Second)
	if v := ev.eng.LogVerdict(late); v != logchannel.Post {
		t.Errorf("a join after the raid: verdict %v", v)
	}
	if ev.eng.InRaid(audit.Discord, guild) || ev.eng.RaidsInProgress()[audit.Discord] != 0 {
		t.Error("still in a raid")
	}
	// No impersonation or integration work was done for the raid's plain joins.
	if calls := ev.acts.Calls(); len(calls) != 0 {
		t.Errorf("actions = %d", len(calls))
	}
}

// gatedActions blocks DeleteMessage until the gate opens.
type gatedActions struct {
	*moderationtest.Actions
	gate chan struct{}
}

func (g gatedActions) DeleteMessage(ctx context.Context, property, channel, message string, c platform.Cause) error {
	<-g.gate
	return g.Actions.DeleteMessage(ctx, property, channel, message, c)
}

func TestQueueWithoutKVWaitsForRoom(t *testing.T) {
	d := moderation.BuiltinDefaults()
	d.LinkFilter.Denylist = []string{"evil.com"}
	ev := newEnv(t, d, func(o *moderation.Options) { o.QueueSize, o.KV = 2, nil })
	gate := make(chan struct{})
	ev.eng.Attach(gatedActions{ev.acts, gate}, ev.dir)
	ctx := context.Background()
	var msgs []*audit.Event
	for range 3 {
		m := ev.message("u1", "evil.com")
		msgs = append(msgs, m)
		if err := ev.rec.Record(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// The first job runs (blocked in DeleteMessage), two more fill the queue.
	for _, m := range msgs {
		if err := ev.eng.Handle(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	full := ev.message("u1", "evil.com")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	// Either the worker already took a job (room for one) or the queue is
	// full: keep adding until Handle waits for room.
	var err error
	for range 3 {
		if err = ev.eng.Handle(short, full); err != nil {
			break
		}
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Handle on a full queue = %v, want to wait until the deadline", err)
	}
	// A waiting Handle gets in once there is room; nothing is dropped.
	done := make(chan error, 1)
	last := ev.message("u1", "evil.com")
	go func() { done <- ev.eng.Handle(ctx, last) }()
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ev.flush()
	if n := len(ev.acts.Calls("DeleteMessage")); n < 4 {
		t.Fatalf("%d deletes, want every queued message", n)
	}
}

// A flood through the recorder's subscriber while the platform is slow:
// the queue spills instead of blocking the subscriber (which would stall
// every commit, including the actions' own records), and nothing is lost.
func TestFloodSpillsInsteadOfStallingTheRecorder(t *testing.T) {
	d := moderation.BuiltinDefaults()
	d.LinkFilter.Denylist = []string{"evil.com"}
	ev := newEnv(t, d, func(o *moderation.Options) { o.QueueSize = 2 })
	gate := make(chan struct{})
	ev.eng.Attach(gatedActions{ev.acts, gate}, ev.dir)
	ev.rec.Subscribe(ev.eng.Committed)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const n = 300
	for i := range n {
		// One commit each: far more batches than the recorder buffers for
		// a stalled subscriber.
		if err := ev.rec.Record(ctx, ev.message("u"+strconv.Itoa(i%7), "https://evil.com/"+strconv.Itoa(i))); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	close(gate)
	ev.eventually("every message moderated", func() bool { return len(ev.records(audit.ModerationLink)) == n })
	ev.flush()
	if got := len(ev.records(audit.ChatMessageDelete)); got != n {
		t.Fatalf("%d deletes recorded, want %d", got, n)
	}
}

func TestCommittedSubscriber(t *testing.T) {
	d := moderation.BuiltinDefaults()
	d.LinkFilter.Denylist = []string{"evil.com"}
	ev := newEnv(t, d)
	ev.rec.Subscribe(ev.eng.Committed)
	if err := ev.rec.Record(context.Background(), ev.message("u1", "https://evil.com")); err != nil {
		t.Fatal(err)
	}
	ev.eventually("the MODERATION_LINK record", func() bool { return len(ev.records(audit.ModerationLink)) == 1 })
	ev.flush()
	if n := len(ev.records(audit.ChatMessageDelete)); n != 1 {
		t.Fatalf("%d CHAT_MESSAGE_DELETE records, want 1", n)
	}
}

func TestClosedEngineRefusesWork(t *testing.T) {
	ev := newEnv(t, moderation.BuiltinDefaults())
	if err := ev.eng.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := ev.eng.Handle(context.Background(), ev.join("u1", "x"))
	if !errors.Is(err, moderation.ErrClosed) {
		t.Fatalf("Handle after Close = %v", err)
	}
}

func TestTelegramGroup(t *testing.T) {
	const chat = "-1001234567890"
	d := moderation.BuiltinDefaults()
	d.LinkFilter.Denylist = []string{"evil.com"}
	d.LinkFilter.Escalate, d.LinkFilter.EscalateAfter = true, 1
	d.Impersonation.Action = moderation.ActionQuarantine
	ev := newEnv(t, d)
	ev.dir.AddStaff(chat, "42", "Grace", "Hopper", "grace_admin")

	photo := &audit.Event{Platform: audit.Telegram, PropertyID: chat, Type: audit.ChatMessage, PlatformType: "message",
		Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: "7", ActorName: "Mallory",
		ChannelID: chat, MessageID: "501", Content: "nice photo (caption)"}
	photo.Params.Set(moderation.ParamTextLinks, "https://login.evil.com/steal")
	rename := &audit.Event{Platform: audit.Telegram, PropertyID: chat, Type: audit.UserUpdate, PlatformType: "message",
		Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: "8", TargetIDs: []string{"8"}}
	rename.Params.Set(audit.ParamField, "username")
	rename.Params.Set(audit.ParamOldValue, "eve")
	rename.Params.Set(audit.ParamNewValue, "grace_admln")
	rename.Params.Set(audit.ParamTargetName, "Eve")
	ev.feed(photo, rename)

	if dels := ev.tg.Calls("DeleteMessage"); len(dels) != 1 || dels[0].Message != "501" || dels[0].Channel != chat {
		t.Fatalf("deletes = %+v", dels)
	}
	to := ev.tg.Calls("Timeout")
	if len(to) != 2 || to[0].User != "7" || to[0].Cause.Function != audit.FuncLinkFilter ||
		to[1].User != "8" || to[1].Cause.Function != audit.FuncImpersonation {
		t.Fatalf("restrictions = %+v", to)
	}
	if recs := ev.recordsOf(audit.Telegram, chat, audit.ModerationLink); len(recs) != 1 ||
		recs[0].Params.Get(audit.ParamDomain) != "login.evil.com" {
		t.Fatalf("MODERATION_LINK = %+v", recs)
	}
	sec := ev.recordsOf(audit.Telegram, chat, audit.SecurityEvent)
	if len(sec) != 1 || sec[0].Params.Get(audit.ParamMatchedName) != "grace_admin" ||
		sec[0].Params.Get(audit.ParamField) != "username" {
		t.Fatalf("SECURITY_EVENT = %+v", sec)
	}
	if len(ev.acts.Calls()) != 0 {
		t.Error("Discord actions used for a Telegram group")
	}
}

func TestCloseSummarisesARunningRaid(t *testing.T) {
	d := moderation.BuiltinDefaults()
	d.RaidGuard.Joins = 3
	ev := newEnv(t, d)
	for i := range 5 {
		ev.feed(ev.join("r"+strconv.Itoa(i), "r"))
	}
	if !ev.eng.InRaid(audit.Discord, guild) {
		t.Fatal("no raid")
	}
	if err := ev.eng.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var ended []*audit.Event
	for _, r := range ev.records(audit.SecurityEvent) {
		if r.Params.Get(moderation.ParamRaidStatus) == moderation.RaidEnded {
			ended = append(ended, r)
		}
	}
	if len(ended) != 1 || ended[0].Params.Get(audit.ParamCount) != "5" {
		t.Fatalf("records = %+v", ended)
	}
}

// TestLinkFilterReadsWithheldText: in a community that does not store
// message text, the content policy moves it to Event.Withheld; the link
// filter still finds the link there.
func TestLinkFilterReadsWithheldText(t *testing.T) {
	d := moderation.BuiltinDefaults()
	d.LinkFilter.Denylist = []string{"evil.com"}
	ev := newEnv(t, d)
	msg := ev.message("u1", "")
	msg.Withheld = "my secret words and https://login.evil.com/x"
	ev.feed(msg)
	if dels := ev.acts.Calls("DeleteMessage"); len(dels) != 1 || dels[0].Message != msg.MessageID {
		t.Fatalf("delete calls = %+v", dels)
	}
	mod := ev.records(audit.ModerationLink)
	if len(mod) != 1 || mod[0].Params.Get(audit.ParamDomain) != "login.evil.com" || mod[0].Content != "" {
		t.Fatalf("MODERATION_LINK records = %+v", mod)
	}
}

// Issue 18: with no list, a look-alike is removed and its record says
// which brand it imitates.
func TestLookalikeRecord(t *testing.T) {
	ev := newEnv(t, moderation.BuiltinDefaults())
	bad := ev.message("u1", "nitro for everyone https://dіscord-s.com/gift")
	good := ev.message("u1", "see https://discord.com/channels/1/2 and https://github.com/x")
	ev.feed(bad, good)
	mod := ev.records(audit.ModerationLink)
	if len(mod) != 1 || mod[0].MessageID != bad.MessageID {
		t.Fatalf("MODERATION_LINK records = %+v", mod)
	}
	for k, v := range map[string]string{
		audit.ParamRule: moderation.RuleLookalike, moderation.ParamMatched: "discord.com",
		audit.ParamDomain: "xn--dscord-s-thh.com", audit.ParamURL: "https://xn--dscord-s-thh.com/gift",
	} {
		if got := mod[0].Params.Get(k); got != v {
			t.Errorf("MODERATION_LINK %s = %q, want %q", k, got, v)
		}
	}
}

// TestImpersonationComparesWholeNames: a staff member's first name alone
// is not protected when their name is longer ("Alice" is not "Alice
// Admin"), nor is a member's first name alone compared; the alert names
// the staff name matched.
func TestImpersonationComparesWholeNames(t *testing.T) {
	const chat = "-1001234567891"
	ev := newEnv(t, moderation.BuiltinDefaults())
	ev.dir.AddStaff(chat, "42", "Alice Admin", "alice_admin")
	ev.dir.AddStaff(chat, "43", "Bob")
	join := func(user, name string) *audit.Event {
		return &audit.Event{Platform: audit.Telegram, PropertyID: chat, Type: audit.UserJoin, PlatformType: "chat_member",
			Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: user, ActorName: name}
	}
	rename := func(user, field, value, whole string) *audit.Event {
		e := &audit.Event{Platform: audit.Telegram, PropertyID: chat, Type: audit.UserUpdate, PlatformType: "message",
			Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: user, TargetIDs: []string{user}}
		e.Params.Set(audit.ParamField, field)
		e.Params.Set(audit.ParamNewValue, value)
		e.Params.Set(audit.ParamTargetName, whole)
		return e
	}
	ev.feed(join("7", "Alice"), rename("8", "first_name", "Bob", "Bob Smith"))
	if sec := ev.recordsOf(audit.Telegram, chat, audit.SecurityEvent); len(sec) != 0 {
		t.Fatalf("part of a name flagged: %+v", sec[0].Params)
	}
	ev.feed(join("9", "Аlice Admin")) // a Cyrillic А
	sec := ev.recordsOf(audit.Telegram, chat, audit.SecurityEvent)
	if len(sec) != 1 || sec[0].Params.Get(audit.ParamMatchedName) != "Alice Admin" ||
		!slices.Equal(sec[0].TargetIDs, []string{"9", "42"}) {
		t.Fatalf("alerts %+v", sec)
	}
}

// A bot's join is held from log channels until the integration guard has
// looked at it, then dropped when it raised an alert (the alert tells the
// join) and posted when the bot is allowed.
func TestBotJoinIsToldByItsAlert(t *testing.T) {
	ev := newEnv(t, moderation.BuiltinDefaults())
	ev.settings(func(s *settings.Community) {
		s.IntegrationGuard = &settings.IntegrationGuard{Allowlist: []string{"goodbot"}}
	})
	ctx := context.Background()
	commit := func(e *audit.Event) *audit.Event {
		t.Helper()
		if err := ev.rec.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		ev.eng.Committed([]*audit.Event{e})
		return e
	}
	bot := func(id string) *audit.Event {
		e := ev.join(id, id)
		e.Params.Set(audit.ParamIsBot, "true")
		return e
	}
	bad, good := commit(bot("spambot")), commit(bot("goodbot"))
	ev.flush()
	// Past the raid guard's hold, only the integration guard's verdict
	// is left.
	ev.clock.Advance(time.Minute)
	if v := ev.eng.LogVerdict(bad); v != logchannel.Drop {
		t.Errorf("the join of a bot the guard alerted on: verdict %v, want Drop", v)
	}
	if v := ev.eng.LogVerdict(bad); v != logchannel.Drop {
		t.Errorf("asked again (another log channel): verdict %v, want Drop", v)
	}
	if v := ev.eng.LogVerdict(good); v != logchannel.Post {
		t.Errorf("the join of an allowed bot: verdict %v, want Post", v)
	}
	if n := len(ev.records(audit.SecurityEvent)); n != 1 {
		t.Errorf("%d alerts, want 1", n)
	}
}
