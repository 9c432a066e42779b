package telegram_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/handlers/enginetest"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
)

func TestViewerLinkInAPrivateChat(t *testing.T) {
	h := newHarnessWith(t, fast(config{engines: &enginetest.Config{}, opts: func(o *telegram.Options) {
		o.ViewerLink = func(_ context.Context, property string, user command.Admin) (string, time.Time, error) {
			return "https://viewer.test/login/link?code=cwl_" + property + "_" + user.ID, time.Date(2026, 12, 1, 10, 5, 0, 0, time.UTC), nil
		}
	}}))
	f := h.fake
	owner, ann := f.NewUser("Owner"), f.NewUser("Ann")
	g := f.NewSupergroup("G", owner, ann)
	dm, annDM := f.PrivateChat(owner), f.PrivateChat(ann)

	// In the group the command points to the private chat.
	f.Command(g, owner, "/viewer")
	h.waitText(g.ID, "send /viewer "+id(g.ID)+" to me in a private chat")
	// Only the group's admins get a link.
	f.Command(annDM, ann, "/viewer "+id(g.ID))
	h.waitText(annDM.ID, "Only the admins of that chat")
	f.Command(dm, owner, "/viewer nonsense")
	h.waitText(dm.ID, "is not a group's id")
	f.Command(dm, owner, "/viewer "+id(g.ID))
	h.waitText(dm.ID, "works once, until 10:05 UTC", "https://viewer.test/login/link?code=cwl_"+id(g.ID)+"_"+id(owner.ID))
}

// TestViewerAllowed: who may keep a viewer session, as Telegram says at
// the time of asking: the creator and administrators, not a member, not
// an administrator once demoted, not someone who left.
func TestViewerAllowed(t *testing.T) {
	h := newHarnessWith(t, fast(config{}))
	f := h.fake
	owner, ann := f.NewUser("Owner"), f.NewUser("Ann")
	g := f.NewSupergroup("G", owner, ann)
	allowed := func(user telegramtest.User) bool {
		t.Helper()
		ok, err := h.bot.ViewerAllowed(context.Background(), id(g.ID), id(user.ID))
		if err != nil {
			t.Fatalf("ViewerAllowed(%s): %v", user.FirstName, err)
		}
		return ok
	}
	if !allowed(owner) || allowed(ann) {
		t.Fatalf("owner %v, member %v", allowed(owner), allowed(ann))
	}
	f.PromoteAdmin(g, owner, ann, telegramtest.AdminRights{CanDeleteMessages: true})
	if !allowed(ann) {
		t.Error("an administrator may not")
	}
	f.DemoteAdmin(g, owner, ann)
	if allowed(ann) {
		t.Error("a demoted administrator still may")
	}
	f.PromoteAdmin(g, owner, ann, telegramtest.AdminRights{CanDeleteMessages: true})
	f.LeaveMember(g, ann)
	if allowed(ann) {
		t.Error("someone who left still may")
	}
	if ok, err := h.bot.ViewerAllowed(context.Background(), id(g.ID), "not-a-user"); ok || err != nil {
		t.Errorf("a malformed user id: %v %v", ok, err)
	}
}
