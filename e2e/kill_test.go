package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cli"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// TestKilledTenTimesLosesNothing runs `chatwarden run` as a child process
// against a fake Telegram kept in this process, plays messages in three
// groups that each have a log channel, and kills the bot with SIGKILL at a
// random moment, ten times in a row, while the messages keep coming. Then
// it lets a last bot catch up and stop cleanly, and checks what the README
// promises: every update is recorded exactly once (the offset advances in
// the records' transaction), every record reaches its log channel, a
// delivery is repeated only when a kill fell between the platform's
// acceptance and the outbox update (at most one post per kill), and every
// hash chain verifies.
func TestKilledTenTimesLosesNothing(t *testing.T) {
	if os.Getenv("CHATWARDEN_KILL_CHILD") != "" {
		t.Skip("child")
	}
	if testing.Short() {
		t.Skip("kill test in -short mode")
	}
	sc := newTelegramScene(t)
	fake, groups, members, cfg := sc.fake, sc.groups, sc.members, sc.cfg
	var logs bytes.Buffer
	startBot := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$")
		cmd.Env = append(os.Environ(), "CHATWARDEN_KILL_CHILD="+cfg)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	var sent []string
	say := func() {
		g := groups[rng.IntN(len(groups))]
		text := fmt.Sprintf("message %d", len(sent))
		fake.Message(g.chat, members[rng.IntN(len(members))], text)
		sent = append(sent, text)
	}
	const kills = 10
	for range kills {
		cmd := startBot()
		deadline := time.Now().Add(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		for time.Now().Before(deadline) {
			say()
			time.Sleep(time.Duration(20+rng.IntN(80)) * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
		say() // while the bot is down
	}
	last := startBot()
	if !fake.WaitUpdatesConsumed(60 * time.Second) {
		t.Fatalf("the last bot did not catch up: %d updates pending\n%s", len(fake.PendingUpdates()), logs.String())
	}
	// Every message reaches its group's log channel.
	waitUntil(t, "every entry in the log channels", func() bool {
		for _, text := range sent {
			if !sc.logged(text) {
				return false
			}
		}
		return true
	})
	last.Process.Signal(syscall.SIGTERM)
	if err := last.Wait(); err != nil {
		t.Fatalf("the last bot did not stop cleanly: %v\n%s", err, logs.String())
	}

	sc.check(t, sent)
	// A post is repeated only when a kill came between Telegram's
	// acceptance and the outbox update: at most one post per kill.
	repeated := 0
	for _, g := range groups {
		seen := map[string]bool{}
		for _, m := range fake.Messages(g.logs.ID) {
			if seen[m.Text] {
				repeated++
			}
			seen[m.Text] = true
		}
	}
	if repeated > kills {
		t.Errorf("%d log posts repeated after %d kills", repeated, kills)
	}
	t.Logf("%d messages through %d kills; %d log posts repeated", len(sent), kills, repeated)
}

// TestKillChild is the bot the kill test runs and kills.
func TestKillChild(t *testing.T) {
	cfg := os.Getenv("CHATWARDEN_KILL_CHILD")
	if cfg == "" {
		t.Skip("only run as a child of the kill test")
	}
	os.Exit(cli.Run([]string{"run", "--config", cfg}, os.Stdout, os.Stderr))
}

// telegramScene is a fake Telegram with three groups, each with a log
// channel routed CHAT_MESSAGE records, a database holding those settings,
// and a config file running the bot against the fake.
type telegramScene struct {
	fake    *telegramtest.Server
	members []telegramtest.User
	groups  []sceneGroup
	db, cfg string
}

type sceneGroup struct{ chat, logs telegramtest.Chat }

func newTelegramScene(t *testing.T) *telegramScene {
	t.Helper()
	fake := telegramtest.New(telegramtest.Options{LongPollCap: time.Second})
	t.Cleanup(fake.Close)
	owner := fake.NewUser("Owner")
	sc := &telegramScene{fake: fake, members: []telegramtest.User{fake.NewUser("Ann"), fake.NewUser("Bob"), fake.NewUser("Chloé")}}
	dir := t.TempDir()
	sc.db = filepath.Join(dir, "scene.db")
	s, err := store.Open(sc.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		g := sceneGroup{fake.NewSupergroup("Group "+strconv.Itoa(i), owner, sc.members...),
			fake.NewChannel("Logs "+strconv.Itoa(i), "", owner)}
		_, _, err := s.UpdateSettings(context.Background(), audit.Telegram, strconv.FormatInt(g.chat.ID, 10), func(st *settings.Community) error {
			st.LogChannels = []settings.LogChannel{{ID: strconv.FormatInt(g.logs.ID, 10), Types: []audit.EventType{audit.ChatMessage}}}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sc.groups = append(sc.groups, g)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sc.cfg = filepath.Join(dir, "config.yaml")
	err = os.WriteFile(sc.cfg, []byte(fmt.Sprintf(`log_level: warn
storage: {path: %s}
telegram:
  enabled: true
  token: %q
  api_url: %s
  poll_timeout: 1s
  delete_commands_after: 0s
`, sc.db, fake.Token(), fake.URL)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// logged reports whether text was posted to one of the log channels as a
// line of its own.
func (sc *telegramScene) logged(text string) bool {
	for _, g := range sc.groups {
		for _, m := range sc.fake.Messages(g.logs.ID) {
			if strings.Contains(m.Text, text+"\n") || strings.HasSuffix(m.Text, text) {
				return true
			}
		}
	}
	return false
}

// check opens the database once the bot has stopped and checks that each
// text was recorded exactly once, that nothing else was, and that every
// chain verifies.
func (sc *telegramScene) check(t *testing.T, sent []string) {
	t.Helper()
	s, err := store.Open(sc.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recorded := map[string]int{}
	for _, g := range sc.groups {
		page, err := s.Query(context.Background(), store.Query{Platform: audit.Telegram,
			Property: strconv.FormatInt(g.chat.ID, 10), Types: []audit.EventType{audit.ChatMessage}, Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			recorded[e.Content]++
		}
	}
	recordedOnce(t, s, recorded, sent)
}

// recordedOnce checks that each sent text was recorded exactly once and
// nothing else was (recorded counts records by content), and that every
// chain of s verifies.
func recordedOnce(t *testing.T, s *store.Store, recorded map[string]int, sent []string) {
	t.Helper()
	for _, text := range sent {
		if recorded[text] != 1 {
			t.Errorf("%q recorded %d times, want exactly once", text, recorded[text])
		}
	}
	if len(recorded) != len(sent) {
		t.Errorf("%d messages recorded, %d sent", len(recorded), len(sent))
	}
	vs, err := s.VerifyAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if !v.OK {
			t.Errorf("chain of %s %s: %+v", v.Platform, v.Property, v)
		}
	}
}
