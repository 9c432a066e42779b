package discord_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/command"
)

// fakeViewerLink stands in for the HTTP API's login links: the link names
// the property and the person it was made for.
func fakeViewerLink(_ context.Context, property string, user command.Admin) (string, time.Time, error) {
	return "https://viewer.test/login/link?code=cwl_" + property + "_" + user.ID, time.Unix(1_900_000_000, 0), nil
}

func TestAuditViewerGivesAPrivateLink(t *testing.T) {
	h, err := start(t, discordtestOptions())
	if err != nil {
		t.Fatal(err)
	}
	text := final(t, h.fake.Slash(guildID, owner, "audit", "viewer"))
	if !strings.Contains(text, "https://viewer.test/login/link?code=cwl_"+guildID+"_"+owner.ID) || !strings.Contains(text, `\u003ct:1900000000:t\u003e`) {
		t.Errorf("/audit viewer answer:\n%s", text)
	}
	if !strings.Contains(text, `"flags":64`) {
		t.Errorf("the link is not private:\n%s", text)
	}
	// Without View Audit Log, no link.
	text = final(t, h.fake.Slash(guildID, member, "audit", "viewer"))
	if strings.Contains(text, "viewer.test") || !strings.Contains(text, "View Audit Log") {
		t.Errorf("/audit viewer for a member:\n%s", text)
	}
}
