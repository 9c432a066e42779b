package moderation_test

import (
	"slices"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/recorder"
)

func TestForgetStaffProtectsANewAdminAtOnce(t *testing.T) {
	ev := newEnv(t, moderation.BuiltinDefaults())
	ev.dir.AddStaff(guild, "owner", "Olga")
	ev.feed(ev.join("u1", "Bob")) // the staff list is cached now
	ev.dir.AddStaff(guild, "admin2", "Maximilian")

	// Cyrillic а: within the cache's lifetime the new admin is unknown...
	ev.feed(ev.join("u2", "M\u0430ximilian"))
	if n := len(ev.records(audit.SecurityEvent)); n != 0 {
		t.Fatalf("%d records before the staff cache was refreshed (the test assumes a cached list)", n)
	}
	// ...until the platform says the staff changed.
	ev.eng.ForgetStaff(audit.Discord, guild)
	ev.feed(ev.join("u3", "M\u0430ximili\u0430n"))
	sec := ev.records(audit.SecurityEvent)
	if len(sec) != 1 || sec[0].Target() != "u3" || !slices.Contains(sec[0].TargetIDs, "admin2") {
		t.Fatalf("records after ForgetStaff: %+v", sec)
	}
}

func TestLinkRemovalReachesLogChannelsOnce(t *testing.T) {
	d := moderation.BuiltinDefaults()
	d.LinkFilter.Denylist = []string{"evil.com"}
	ev := newEnv(t, d)
	ev.feed(ev.message("u1", "login at https://evil.com/x please"))
	mod, del := ev.records(audit.ModerationLink), ev.records(audit.ChatMessageDelete)
	if len(mod) != 1 || len(del) != 1 {
		t.Fatalf("%d MODERATION_LINK, %d CHAT_MESSAGE_DELETE", len(mod), len(del))
	}
	if mod[0].Content != "login at https://evil.com/x please" {
		t.Errorf("MODERATION_LINK content %q", mod[0].Content)
	}
	all := recorder.RouterFunc(func(*audit.Event) []recorder.Route { return []recorder.Route{{Sink: "test", Target: "log"}} })
	f := ev.eng.RaidFilter(all)
	if r := f.Route(del[0]); r != nil {
		t.Errorf("the link filter's deletion is routed to %v", r)
	}
	if r := f.Route(mod[0]); len(r) != 1 {
		t.Errorf("MODERATION_LINK routes %v", r)
	}
	other := *del[0]
	other.Function = audit.FuncCommand
	if r := f.Route(&other); len(r) != 1 {
		t.Errorf("an admin's deletion routes %v", r)
	}
}

func TestBotJoinNamesWhoAddedIt(t *testing.T) {
	ev := newEnv(t, moderation.BuiltinDefaults())
	j := ev.join("spambot", "Spam Bot")
	j.Params.Set(audit.ParamIsBot, "true")
	j.Params.Set("added_by", "u7")
	ev.feed(j)
	sec := ev.records(audit.SecurityEvent)
	if len(sec) != 1 || !slices.Equal(sec[0].TargetIDs, []string{"spambot", "u7"}) ||
		sec[0].Params.Get(audit.ParamKind) != audit.KindUnauthorizedIntegration {
		t.Fatalf("records %+v", sec)
	}
}
