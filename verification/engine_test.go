package verification_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/moderation/moderationtest"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
	"github.com/chatwarden/chatwarden/verification"
)

const (
	guild = "900000000000000001"
	chat  = "-1001234567890"
)

var start = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	st    *store.Store
	rec   *recorder.Recorder
	clock *moderationtest.Clock
	dir   *moderationtest.Directory
	acts  map[audit.Platform]*moderationtest.Actions
	eng   *verification.Engine
	// engineRec, when set, is the recorder the engine records through
	// (default rec), and actionTimeout its ActionTimeout.
	engineRec     verification.Recorder
	actionTimeout time.Duration
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "test.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ev := &env{t: t, st: st, clock: moderationtest.NewClock(start), dir: moderationtest.NewDirectory()}
	ev.rec = recorder.New(st, recorder.Options{})
	ev.acts = map[audit.Platform]*moderationtest.Actions{
		audit.Discord:  moderationtest.NewActions(audit.Discord, ev.rec),
		audit.Telegram: moderationtest.NewActions(audit.Telegram, ev.rec),
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if ev.eng != nil {
			if err := ev.eng.Close(ctx); err != nil {
				t.Error(err)
			}
		}
		if err := ev.rec.Close(ctx); err != nil {
			t.Error(err)
		}
		st.Close()
	})
	ev.start()
	return ev
}

// start starts a new engine instance on the same store (a restart).
func (ev *env) start() {
	ev.t.Helper()
	var rec verification.Recorder = ev.rec
	if ev.engineRec != nil {
		rec = ev.engineRec
	}
	eng, err := verification.New(context.Background(), verification.Options{
		KV: ev.st, Settings: ev.st, Recorder: rec, Defaults: verification.BuiltinDefaults(), Clock: ev.clock,
		ActionTimeout: ev.actionTimeout,
		Logger:        zerolog.New(zerolog.NewTestWriter(ev.t)).Level(zerolog.WarnLevel),
	})
	if err != nil {
		ev.t.Fatal(err)
	}
	ev.eng = eng
	for _, a := range ev.acts {
		eng.Attach(a, ev.dir)
	}
}

// stop closes the engine instance.
func (ev *env) stop() {
	ev.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ev.eng.Close(ctx); err != nil {
		ev.t.Fatal(err)
	}
	ev.eng = nil
}

func (ev *env) configure(p audit.Platform, property string, v settings.Verification) {
	ev.t.Helper()
	on := true
	v.Enabled = &on
	if _, _, err := ev.st.UpdateSettings(context.Background(), p, property, func(s *settings.Community) error {
		s.Verification = &v
		return nil
	}); err != nil {
		ev.t.Fatal(err)
	}
}

// feed records gateway events and hands them to the engine, as a platform
// does after commit.
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
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := ev.eng.Flush(ctx); err != nil {
		ev.t.Fatal(err)
	}
}

func joinEvent(p audit.Platform, property, user, name string) *audit.Event {
	return &audit.Event{Platform: p, PropertyID: property, Type: audit.UserJoin, PlatformType: "join",
		Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: user, ActorName: name}
}

func (ev *env) press(property, user, data string) verification.Reply {
	ev.t.Helper()
	r, err := ev.eng.OnPress(context.Background(), property, user, data)
	if err != nil {
		ev.t.Fatalf("OnPress: %v", err)
	}
	return r
}

