package telegram_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/enginetest"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

type harness struct {
	t      *testing.T
	fake   *telegramtest.Server
	s      *store.Store
	rec    *recorder.Recorder
	router *logchannel.Router
	opts   func(*telegram.Options)
	bot    *telegram.Bot
	stop   func()
	eng    *enginetest.Set // nil unless config.engines is set
}

// config tunes a harness.
type config struct {
	fake  telegramtest.Options
	opts  func(*telegram.Options)
	hooks func(b *telegram.Bot) // before Run
	sync  bool                  // fsync the store (the crash tests)
	// engines runs real moderation and verification engines and API
	// tokens, wired as main wires them (see engines_test.go).
	engines *enginetest.Config
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, config{}) }

func newHarnessWith(t *testing.T, c config) *harness {
	t.Helper()
	if c.fake.LongPollCap == 0 {
		c.fake.LongPollCap = time.Second
	}
	fake := telegramtest.New(c.fake)
	t.Cleanup(fake.Close)
	s, err := store.Open(filepath.Join(t.TempDir(), "t.db"), store.Options{NoSync: !c.sync})
	if err != nil {
		t.Fatal(err)
	}
	router, err := logchannel.NewRouter(context.Background(), s, "en")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, fake: fake, s: s, router: router, opts: c.opts}
	rec := recorder.New(s, recorder.Options{})
	h.rec = rec
	t.Cleanup(func() { rec.Close(context.Background()); s.Close() })
	if c.engines != nil {
		log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
		h.eng = enginetest.New(t, s, rec, router, log, *c.engines)
		t.Cleanup(h.eng.Close)
	} else {
		rec.AddRouter(router)
	}
	h.start(c.hooks)
	return h
}

// options returns the bot's options for this harness.
func (h *harness) options() telegram.Options {
	o := telegram.Options{Token: h.fake.Token(), APIURL: h.fake.URL, PollTimeout: time.Second,
		Store: h.s, Recorder: h.rec, Logger: zerolog.New(zerolog.NewTestWriter(h.t)).Level(zerolog.WarnLevel), Router: h.router, LogInterval: 1100 * time.Millisecond}
	if h.eng != nil {
		o.Moderation, o.Verification = h.eng.Engines()
		o.Tokens = h.eng.Tokens
	}
	if h.opts != nil {
		h.opts(&o)
	}
	return o
}

// start runs a new Bot on the harness's store (as after a restart).
func (h *harness) start(hooks func(*telegram.Bot)) {
	b, err := telegram.New(h.options())
	if err != nil {
		h.t.Fatal(err)
	}
	if hooks != nil {
		hooks(b)
	}
	h.bot = b
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	var once sync.Once
	h.stop = func() { once.Do(func() { cancel(); <-done }) }
	h.t.Cleanup(h.stop)
	if h.options().Webhook.Listen == "" {
		h.fake.WaitPolling(len(h.fake.GetUpdatesCalls())+1, 5*time.Second)
	}
}

func (h *harness) wait(chat int64, typ audit.EventType, n int) []*audit.Event {
	h.t.Helper()
	q := store.Query{Platform: audit.Telegram, Property: strconv.FormatInt(chat, 10), Types: []audit.EventType{typ}, Limit: 1000}
	var evs []*audit.Event
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		page, err := h.s.Query(context.Background(), q)
		if err != nil {
			h.t.Fatal(err)
		}
		if evs = page.Events; len(evs) >= n {
			return evs
		}
	}
	h.t.Fatalf("%s in %d: %d records, want %d", typ, chat, len(evs), n)
	return nil
}

// exactly waits a moment and checks there are exactly n records.
func (h *harness) exactly(chat int64, typ audit.EventType, n int) []*audit.Event {
	h.t.Helper()
	h.wait(chat, typ, n)
	time.Sleep(300 * time.Millisecond)
	evs := h.wait(chat, typ, n)
	if len(evs) != n {
		h.t.Fatalf("%s: %d records, want exactly %d", typ, len(evs), n)
	}
	return evs
}

