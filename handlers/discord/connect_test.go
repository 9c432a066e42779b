package discord_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/discord"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/store"
)

var newcomer = &discordgo.User{ID: "400000000000000019", Username: "newcomer"}

// sayAll posts n messages and returns their texts.
func (h *harness) sayAll(prefix string, n int) []string {
	var texts []string
	for i := range n {
		text := fmt.Sprintf("%s %d", prefix, i)
		h.fake.Say(guildID, channelID, member, text)
		texts = append(texts, text)
	}
	return texts
}

// recordedOnce fails unless every text is recorded exactly once as a
// CHAT_MESSAGE.
func (h *harness) recordedOnce(texts []string, total int) {
	h.t.Helper()
	n := map[string]int{}
	for _, e := range h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, total) {
		n[e.Content]++
	}
	for _, text := range texts {
		if n[text] != 1 {
			h.t.Errorf("%q recorded %d times, want once", text, n[text])
		}
	}
}

// TestReconnectOpResumes: op 7 RECONNECT (a gateway node restarting) makes
// the bot reconnect and resume; what was dispatched in between arrives
// once, and no new session is started.
func TestReconnectOpResumes(t *testing.T) {
	h, err := start(t, discordtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := h.sayAll("before", 5)
	if h.fake.Reconnect() != 1 {
		t.Fatal("no live socket to send op 7 on")
	}
	after := h.sayAll("after", 20)
	h.recordedOnce(append(before, after...), 25)
	if h.fake.Resumes() < 1 {
		t.Fatal("the bot did not resume after op 7")
	}
	if n := len(h.fake.Identifies()); n != 1 {
		t.Fatalf("%d identifies after op 7: a resume must not start a new session", n)
	}
	waitFor(t, "the bot connected again", h.b.Connected)
}

// TestInvalidSessionIdentifiesAgain: op 9 INVALID_SESSION (not resumable)
// makes the bot identify again; events after the new READY are recorded,
// and the guild is still known (GUILD_CREATE came again).
func TestInvalidSessionIdentifiesAgain(t *testing.T) {
	h, err := start(t, discordtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := h.sayAll("before", 3)
	h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, 3)
	if h.fake.InvalidateSessions() != 1 {
		t.Fatal("no live socket to send op 9 on")
	}
	// What is dispatched before the new session starts is lost, as on
	// Discord: a session that could not resume has no replay.
	waitFor(t, "a new session", func() bool { return h.fake.Sessions() == 2 })
	after := h.sayAll("after", 3)
	h.recordedOnce(append(before, after...), 6)
	h.fake.Join(guildID, newcomer)
	join := h.wait(store.Query{Types: []audit.EventType{audit.UserJoin}}, 1)[0]
	if join.ActorID != newcomer.ID {
		t.Fatalf("join after the new session: %+v", join)
	}
}

// TestPortalChangesWhileRunningEndRun: resetting the token in the
// developer portal while the bot runs (REST 401, close 4004), or unticking
// a privileged intent (close 4014), ends Run with the error that says what
// to do, instead of discordgo's endless reconnect loop; nothing dials
// again.
func TestPortalChangesWhileRunningEndRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*discordtest.Server) int
		want   error
		says   string
	}{
		{"token reset", (*discordtest.Server).RevokeToken, discord.ErrTokenRejected, "developer portal"},
		{"intents off", (*discordtest.Server).DisableIntents, discord.ErrIntentsDisabled, "SERVER MEMBERS INTENT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := start(t, discordtest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the commands registered", func() bool { return len(h.fake.Commands("")) > 0 })
			if tc.change(h.fake) != 1 {
				t.Fatal("no live socket to close")
			}
			err = h.runErr(t)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Run returned %v; want %v saying %q", err, tc.want, tc.says)
			}
			if h.b.Connected() {
				t.Error("Connected (readiness) after Run ended")
			}
			h.noMoreDials(t)
		})
	}
}

// runErr waits for Run to end on its own and returns its error (and puts
// it back for the harness's cleanup).
func (h *harness) runErr(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run kept going after the platform refused the bot")
		return nil
	}
}

// noMoreDials fails if the bot opens the gateway again after Run ended:
// discordgo's first retry would come within a second.
func (h *harness) noMoreDials(t *testing.T) {
	t.Helper()
	n := h.fake.Dials()
	time.Sleep(1500 * time.Millisecond)
	if m := h.fake.Dials(); m != n {
		t.Fatalf("%d gateway connections after Run ended", m-n)
	}
}

// TestActionsHonour429: a 429 on the routes of the engines' actions (a
// role, a timeout, a ban) is waited out as retry_after says and the action
// then succeeds, recorded once; no request comes back early.
func TestActionsHonour429(t *testing.T) {
	h, err := start(t, discordtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h.fake.Join(guildID, newcomer)
	h.wait(store.Query{Types: []audit.EventType{audit.UserJoin}}, 1)
	cause := platform.Cause{Function: audit.FuncLinkFilter, Reason: "test"}
	g := "/guilds/" + guildID
	member, bans := "/members/"+newcomer.ID, "/bans/"+newcomer.ID
	h.fake.RateLimit(g+member+"/roles/", 1, 300*time.Millisecond)
	if err := h.b.AddRole(ctx, guildID, newcomer.ID, modRole, cause); err != nil {
		t.Fatalf("add role through a 429: %v", err)
	}
	h.fake.RateLimit(g+member, 2, 200*time.Millisecond)
	if err := h.b.Timeout(ctx, guildID, newcomer.ID, time.Now().Add(time.Minute), cause); err != nil {
		t.Fatalf("timeout through two 429s: %v", err)
	}
	h.fake.RateLimit(g+bans, 1, 300*time.Millisecond)
	if err := h.b.Ban(ctx, guildID, newcomer.ID, cause); err != nil {
		t.Fatalf("ban through a 429: %v", err)
	}
	if v := h.fake.RateLimitViolations(); v != 0 {
		t.Fatalf("%d requests came back before retry_after", v)
	}
	tries := map[string]int{}
	for _, c := range h.fake.Calls() {
		tries[c.Method+" "+strings.TrimPrefix(c.Path, g)]++
	}
	if tries["PUT "+member+"/roles/"+modRole] != 2 || tries["PATCH "+member] != 3 || tries["PUT "+bans] != 2 {
		t.Fatalf("requests per route: %v; want each 429 retried once", tries)
	}
	recs := h.wait(store.Query{Types: []audit.EventType{audit.UserBan}}, 1)
	if len(recs) != 1 || recs[0].ActorType != audit.ActorBot {
		t.Fatalf("ban records: %+v", recs)
	}
}

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitForUpTo(t, 15*time.Second, what, cond)
}

// waitForUpTo polls cond for up to d.
func waitForUpTo(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestTokenResetBeforeCommandsAreRegistered: a token reset between Run's
// check and the commands' bulk overwrite (a 401 there) ends Run with
// ErrTokenRejected too, not a bare HTTP error.
func TestTokenResetBeforeCommandsAreRegistered(t *testing.T) {
	fake := discordtest.New(discordtest.Options{})
	t.Cleanup(fake.Close)
	fake.AddGuild(guild(guildID))
	fake.Delay("/applications/"+fake.BotID()+"/", 500*time.Millisecond) // the overwrite, not applications/@me
	in := launch(t, fake, filepath.Join(t.TempDir(), "t.db"))
	fake.RevokeToken() // READY came; the overwrite is still on its way
	if err := in.runErr(t); !errors.Is(err, discord.ErrTokenRejected) {
		t.Fatalf("Run returned %v; want ErrTokenRejected", err)
	}
}
