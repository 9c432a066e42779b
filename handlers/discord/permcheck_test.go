package discord

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

func TestPermissionNames(t *testing.T) {
	d := diffPerms(discordgo.PermissionSendMessages|discordgo.PermissionManageMessages,
		discordgo.PermissionSendMessages|discordgo.PermissionAdministrator|discordgo.PermissionAddReactions|1<<60)
	if d.added != "ADMINISTRATOR,ADD_REACTIONS,BIT_60" || d.removed != "MANAGE_MESSAGES" || d.dangerous != "ADMINISTRATOR" {
		t.Fatalf("%+v", d)
	}
	for _, v := range []any{"8", float64(8)} {
		if p, ok := parsePerms(v); !ok || p != 8 {
			t.Errorf("parsePerms(%v) = %d, %v", v, p, ok)
		}
	}
	if _, ok := parsePerms("-1"); ok {
		t.Error("a negative permission set was taken")
	}
	if got := missingPermissions(discordgo.PermissionAdministrator); got != nil {
		t.Errorf("an administrator lacks %v", got)
	}
}

type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// At start, a server that withholds a permission is named in the log
// with what it costs.
func TestStartupPermissionCheck(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "p.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec := recorder.New(discardJournal{}, recorder.Options{})
	t.Cleanup(func() { rec.Close(context.Background()) })
	var logs syncLog
	b, err := New(Options{Token: "t", Store: st, Recorder: rec, Logger: zerolog.New(&logs),
		HTTPClient: &http.Client{Transport: offline{}, Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	b.self = &discordgo.User{ID: "4", Username: "chatwarden", Bot: true}
	g := &discordgo.Guild{ID: "1", OwnerID: "9", Roles: []*discordgo.Role{{ID: "1"},
		{ID: "5", Permissions: discordgo.PermissionSendMessages | discordgo.PermissionViewChannel | discordgo.PermissionBanMembers}},
		Members: []*discordgo.Member{{User: b.self, Roles: []string{"5"}}}}
	if err := b.s.State.GuildAdd(g); err != nil {
		t.Fatal(err)
	}
	b.onGuildCreate(g)
	logs.mu.Lock()
	out := logs.b.String()
	logs.mu.Unlock()
	for _, want := range []string{"lacks permissions", "View Audit Log", "Manage Server", "Without View Audit Log, kicks, bans"} {
		if !strings.Contains(out, want) {
			t.Errorf("the start-up check does not say %q: %s", want, out)
		}
	}
	if strings.Contains(out, `"Ban Members"`) {
		t.Errorf("a permission the bot has is named missing: %s", out)
	}
}

// The invite asks for exactly the permissions whose cost is explained.
func TestPermNeedsAreTheInvitePermissions(t *testing.T) {
	var all int64
	for _, p := range permNeeds {
		all |= p.perm
	}
	if all != InvitePermissions {
		t.Fatalf("explained %b, invite asks %b", all, InvitePermissions)
	}
}
