package verification_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/moderation/moderationtest"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/verification"
)

// joinDir is a directory that remembers join service messages, as the
// Telegram handler does.
type joinDir struct {
	*moderationtest.Directory
	msgs map[string]string
}

var _ verification.JoinMessageFinder = joinDir{}

func (d joinDir) JoinMessage(_ context.Context, property, user string) (string, bool) {
	id, ok := d.msgs[property+"/"+user]
	return id, ok
}

func TestTelegramFailureDeletesTheJoinMessageTheDirectoryKnows(t *testing.T) {
	ev := newEnv(t)
	acts := ev.acts[audit.Telegram]
	ev.eng.Attach(acts, joinDir{ev.dir, map[string]string{chat + "/111": "svc9"}})
	ev.configure(audit.Telegram, chat, settings.Verification{TimeoutSeconds: 60})
	// Recorded from chat_member: the USER_JOIN carries no message.
	ev.feed(joinEvent(audit.Telegram, chat, "111", "Zoe"))
	challenge := acts.Calls("Send")[0].Message
	ev.clock.Advance(61 * time.Second)
	ev.eventually("the timeout", func() bool {
		return len(ev.records(audit.Telegram, chat, audit.VerificationFailure)) == 1
	})
	var deleted []string
	for _, d := range acts.Calls("DeleteMessage") {
		deleted = append(deleted, d.Message)
	}
	if !slices.Equal(deleted, []string{challenge, "svc9"}) {
		t.Fatalf("deleted %v, want the challenge %s and the join message svc9", deleted, challenge)
	}
}
