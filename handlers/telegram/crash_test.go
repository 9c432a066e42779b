package telegram_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/internal/testlog"
)

// crashHarness has a bot that is stopped at once, so that a test can queue
// updates and then start a bot that "dies" in the middle of the batch.
func crashHarness(t *testing.T) *harness {
	h := newHarnessWith(t, config{fake: telegramtest.Options{AllowedUpdates: telegram.AllowedUpdates}, sync: true})
	h.stop()
	return h
}

// crashOnce returns a hook that stops the bot the first time it runs,
// and a channel closed when it has.
func crashOnce() (func() bool, chan struct{}) {
	var fired atomic.Bool
	crashed := make(chan struct{})
	return func() bool {
		if fired.Swap(true) {
			return true
		}
		close(crashed)
		return false
	}, crashed
}

func waitCrash(t *testing.T, crashed chan struct{}) {
	t.Helper()
	select {
	case <-crashed:
	case <-time.After(10 * time.Second):
		t.Fatal("the bot never reached the commit")
	}
}

func TestKillBeforeCommitLosesNothing(t *testing.T) {
	h := crashHarness(t)
	f := h.fake
	owner, ann, zoe := f.NewUser("Owner"), f.NewUser("Ann"), f.NewUser("Zoe")
	g := f.NewSupergroup("G", owner, ann)
	f.Message(g, ann, "first")
	f.JoinMember(g, zoe) // chat_member and the service message
	renamed := ann
	renamed.FirstName = "Annabel"
	f.Message(g, renamed, "second")
	for i := range 5 {
		f.Message(g, owner, "more "+id(int64(i)))
	}
	// The bot translates the whole batch, then dies before the commit.
	hook, crashed := crashOnce()
	h.start(func(b *telegram.Bot) { telegram.SetCommitHooks(b, hook, nil) })
	waitCrash(t, crashed)
	h.stop()
	if n := len(h.records(g.ID)); n != 0 {
		t.Fatalf("%d records before the commit", n)
	}
	h.start(nil)
	h.exactly(g.ID, audit.ChatMessage, 7)
	h.exactly(g.ID, audit.UserJoin, 1)
	up := h.exactly(g.ID, audit.UserUpdate, 1)[0]
	if up.Params[audit.ParamOldValue] != "Ann" || up.Params[audit.ParamNewValue] != "Annabel" {
		t.Fatalf("rename after the redelivery %+v", up.Params)
	}
}

func TestKillAfterCommitNeitherLosesNorDuplicates(t *testing.T) {
	h := crashHarness(t)
	f := h.fake
	owner, ann, zoe := f.NewUser("Owner"), f.NewUser("Ann"), f.NewUser("Zoe")
	g := f.NewSupergroup("G", owner, ann)
	f.Message(g, ann, "first")
	f.JoinMember(g, zoe, telegramtest.JoinOptions{NoServiceMessage: true})
	// The batch commits, and the bot dies before saving its state (Ann's
	// names, the join's deduplication mark) and acting on the batch.
	hook, crashed := crashOnce()
	h.start(func(b *telegram.Bot) { telegram.SetCommitHooks(b, nil, hook) })
	waitCrash(t, crashed)
	h.stop()
	h.exactly(g.ID, audit.UserJoin, 1)
	// The join's service message and Ann's new name arrive after.
	f.InjectUpdate(telegramtest.Update{Message: &telegramtest.Message{MessageID: 900, Date: f.Now().Unix(), Chat: g,
		From: &zoe, NewChatMembers: []telegramtest.User{zoe}}})
	renamed := ann
	renamed.FirstName = "Annabel"
	f.Message(g, renamed, "second")
	h.start(nil)
	h.exactly(g.ID, audit.ChatMessage, 2)
	h.exactly(g.ID, audit.UserJoin, 1)
	h.exactly(g.ID, audit.UserUpdate, 1)
	if calls := f.GetUpdatesCalls(); calls[len(calls)-1].Offset == 0 {
		t.Fatal("the restarted bot did not confirm the batch with the stored offset")
	}
}