func (ev *env) records(p audit.Platform, property string, typ audit.EventType) []*audit.Event {
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

func (ev *env) pending(p audit.Platform, property string) []verification.Challenge {
	ev.t.Helper()
	cs, err := ev.eng.Pending(p, property)
	if err != nil {
		ev.t.Fatal(err)
	}
	return cs
}

var sumRE = regexp.MustCompile(`What is (\d+) \+ (\d+)\?`)

// pick returns the right (or a wrong) answer button of a shown question.
func pick(t *testing.T, text string, buttons []platform.Button, right bool) platform.Button {
	t.Helper()
	if len(buttons) == 1 {
		if !right {
			t.Fatal("the button kind has no wrong answer")
		}
		return buttons[0]
	}
	m := sumRE.FindStringSubmatch(text)
	if m == nil || len(buttons) != 4 {
		t.Fatalf("no math question in %q with %d buttons", text, len(buttons))
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	for _, btn := range buttons {
		if (btn.Label == strconv.Itoa(a+b)) == right {
			return btn
		}
	}
	t.Fatalf("no fitting answer among %+v", buttons)
	return platform.Button{}
}

func checkParams(t *testing.T, e *audit.Event, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := e.Params.Get(k); got != v {
			t.Errorf("%s %s = %q, want %q", e.Type, k, got, v)
		}
	}
}

func TestDiscordButtonPasses(t *testing.T) {
	ev := newEnv(t)
	ev.configure(audit.Discord, guild, settings.Verification{ChannelID: "verify", RoleID: "verified"})
	acts := ev.acts[audit.Discord]
	ev.feed(joinEvent(audit.Discord, guild, "u1", "Newcomer"))
	if p := ev.pending(audit.Discord, guild); len(p) != 1 || p[0].Stage != verification.StageWaiting || !p[0].Enforce {
		t.Fatalf("pending = %+v", p)
	}
	msg, err := ev.eng.PostPrompt(context.Background(), audit.Discord, guild)
	if err != nil {
		t.Fatal(err)
	}
	sends := acts.Calls("Send")
	if len(sends) != 1 || sends[0].Channel != "verify" || sends[0].Message != msg || len(sends[0].Sent.Buttons) != 1 {
		t.Fatalf("prompt = %+v", sends)
	}
	verify := sends[0].Sent.Buttons[0].Data

	ev.clock.Advance(20 * time.Second)
	r := ev.press(guild, "u1", verify)
	if r.Update || len(r.Buttons) != 1 || !strings.Contains(r.Text, "confirm") {
		t.Fatalf("challenge reply = %+v", r)
	}
	ev.clock.Advance(10 * time.Second)
	r = ev.press(guild, "u1", pick(t, r.Text, r.Buttons, true).Data)
	if !r.Update || !strings.Contains(r.Text, "verified") || len(r.Buttons) != 0 {
		t.Fatalf("success reply = %+v", r)
	}
	if roles := acts.Calls("AddRole"); len(roles) != 1 || roles[0].User != "u1" || roles[0].Role != "verified" ||
		roles[0].Cause.Function != audit.FuncVerification || roles[0].Cause.Quiet != audit.QuietDetail {
		t.Fatalf("AddRole calls = %+v", roles)
	}
	recs := ev.records(audit.Discord, guild, audit.VerificationSuccess)
	if len(recs) != 1 {
		t.Fatalf("%d VERIFICATION_SUCCESS records", len(recs))
	}
	checkParams(t, recs[0], map[string]string{audit.ParamVerifyKind: "BUTTON", audit.ParamAttempts: "1",
		audit.ParamTimeTaken: "30s", audit.ParamAction: "ROLE", audit.ParamOutcome: "DONE", audit.ParamTargetName: "Newcomer"})
	if recs[0].Target() != "u1" || recs[0].Function != audit.FuncVerification || recs[0].ActorType != audit.ActorBot {
		t.Errorf("record = %+v", recs[0])
	}
	if p := ev.pending(audit.Discord, guild); len(p) != 0 {
		t.Fatalf("still pending: %+v", p)
	}
	// The deadline passing later changes nothing.
	ev.clock.Advance(10 * time.Minute)
	time.Sleep(20 * time.Millisecond)
	if n := len(acts.Calls("Kick")); n != 0 || len(ev.records(audit.Discord, guild, audit.VerificationFailure)) != 0 {
		t.Fatal("a verified member was failed")
	}
}

func TestDiscordMathFailsByWrongAnswers(t *testing.T) {
	ev := newEnv(t)
	ev.configure(audit.Discord, guild, settings.Verification{ChannelID: "verify", RoleID: "verified",
		Kind: verification.KindMath, MaxAttempts: 3})
	acts := ev.acts[audit.Discord]
	ev.feed(joinEvent(audit.Discord, guild, "u1", "Guesser"))
	if _, err := ev.eng.PostPrompt(context.Background(), audit.Discord, guild); err != nil {
		t.Fatal(err)
	}
	verify := acts.Calls("Send")[0].Sent.Buttons[0].Data

	r := ev.press(guild, "u1", verify)
	first := r
	var seen []string
	for i := range 3 {
		seen = append(seen, r.Buttons[0].Data)
		ev.clock.Advance(5 * time.Second)
		r = ev.press(guild, "u1", pick(t, r.Text, r.Buttons, false).Data)
		if !r.Update {
			t.Fatalf("answer %d: reply is not an update: %+v", i, r)
		}
		if i < 2 {
			if !strings.Contains(r.Text, fmt.Sprintf("%d attempt", 2-i)) || len(r.Buttons) != 4 {
				t.Fatalf("answer %d: reply %+v", i, r)
			}
			if r.Buttons[0].Data == seen[len(seen)-1] {
				t.Fatal("the retry kept the old buttons")
			}
		}
	}
	if !strings.Contains(r.Text, "failed") {
		t.Fatalf("final reply = %+v", r)
	}
	// The first question's right answer no longer counts.
	if r := ev.press(guild, "u1", pick(t, first.Text, first.Buttons, true).Data); !strings.Contains(r.Text, "ended") {
		t.Errorf("late press = %+v", r)
	}
	kicks := acts.Calls("Kick")
	if len(kicks) != 1 || kicks[0].User != "u1" || kicks[0].Cause.Function != audit.FuncVerification ||
		kicks[0].Cause.Quiet != audit.QuietDetail {
		t.Fatalf("kicks = %+v", kicks)
	}
	if n := len(acts.Calls("AddRole")); n != 0 {
		t.Fatalf("%d roles granted", n)
	}
	recs := ev.records(audit.Discord, guild, audit.VerificationFailure)
	if len(recs) != 1 {
		t.Fatalf("%d VERIFICATION_FAILURE records", len(recs))
	}
	checkParams(t, recs[0], map[string]string{audit.ParamVerifyKind: "MATH", audit.ParamAttempts: "3",
		audit.ParamReason: audit.ReasonWrongAnswer, audit.ParamAction: "KICK", audit.ParamTimeTaken: "15s"})
	if len(ev.records(audit.Discord, guild, audit.UserRemove)) != 1 {
		t.Error("the kick was not recorded")
	}
}

func TestTelegramPassesAndOthersCannotPress(t *testing.T) {
	ev := newEnv(t)
	ev.configure(audit.Telegram, chat, settings.Verification{Kind: verification.KindMath})
	acts := ev.acts[audit.Telegram]
	j := joinEvent(audit.Telegram, chat, "111", "Ann")
	j.MessageID = "join1"
	ev.feed(j)

	to := acts.Calls("Timeout")
	if len(to) != 1 || to[0].User != "111" || !to[0].Until.After(start.Add(5*time.Minute)) {
		t.Fatalf("restrictions = %+v", to)
	}
	sends := acts.Calls("Send")
	if len(sends) != 1 || sends[0].Channel != chat || sends[0].Sent.Mention != "111" ||
		!strings.Contains(sends[0].Sent.Text, "Ann") || sends[0].Sent.ReplyTo != "join1" || len(sends[0].Sent.Buttons) != 4 {
		t.Fatalf("challenge = %+v", sends)
	}
	for _, b := range sends[0].Sent.Buttons {
		if len(b.Data) > verification.MaxDataLen {
			t.Fatalf("button data of %d bytes", len(b.Data))
		}
	}
	right := pick(t, sends[0].Sent.Text, sends[0].Sent.Buttons, true)

	// Another member, another group, junk: refused, nothing changes.
	for _, tt := range []struct{ property, user, data, want string }{
		{chat, "222", right.Data, "someone else"},
		{"-100999", "111", right.Data, "someone else"},
		{chat, "111", right.Data[:len(right.Data)-2] + "AA", "someone else"},
		{chat, "111", "page:older:1", "not valid"},
	} {
		if r := ev.press(tt.property, tt.user, tt.data); !strings.Contains(r.Text, tt.want) || r.Update {
			t.Errorf("press by %s in %s: %+v, want %q", tt.user, tt.property, r, tt.want)
		}
	}
	if p := ev.pending(audit.Telegram, chat); len(p) != 1 || p[0].Attempts != 0 {
		t.Fatalf("pending after refused presses = %+v", p)
	}

	ev.clock.Advance(7 * time.Second)
	r := ev.press(chat, "111", right.Data)
	if r.Update || !strings.Contains(r.Text, "verified") {
		t.Fatalf("success reply = %+v", r)
	}
	if lifted := acts.Calls("RemoveTimeout"); len(lifted) != 1 || lifted[0].User != "111" {
		t.Fatalf("RemoveTimeout calls = %+v", lifted)
	}
	dels := acts.Calls("DeleteMessage")
	if len(dels) != 1 || dels[0].Message != sends[0].Message {
		t.Fatalf("deleted %+v, want the challenge %s only", dels, sends[0].Message)
	}
	recs := ev.records(audit.Telegram, chat, audit.VerificationSuccess)
	if len(recs) != 1 {
		t.Fatalf("%d VERIFICATION_SUCCESS records", len(recs))
	}
	checkParams(t, recs[0], map[string]string{audit.ParamVerifyKind: "MATH", audit.ParamAttempts: "1",
		audit.ParamTimeTaken: "7s", audit.ParamAction: "UNRESTRICT"})
	// Pressing again after the end.
	if r := ev.press(chat, "111", right.Data); !strings.Contains(r.Text, "ended") {
		t.Errorf("press after success = %+v", r)
	}
}

func TestTelegramTimeoutAcrossRestart(t *testing.T) {
	ev := newEnv(t)
	ev.configure(audit.Telegram, chat, settings.Verification{TimeoutSeconds: 120})
	j := joinEvent(audit.Telegram, chat, "111", "Sleepy")
	j.MessageID = "join1"
	ev.feed(j)
	ev.clock.Advance(90 * time.Second)
	late := joinEvent(audit.Telegram, chat, "333", "Later")
	late.MessageID = "join3"
	ev.feed(late)
	challenge := ev.acts[audit.Telegram].Calls("Send")[0].Message

	// The bot goes down; the first deadline passes while it is down.
	ev.stop()
	ev.clock.Advance(60 * time.Second)
	ev.acts[audit.Telegram] = moderationtest.NewActions(audit.Telegram, ev.rec)
	acts := ev.acts[audit.Telegram]
	ev.start()

	ev.eventually("the overdue deadline", func() bool {
		return len(ev.records(audit.Telegram, chat, audit.VerificationFailure)) == 1 &&
			len(ev.pending(audit.Telegram, chat)) == 1
	})
	kicks := acts.Calls("Kick")
	if len(kicks) != 1 || kicks[0].User != "111" {
		t.Fatalf("kicks = %+v", kicks)
	}
	var deleted []string
	for _, d := range acts.Calls("DeleteMessage") {
		deleted = append(deleted, d.Message)
	}
	if strings.Join(deleted, ",") != challenge+",join1" {
		t.Fatalf("deleted %v, want the challenge %s and the join message", deleted, challenge)
	}
	rec := ev.records(audit.Telegram, chat, audit.VerificationFailure)[0]
	checkParams(t, rec, map[string]string{audit.ParamReason: audit.ReasonTimeout, audit.ParamAttempts: "0",
		audit.ParamVerifyKind: "BUTTON", audit.ParamAction: "KICK", audit.ParamTimeTaken: "2m30s"})

	// The second member's deadline, still ahead at the restart, fires on time.
	if p := ev.pending(audit.Telegram, chat); len(p) != 1 || p[0].User != "333" {
		t.Fatalf("pending = %+v", p)
	}
	ev.clock.Advance(59 * time.Second)
	time.Sleep(20 * time.Millisecond)
	if n := len(ev.records(audit.Telegram, chat, audit.VerificationFailure)); n != 1 {
		t.Fatalf("a deadline fired early")
	}
	ev.clock.Advance(time.Second)
	ev.eventually("the second deadline", func() bool {
		return len(ev.records(audit.Telegram, chat, audit.VerificationFailure)) == 2 &&
			len(ev.pending(audit.Telegram, chat)) == 0
	})
}

func TestDiscordTimeoutBans(t *testing.T) {
	ev := newEnv(t)
	ev.configure(audit.Discord, guild, settings.Verification{RoleID: "verified", FailAction: verification.FailBan})
	ev.feed(joinEvent(audit.Discord, guild, "u1", "Idle"))
	ev.clock.Advance(5 * time.Minute)
	ev.eventually("the deadline", func() bool {
		return len(ev.records(audit.Discord, guild, audit.VerificationFailure)) == 1
	})
	if bans := ev.acts[audit.Discord].Calls("Ban"); len(bans) != 1 || bans[0].User != "u1" {
		t.Fatalf("bans = %+v", bans)
	}
}

// slowCommits is a recorder under load: a record is queued at once and
// committed after delay, whatever the caller's deadline; a caller whose
// context ends first gets an error although its record is committed
// (as recorder.Recorder answers "waiting for commit").
type slowCommits struct {
	inner *recorder.Recorder
	delay time.Duration
}

func (s slowCommits) Record(ctx context.Context, events ...*audit.Event) error {
	done := make(chan error, 1)
	go func() {
		time.Sleep(s.delay)
		done <- s.inner.Record(context.Background(), events...)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("record: waiting for commit: %w", ctx.Err())
	}
}

func (s slowCommits) SubmitState(ctx context.Context, done func(error), state []recorder.State, events ...*audit.Event) error {
	go func() {
		time.Sleep(s.delay)
		if err := s.inner.SubmitState(context.Background(), done, state, events...); err != nil {
			done(err)
		}
	}()
	return nil
}

// TestSlowCommitRecordsTheResultOnce: a result whose commit outlasts the
// action deadline is recorded once, not again by the retry.
func TestSlowCommitRecordsTheResultOnce(t *testing.T) {
	ev := newEnv(t)
	ev.stop()
	ev.engineRec = slowCommits{inner: ev.rec, delay: 200 * time.Millisecond}
	ev.actionTimeout = 20 * time.Millisecond
	ev.start()
	ev.configure(audit.Discord, guild, settings.Verification{RoleID: "verified"})
	ev.feed(joinEvent(audit.Discord, guild, "u1", "Idle"))
	ev.clock.Advance(5 * time.Minute)
	ev.eventually("the deadline", func() bool {
		return len(ev.records(audit.Discord, guild, audit.VerificationFailure)) == 1
	})
	ev.eventually("the challenge to be finished", func() bool { return len(ev.pending(audit.Discord, guild)) == 0 })
	ev.clock.Advance(5 * time.Minute) // past any retry of the record
	time.Sleep(400 * time.Millisecond)
	if n := len(ev.records(audit.Discord, guild, audit.VerificationFailure)); n != 1 {
		t.Fatalf("%d VERIFICATION_FAILURE records, want 1", n)
	}
}

func TestLeavingWhilePending(t *testing.T) {
	ev := newEnv(t)
	ev.configure(audit.Telegram, chat, settings.Verification{})
	j := joinEvent(audit.Telegram, chat, "111", "Leaver")
	j.MessageID = "join1"
	ev.feed(j)
	ev.clock.Advance(12 * time.Second)
	leave := &audit.Event{Platform: audit.Telegram, PropertyID: chat, Type: audit.UserRemove, PlatformType: "chat_member",
		Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: "111", TargetIDs: []string{"111"}}
	leave.Params.Set(audit.ParamRemoval, audit.RemovalLeft)
	ev.feed(leave)
	recs := ev.records(audit.Telegram, chat, audit.VerificationFailure)
	if len(recs) != 1 {
		t.Fatalf("%d VERIFICATION_FAILURE records", len(recs))
	}
	checkParams(t, recs[0], map[string]string{audit.ParamReason: audit.ReasonLeft, audit.ParamAction: "NONE",
		audit.ParamTimeTaken: "12s"})
	acts := ev.acts[audit.Telegram]
	if n := len(acts.Calls("Kick", "Ban")); n != 0 {
		t.Errorf("%d removals of a member who left", n)
	}
	if dels := acts.Calls("DeleteMessage"); len(dels) != 1 || dels[0].Message != acts.Calls("Send")[0].Message {
		t.Errorf("deleted %+v, want the challenge only", dels)
	}
	// The later deadline finds nothing.
	ev.clock.Advance(10 * time.Minute)
	time.Sleep(20 * time.Millisecond)
	if n := len(ev.records(audit.Telegram, chat, audit.VerificationFailure)); n != 1 {
		t.Fatalf("%d failures", n)
	}
}

func TestSkipsBotsAndMembersAddedByAdmins(t *testing.T) {
	ev := newEnv(t)
	ev.configure(audit.Telegram, chat, settings.Verification{})
	ev.dir.SetAdmin(chat, "admin1", true)
	byAdmin := joinEvent(audit.Telegram, chat, "111", "Friend")
	byAdmin.Params.Set(verification.ParamAddedBy, "admin1")
	byMember := joinEvent(audit.Telegram, chat, "222", "Friend of a friend")
	byMember.Params.Set(verification.ParamAddedBy, "333")
	aBot := joinEvent(audit.Telegram, chat, "444", "Helper Bot")
	aBot.Params.Set(audit.ParamIsBot, "true")
	ev.feed(byAdmin, byMember, aBot)
	if p := ev.pending(audit.Telegram, chat); len(p) != 1 || p[0].User != "222" {
		t.Fatalf("pending = %+v", p)
	}
	// Joining twice keeps the one challenge.
	ev.feed(byMember)
	if n := len(ev.acts[audit.Telegram].Calls("Send")); n != 1 {
		t.Fatalf("%d challenges posted", n)
	}
}

func TestOffByDefault(t *testing.T) {
	ev := newEnv(t)
	ev.feed(joinEvent(audit.Telegram, chat, "111", "x"), joinEvent(audit.Discord, guild, "u1", "y"))
	if calls := ev.acts[audit.Telegram].Calls(); len(calls) != 0 {
		t.Fatalf("calls = %+v", calls)
	}
	if p := ev.pending(audit.Discord, guild); len(p) != 0 {
		t.Fatalf("pending = %+v", p)
	}
}

func TestPressWithoutJoinDoesNotRemove(t *testing.T) {
	ev := newEnv(t)
	ev.configure(audit.Discord, guild, settings.Verification{ChannelID: "verify", RoleID: "verified",
		Kind: verification.KindMath, MaxAttempts: 1})
	if _, err := ev.eng.PostPrompt(context.Background(), audit.Discord, guild); err != nil {
		t.Fatal(err)
	}
	verify := ev.acts[audit.Discord].Calls("Send")[0].Sent.Buttons[0].Data
	ev.dir.SetNames(guild, "old-member", "oldie", "Old Member")
	r := ev.press(guild, "old-member", verify)
	r = ev.press(guild, "old-member", pick(t, r.Text, r.Buttons, false).Data)
	if !strings.Contains(r.Text, "failed") {
		t.Fatalf("reply = %+v", r)
	}
	if n := len(ev.acts[audit.Discord].Calls("Kick", "Ban")); n != 0 {
		t.Fatal("a member who joined before verification was removed")
	}
	recs := ev.records(audit.Discord, guild, audit.VerificationFailure)
	if len(recs) != 1 {
		t.Fatalf("%d failures recorded", len(recs))
	}
	// The engine never saw a join with the name: the directory told it.
	if got := recs[0].Params[audit.ParamTargetName]; got != "Old Member" {
		t.Errorf("the record names the member %q, want the displayed name", got)
	}
}

func TestDecidedChallengeFinishedAfterCrash(t *testing.T) {
	ev := newEnv(t)
	ev.stop()
	// A challenge decided just before a crash: stored as done, its effects
	// and record never made.
	c := verification.NewChallenge(audit.Discord, guild, "u1", "Lucky", verification.Defaults{Kind: verification.KindButton,
		Timeout: time.Minute, MaxAttempts: 3, FailAction: verification.FailKick, RoleID: "verified"}, start, 7)
	c.Enforce = true
	c.Ask(nil)
	c.Answer(c.Round, 0, start.Add(3*time.Second))
	v, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.st.Put(verification.NSPending, []byte("\x01"+guild+"\x00u1"), v); err != nil {
		t.Fatal(err)
	}
	ev.start()
	ev.eventually("the finished challenge", func() bool {
		return len(ev.records(audit.Discord, guild, audit.VerificationSuccess)) == 1 &&
			len(ev.pending(audit.Discord, guild)) == 0
	})
	if roles := ev.acts[audit.Discord].Calls("AddRole"); len(roles) != 1 {
		t.Fatalf("roles = %+v", roles)
	}
}

// The store counts pending challenges by platform as the engine starts
// and ends them and as erasure removes them: the pending-verifications
// gauge reads that count instead of scanning.
func TestPendingCountFollowsChallenges(t *testing.T) {
	ev := newEnv(t)
	ev.configure(audit.Discord, guild, settings.Verification{RoleID: "verified"})
	ev.configure(audit.Telegram, chat, settings.Verification{})
	count := func(p audit.Platform) int {
		t.Helper()
		n, err := ev.st.KeyCount(verification.NSPending, byte(p))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := func(when string, discord, telegram int) {
		t.Helper()
		if d, tg := count(audit.Discord), count(audit.Telegram); d != discord || tg != telegram {
			t.Fatalf("%s: %d Discord and %d Telegram challenges counted, want %d and %d", when, d, tg, discord, telegram)
		}
		if d, tg := len(ev.pending(audit.Discord, guild)), len(ev.pending(audit.Telegram, chat)); d != discord || tg != telegram {
			t.Fatalf("%s: the engine lists %d and %d pending", when, d, tg)
		}
	}
	want("before any join", 0, 0)
	ev.feed(joinEvent(audit.Discord, guild, "u1", "One"), joinEvent(audit.Discord, guild, "u2", "Two"),
		joinEvent(audit.Telegram, chat, "111", "Three"))
	ev.feed(joinEvent(audit.Discord, guild, "u1", "One")) // joining twice is one challenge
	want("after three members joined", 2, 1)
	leave := &audit.Event{Platform: audit.Telegram, PropertyID: chat, Type: audit.UserRemove, PlatformType: "chat_member",
		Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: "111", TargetIDs: []string{"111"}}
	leave.Params.Set(audit.ParamRemoval, audit.RemovalLeft)
	ev.feed(leave)
	want("after the Telegram member left", 2, 0)
	if _, err := ev.st.Erase(context.Background(), audit.Discord, guild, "u2"); err != nil {
		t.Fatal(err)
	}
	want("after u2 was erased", 1, 0)
	ev.stop()
	ev.start() // a restart reads the challenges back; the count is unchanged
	want("after a restart of the engine", 1, 0)
}

// TestJoinHandledAfterThePassStartsNothing: a member who presses Verify
// before the engine has seen their join passes; the join, handled
// afterwards, starts no second challenge (which would time out and
// remove a verified member). A join after the pass (they left and came
// back) is verified again.
func TestJoinHandledAfterThePassStartsNothing(t *testing.T) {
	ev := newEnv(t)
	ev.configure(audit.Discord, guild, settings.Verification{ChannelID: "verify", RoleID: "verified"})
	if _, err := ev.eng.PostPrompt(context.Background(), audit.Discord, guild); err != nil {
		t.Fatal(err)
	}
	verify := ev.acts[audit.Discord].Calls("Send")[0].Sent.Buttons[0].Data
	join := joinEvent(audit.Discord, guild, "u1", "Quick")
	join.Time = ev.clock.Now()
	ev.clock.Advance(time.Second)
	r := ev.press(guild, "u1", verify)
	if r = ev.press(guild, "u1", pick(t, r.Text, r.Buttons, true).Data); !strings.Contains(r.Text, "verified") {
		t.Fatalf("success reply = %+v", r)
	}
	ev.feed(join)
	if p := ev.pending(audit.Discord, guild); len(p) != 0 {
		t.Fatalf("the late join started a challenge: %+v", p)
	}
	ev.clock.Advance(time.Hour)
	again := joinEvent(audit.Discord, guild, "u1", "Quick")
	again.Time = ev.clock.Now()
	ev.feed(again)
	if p := ev.pending(audit.Discord, guild); len(p) != 1 {
		t.Fatalf("a join after the pass: %d challenges pending, want 1", len(p))
	}
	if n := len(ev.records(audit.Discord, guild, audit.VerificationFailure)); n != 0 {
		t.Fatalf("%d VERIFICATION_FAILURE records", n)
	}
}
