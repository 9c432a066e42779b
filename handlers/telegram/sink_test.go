package telegram_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/settings"
)

// setLog links a log chat to a group, as /setlog will.
func (h *harness) setLog(group, logChat int64) {
	h.t.Helper()
	prop := strconv.FormatInt(group, 10)
	_, set, err := h.s.UpdateSettings(context.Background(), audit.Telegram, prop, func(s *settings.Community) error {
		s.LogChannels = []settings.LogChannel{{ID: strconv.FormatInt(logChat, 10)}}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.router.Update(audit.Telegram, prop, set)
}

func TestLogChatEntries(t *testing.T) {
	h := newHarness(t)
	owner := h.fake.NewUser("Owner")
	mallory := h.fake.NewUser("<b>Mallory</b> & co")
	a := h.fake.NewSupergroup("A", owner, mallory)
	b := h.fake.NewSupergroup("B", owner, mallory)
	logChat := h.fake.NewSupergroup("A logs", owner)
	h.setLog(a.ID, logChat.ID)

	h.fake.Inject429("sendMessage", 1, 1) // Telegram says wait a second first
	h.fake.Message(a, mallory, `<script>alert(1)</script> <a href="x">`+strings.Repeat("long ", 1200))
	h.fake.Message(b, mallory, "a secret of group B")
	for i := 0; i < 20; i++ {
		h.fake.JoinMember(a, h.fake.NewUser("joiner"+strconv.Itoa(i)))
	}
	var text, raw string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var all, raws []string
		for _, m := range h.fake.Messages(logChat.ID) {
			if m.ParseMode != "HTML" || !m.DisableNotify || !m.LinkPreviewOff {
				t.Fatalf("parse mode %q, silent %v, previews off %v", m.ParseMode, m.DisableNotify, m.LinkPreviewOff)
			}
			all = append(all, m.Text)
			raws = append(raws, m.RawText)
		}
		text, raw = strings.Join(all, "\n"), strings.Join(raws, "\n")
		if strings.Count(text, "joined.") == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log chat got %d of 20 joins:\n%.2000s", strings.Count(text, "joined."), text)
		}
	}
	// The fake accepted every message: the HTML parsed and fit 4096 units.
	// What members read is the content as typed; what was sent escaped it.
	if !strings.Contains(text, `<script>alert(1)</script> <a href="x">`) || !strings.Contains(raw, "&lt;script&gt;") ||
		strings.Contains(raw, "<script>") || !strings.Contains(text, "<b>Mallory</b> & co") {
		t.Fatal("user content was not escaped")
	}
	if !strings.Contains(text, audit.CutMarker) {
		t.Fatal("long content was not cut with a marker")
	}
	if strings.Contains(text, "secret of group B") {
		t.Fatal("group B's entry reached group A's log chat")
	}
	if v := h.fake.RateLimitViolations(); len(v) > 0 {
		t.Fatalf("pacing violated: %v", v)
	}
	msgs := h.fake.Messages(logChat.ID)
	if len(msgs) >= 21 {
		t.Fatalf("%d messages for 21 entries: entries were not batched", len(msgs))
	}
}

func TestLongEntriesFitOneMessage(t *testing.T) {
	h := newHarness(t)
	owner, ann := h.fake.NewUser("Owner"), h.fake.NewUser("Ann")
	a := h.fake.NewSupergroup("A", owner, ann)
	logChat := h.fake.NewSupergroup("A logs", owner)
	h.setLog(a.ID, logChat.ID)
	_, set, _ := h.s.UpdateSettings(context.Background(), audit.Telegram, strconv.FormatInt(a.ID, 10), func(s *settings.Community) error {
		s.Locale = "fr"
		return nil
	})
	h.router.Update(audit.Telegram, strconv.FormatInt(a.ID, 10), set)
	// A record with many long details, recorded directly as an engine would.
	e := &audit.Event{Platform: audit.Telegram, PropertyID: strconv.FormatInt(a.ID, 10), Type: audit.SecurityEvent,
		Function: audit.FuncImpersonation, ActorType: audit.ActorBot, ActorID: "1", ActorName: "bot",
		TargetIDs: []string{strconv.FormatInt(ann.ID, 10)}, Content: strings.Repeat("x", 5000)}
	for i := 0; i < 40; i++ {
		e.Params.Set("detail_"+strconv.Itoa(i), strings.Repeat("é", 2000))
	}
	if err := h.rec.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(h.fake.Messages(logChat.ID)) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the long entry was never posted (rejected as too long?)")
		}
	}
	m := h.fake.Messages(logChat.ID)[0]
	if strings.Contains(m.Text, "Auteur") || strings.Count(m.RawText, "tg://user?id=1") != 1 {
		t.Fatalf("the actor is shown twice in French:\n%.500s", m.Text)
	}
}