func TestMigrationKeepsHistoryReachable(t *testing.T) {
	h := newHarnessWith(t, fast(config{}))
	f := h.fake
	owner, ann, bob := f.NewUser("Owner"), f.NewUser("Ann"), f.NewUser("Bob")
	basic := f.NewGroup("Basic", owner, ann, bob)
	logChat := f.NewChannel("Logs", "", owner)
	h.setLog(basic.ID, logChat.ID)
	f.Message(basic, ann, "before the upgrade")
	h.wait(basic.ID, audit.ChatMessage, 1)
	super, _, err := f.MigrateToSupergroup(basic, owner)
	if err != nil {
		t.Fatal(err)
	}
	moved := h.wait(super.ID, audit.PropertyUpdate, 1)[0]
	if moved.Params[audit.ParamOldValue] != id(basic.ID) || moved.Params[audit.ParamNewValue] != id(super.ID) {
		t.Fatalf("migration record %+v", moved.Params)
	}
	// The settings moved: the supergroup's entries reach the log chat.
	f.Message(super, bob, "after the upgrade")
	h.waitText(logChat.ID, "after the upgrade")
	if set := h.settings(super.ID); set.LogChannel(id(logChat.ID)) == nil {
		t.Fatalf("settings did not move: %+v", set)
	}
	if set := h.settings(basic.ID); len(set.LogChannels) != 0 {
		t.Fatalf("the old id still routes: %+v", set)
	}
	// /logs in the supergroup pages into the old group's history.
	f.Command(super, owner, "/logs CHAT_MESSAGE")
	page := h.waitMessage(super.ID, "Audit log")
	if !strings.Contains(page.Text, "Bob posted a message") || strings.Contains(page.Text, "Ann posted") {
		t.Fatalf("first page:\n%s", page.Text)
	}
	h.press(super, owner, page, "Older ›")
	waitFor(t, "the history page", func() bool {
		m, _ := f.MessageByID(super.ID, page.MessageID)
		return strings.Contains(m.Text, "before the upgrade to a supergroup") && strings.Contains(m.Text, "Ann posted a message")
	})
}

func TestWebhookChecksTheSecretAndSkipsRedeliveries(t *testing.T) {
	const secret = "s3cret-token_1"
	h := newHarnessWith(t, config{opts: func(o *telegram.Options) {
		o.Webhook = telegram.Webhook{Listen: "127.0.0.1:0", SecretToken: secret}
	}})
	f := h.fake
	set := f.WaitCalls("setWebhook", 1, 5*time.Second)
	if len(set) == 0 || !set[0].OK {
		t.Fatalf("setWebhook: %+v", set)
	}
	p := set[0].Params
	if p.Get("secret_token") != secret || p.Get("max_connections") != "1" || !strings.Contains(p.Get("allowed_updates"), "chat_member") {
		t.Fatalf("setWebhook params %v", p)
	}
	owner, ann := f.NewUser("Owner"), f.NewUser("Ann")
	g := f.NewSupergroup("G", owner, ann)
	f.Message(g, ann, "by webhook")
	h.wait(g.ID, audit.ChatMessage, 1)
	// The fake notes a delivery once the bot's answer is back, which can
	// be after the bot committed the record.
	waitFor(t, "the webhook delivery", func() bool { return len(f.WebhookDeliveries()) > 0 })
	d := f.WebhookDeliveries()[0]
	raw, _ := json.Marshal(d.Update)
	post := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, d.URL, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(""); code != http.StatusUnauthorized {
		t.Fatalf("no secret: %d", code)
	}
	if code := post("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", code)
	}
	if code := post(secret); code != http.StatusOK { // Telegram delivering it again
		t.Fatalf("redelivery: %d", code)
	}
	h.exactly(g.ID, audit.ChatMessage, 1)
}

func TestTheTokenIsNeverLogged(t *testing.T) {
	var buf testlog.Buffer
	h := newHarnessWith(t, config{opts: func(o *telegram.Options) { o.Logger = zerolog.New(&buf) }})
	h.fake.Close() // every request now fails with an error naming the URL
	waitFor(t, "a failed poll in the log", func() bool { return strings.Contains(buf.String(), "getUpdates failed") })
	out := buf.String()
	if strings.Contains(out, h.fake.Token()) || !strings.Contains(out, "<token>") {
		t.Fatalf("log:\n%s", out)
	}
}
