package telegram_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/doctor"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/settings"
)

// doctorScene is a group set up as the README says (the bot an admin
// with the moderator rights, privacy mode off) with a log channel.
type doctorScene struct {
	fake        *telegramtest.Server
	group, logs telegramtest.Chat
	set         settings.Community
}

func newDoctorScene(t *testing.T, opts telegramtest.Options) *doctorScene {
	fake := telegramtest.New(opts)
	t.Cleanup(fake.Close)
	owner := fake.NewUser("Owner")
	sc := &doctorScene{fake: fake, group: fake.NewSupergroup("Doctor group", owner), logs: fake.NewChannel("Doctor logs", "", owner)}
	sc.set = settings.Community{LogChannels: []settings.LogChannel{{ID: id(sc.logs.ID)}}}
	return sc
}

func (sc *doctorScene) run(token string) (doctor.Report, string) {
	if token == "" {
		token = sc.fake.Token()
	}
	sections := telegram.Doctor(context.Background(), telegram.DoctorOptions{Token: token, APIURL: sc.fake.URL,
		Chats: []string{id(sc.group.ID)}, Logger: zerolog.Nop(),
		Settings: func(context.Context, string) (settings.Community, error) { return sc.set, nil }})
	var r doctor.Report
	r.Add(sections...)
	var b strings.Builder
	r.WriteText(&b)
	return r, b.String()
}

func TestDoctorHealthyGroup(t *testing.T) {
	sc := newDoctorScene(t, telegramtest.Options{})
	r, text := sc.run("")
	if !r.OK {
		t.Fatalf("a group set up as the README says fails:\n%s", text)
	}
	for _, want := range []string{"✓ token valid", "✓ privacy mode off", "telegram Doctor group (" + id(sc.group.ID) + ")",
		"✓ bot is an administrator", "✓ right to delete messages", "✓ right to ban and restrict members",
		"✓ log chat Doctor logs: may post", "✓ log chat Doctor logs: delivering"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
}

// TestDoctorTelegramTroubleshooting reproduces the Telegram cases of the
// README's troubleshooting table; each is reported with its fix.
func TestDoctorTelegramTroubleshooting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  telegramtest.Options
		token string
		setup func(sc *doctorScene)
		want  []string
	}{
		{name: "token revoked", token: "123:revoked",
			want: []string{"✗ token valid: getMe answered", "Copy the token @BotFather gives"}},
		{name: "privacy mode on", opts: telegramtest.Options{PrivacyMode: true},
			want: []string{"✗ privacy mode off — Send /setprivacy to @BotFather"}},
		{name: "bot not admin", setup: func(sc *doctorScene) { sc.fake.SetBotRights(sc.group, nil) },
			want: []string{"✗ bot is an administrator: the bot is a plain member — Make the bot an administrator with the Delete messages and Ban users rights"}},
		{name: "admin without ban right", setup: func(sc *doctorScene) {
			sc.fake.SetBotRights(sc.group, &telegramtest.AdminRights{CanDeleteMessages: true})
		}, want: []string{"✓ right to delete messages", "✗ right to ban and restrict members — In the group's administrators, give the bot the Ban users right."}},
		{name: "log chat without the bot", setup: func(sc *doctorScene) {
			other := sc.fake.NewChat(telegramtest.ChatSpec{Type: telegramtest.ChatSupergroup, Title: "Elsewhere", BotAbsent: true})
			sc.set.LogChannels[0].ID = id(other.ID)
		}, want: []string{": may post: Telegram answered Bad Request: chat not found — Add the bot to the log chat and let it post there."}},
		{name: "paused log chat", setup: func(sc *doctorScene) {
			sc.set.LogChannels[0].Paused = "the bot may not post (403)"
		}, want: []string{"✗ log chat Doctor logs: delivering: paused: the bot may not post (403) — Let the bot post there again, then send /setlog"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newDoctorScene(t, tc.opts)
			if tc.setup != nil {
				tc.setup(sc)
			}
			r, text := sc.run(tc.token)
			if r.OK {
				t.Errorf("the report passes:\n%s", text)
			}
			for _, want := range tc.want {
				if !strings.Contains(text, want) {
					t.Errorf("missing %q in\n%s", want, text)
				}
			}
		})
	}
}

// TestDoctorCommand: /doctor in a group answers for that group, admins
// only.
func TestDoctorCommand(t *testing.T) {
	h := newHarness(t)
	owner := h.fake.NewUser("Boss")
	ann := h.fake.NewUser("Ann")
	g := h.fake.NewSupergroup("Checked", owner, ann)
	other := h.fake.NewSupergroup("Other", owner)
	h.fake.SetBotRights(g, nil)
	h.fake.Command(g, owner, "/doctor")
	text := h.waitText(g.ID, "bot is an administrator")
	for _, want := range []string{"✓ token valid", "✗ bot is an administrator: the bot is a plain member", "send /doctor again"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	if strings.Contains(text, id(other.ID)) {
		t.Errorf("another group's checks shown:\n%s", text)
	}
	h.fake.Command(g, ann, "/doctor")
	h.waitText(g.ID, "Only the admins of this group can use /doctor")
}