func TestUpdatesBecomeRecords(t *testing.T) {
	h := newHarness(t)
	owner, ann, zoe := h.fake.NewUser("Owner"), h.fake.NewUser("Ann"), h.fake.NewUser("Zoe")
	chat := h.fake.NewSupergroup("Test group", owner, ann)

	calls := h.fake.GetUpdatesCalls()
	if got := calls[len(calls)-1].AllowedUpdates; !slices.Contains(got, "chat_member") || !slices.Contains(got, "my_chat_member") {
		t.Fatalf("allowed_updates %v", got)
	}

	h.fake.JoinMember(chat, zoe) // chat_member and the new_chat_members message
	join := h.exactly(chat.ID, audit.UserJoin, 1)[0]
	if join.ActorID != strconv.FormatInt(zoe.ID, 10) || join.PlatformType != "chat_member" {
		t.Fatalf("join %+v", join)
	}

	sent := h.fake.Message(chat, ann, "hello <b>there</b>")
	msg := h.wait(chat.ID, audit.ChatMessage, 1)[0]
	if msg.Content != "hello <b>there</b>" || msg.ActorName != "Ann" || msg.MessageID != strconv.Itoa(sent.Message.MessageID) {
		t.Fatalf("message %+v", msg)
	}
	if _, err := h.fake.EditMessage(chat, sent.Message.MessageID, "hello again"); err != nil {
		t.Fatal(err)
	}
	edit := h.wait(chat.ID, audit.ChatMessageEdit, 1)[0]
	if edit.Content != "hello again" || edit.Params[audit.ParamOldContent] != "hello <b>there</b>" {
		t.Fatalf("edit %+v", edit)
	}

	renamed := ann
	renamed.FirstName = "Annabel"
	h.fake.Message(chat, renamed, "new name")
	upd := h.wait(chat.ID, audit.UserUpdate, 1)[0]
	if upd.Params[audit.ParamField] != "first_name" || upd.Params[audit.ParamOldValue] != "Ann" || upd.Params[audit.ParamNewValue] != "Annabel" {
		t.Fatalf("rename %+v", upd)
	}

	h.fake.BanMember(chat, owner, zoe, time.Time{})
	ban := h.wait(chat.ID, audit.UserBan, 1)[0]
	if ban.ActorID != strconv.FormatInt(owner.ID, 10) || ban.ActorType != audit.ActorAdmin || ban.Target() != strconv.FormatInt(zoe.ID, 10) {
		t.Fatalf("ban %+v", ban)
	}
	h.fake.Unban(chat, owner, zoe)
	h.wait(chat.ID, audit.UserBanRemove, 1)

	h.fake.LeaveMember(chat, ann) // chat_member and left_chat_member
	left := h.exactly(chat.ID, audit.UserRemove, 1)[0]
	if left.Params[audit.ParamRemoval] != audit.RemovalLeft {
		t.Fatalf("leave %+v", left)
	}

	h.fake.SetTitle(chat, owner, "Renamed group")
	title := h.wait(chat.ID, audit.PropertyUpdate, 1)[0]
	if title.Params[audit.ParamNewValue] != "Renamed group" {
		t.Fatalf("title %+v", title)
	}

	forum := h.fake.NewForum("Forum", owner)
	h.fake.ForumTopicCreated(forum, owner, "Announcements")
	topic := h.wait(forum.ID, audit.ChannelCreate, 1)[0]
	if topic.Params[audit.ParamChannelName] != "Announcements" || topic.ChannelID == "" || topic.ChannelID == "0" {
		t.Fatalf("topic %+v", topic)
	}
}

func TestRestartNeitherLosesNorDuplicates(t *testing.T) {
	h := newHarness(t)
	owner, ann := h.fake.NewUser("Owner"), h.fake.NewUser("Ann")
	chat := h.fake.NewSupergroup("Group", owner, ann)
	for i := 0; i < 30; i++ {
		h.fake.Message(chat, ann, "before "+strconv.Itoa(i))
	}
	h.wait(chat.ID, audit.ChatMessage, 30)
	h.stop() // the process dies after the batch's commit
	for i := 0; i < 20; i++ {
		h.fake.Message(chat, ann, "while down "+strconv.Itoa(i))
	}
	h.start(nil)
	evs := h.exactly(chat.ID, audit.ChatMessage, 50)
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[e.MessageID] {
			t.Fatalf("message %s recorded twice", e.MessageID)
		}
		seen[e.MessageID] = true
	}
	off, _ := h.s.Cursor(telegram.OffsetCursor)
	if len(off) == 0 {
		t.Fatal("no offset stored")
	}
}

func TestGroupsStayApart(t *testing.T) {
	h := newHarness(t)
	owner, ann := h.fake.NewUser("Owner"), h.fake.NewUser("Ann")
	a := h.fake.NewSupergroup("A", owner, ann)
	b := h.fake.NewSupergroup("B", owner, ann)
	h.fake.Message(a, ann, "in A")
	h.fake.Message(b, ann, "in B")
	for _, c := range []struct {
		chat int64
		text string
	}{{a.ID, "in A"}, {b.ID, "in B"}} {
		evs := h.exactly(c.chat, audit.ChatMessage, 1)
		if evs[0].Content != c.text {
			t.Fatalf("chat %d holds %q", c.chat, evs[0].Content)
		}
	}
}
