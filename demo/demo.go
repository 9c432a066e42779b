// Package demo is `chatwarden demo`: the real bot (bot.Run, unmodified)
// against the in-process fake Discord and fake Telegram, playing a scripted
// day in a gardening community on both and showing the log channels as
// moderators would see them fill.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/store"
)

// demoDiscordToken is what the fake Discord accepts; it is not a secret.
const demoDiscordToken = "demo-token"

// Run plays the demo into a new database at dbPath, showing it on out
// (in colour on a terminal unless opts.NoColor) and the bot's warnings on
// stderr, and ends with a one-time link to the web viewer on that
// database (served until ctx ends with opts.Serve).
func Run(ctx context.Context, dbPath string, out, stderr io.Writer, opts Options) error {
	scr := &screen{w: out, color: !opts.NoColor && useColor(out), start: time.Now(), names: map[string]string{}}
	return runDemo(ctx, dbPath, scr, stderr, opts)
}

// runDemo sets up the fakes and the bot, plays the script, stops the bot,
// reports on the database it left and opens it in the viewer.
func runDemo(ctx context.Context, dbPath string, scr *screen, stderr io.Writer, opts Options) error {
	dfake := discordtest.New(discordtest.Options{Token: demoDiscordToken})
	defer dfake.Close()
	tfake := telegramtest.New(telegramtest.Options{LongPollCap: time.Second})
	defer tfake.Close()
	d := newDiscordCommunity(dfake)
	t := newTelegramCommunity(tfake)
	for id, name := range d.names() {
		scr.names[id] = name
	}

	cfg, err := config.Parse([]byte(fmt.Sprintf(`log_level: warn
log_format: console
storage:
  path: %q
discord:
  enabled: true
  token: %q
  api_url: %q
telegram:
  enabled: true
  token: %q
  api_url: %q
  poll_timeout: 1s
  delete_commands_after: 0s
moderation:
  impersonation:
    action: quarantine
    protected_names: [Riverside Support]
  raid_guard:
    window: 4s
verification:
  timeout: 30s
`, dbPath, demoDiscordToken, dfake.APIURL(), tfake.Token(), tfake.URL)), "demo config")
	if err != nil {
		return fmt.Errorf("demo: config: %w", err)
	}
	// The bot's own warnings (a raid starting, a failed call) go to stderr.
	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly, NoColor: !scr.color || !useColor(stderr)}).
		Level(zerolog.WarnLevel).With().Timestamp().Logger()

	scr.write(scr.style("1", "chatwarden demo") + ": the real bot against a fake Discord and a fake Telegram, on one day in\n" +
		"the Riverside Gardeners community. Log-channel entries appear as they are posted.\n")
	scr.note("database: %s", dbPath)

	botCtx, stopBot := context.WithCancel(ctx)
	defer stopBot()
	served := &botRun{done: make(chan struct{})}
	go func() { served.err = bot.Run(botCtx, cfg, log); close(served.done) }()

	watch := &logWatch{scr: scr, discord: dfake, dChannel: d.logs, dName: "#mod-log",
		telegram: tfake, tChat: t.logs.ID, tName: "“" + t.logs.Title + "”"}
	stopWatch, watched := make(chan struct{}), make(chan struct{})
	go watch.run(stopWatch, watched)

	scriptErr := playScript(d, t, scr, watch, served)
	if scriptErr == nil {
		d.auditSearch(scr)
	}
	// Let the last entries go out (Telegram paces a log chat to one
	// message every 3s), then stop the bot as SIGTERM would.
	for deadline := time.Now().Add(15 * time.Second); scriptErr == nil && !watch.quietFor(4*time.Second) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	stopBot()
	close(stopWatch)
	<-watched
	var serveErr error
	select {
	case <-served.done:
		serveErr = served.err
	case <-time.After(20 * time.Second):
		serveErr = errors.New("the bot did not stop within 20s")
	}
	if scriptErr != nil {
		return fmt.Errorf("demo: %w", scriptErr)
	}
	if serveErr != nil {
		return fmt.Errorf("demo: the bot: %w", serveErr)
	}
	if err := summarize(ctx, dbPath, scr, watch); err != nil {
		return err
	}
	owner := command.Admin{ID: d.owner.ID, Name: d.owner.GlobalName}
	return viewer(ctx, dbPath, opts.Listen, opts.Serve, d.guild.ID, owner, scr, log)
}

// botRun is the bot's Run call: err is set before done is closed.
type botRun struct {
	done chan struct{}
	err  error
}

// playScript runs the day: the Discord server and the Telegram group take
// turns, while verification deadlines run in the background.
func playScript(d *discordCommunity, t *telegramCommunity, scr *screen, watch *logWatch, served *botRun) error {
	scr.scene("Starting the bot: it connects to the fake Discord gateway and polls the fake Telegram")
	if err := waitReady(d, t, served); err != nil {
		return err
	}
	scr.note("connected: Discord guild %q, Telegram group %q", d.guild.Name, t.group.Title)
	steps := []func(*screen) error{
		d.setUp,
		t.setUp,
		d.raid,
		t.verify,
		d.waitRaidOver,
		d.verification,
		d.impersonation,
		d.links,
		t.links,
		d.editDeleteReport,
		t.editBanUnban,
		d.waitTimeouts,
	}
	for _, step := range steps {
		if err := step(scr); err != nil {
			return err
		}
		select {
		case <-served.done:
			return fmt.Errorf("the bot stopped: %v", served.err)
		default:
		}
		watch.poll()
	}
	return nil
}

// waitReady waits until both platforms are connected: Discord's commands
// are registered after READY, Telegram's after the first getUpdates.
func waitReady(d *discordCommunity, t *telegramCommunity, served *botRun) error {
	deadline := time.Now().Add(20 * time.Second)
	for len(d.fake.Commands("")) == 0 || len(t.fake.GetUpdatesCalls()) == 0 {
		select {
		case <-served.done:
			return fmt.Errorf("the bot stopped at start: %v", served.err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("the bot did not connect to the fakes within 20s")
		}
	}
	// The engines attach right after READY; give the handlers a moment.
	time.Sleep(300 * time.Millisecond)
	return nil
}

// summarize reads the database the bot left: totals per type, the
// chains, and how to explore it.
func summarize(ctx context.Context, dbPath string, scr *screen, watch *logWatch) error {
	s, err := store.Open(dbPath, store.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("demo: reopen the database: %w", err)
	}
	defer s.Close()
	scr.scene("The store's totals")
	total := 0
	for _, p := range s.Properties() {
		counts, err := s.Counts(ctx, p.Platform, p.ID, time.Time{}, time.Time{})
		if err != nil {
			return fmt.Errorf("demo: count %s:%s: %w", p.Platform, p.ID, err)
		}
		types := make([]audit.EventType, 0, len(counts))
		n := 0
		for typ, c := range counts {
			types = append(types, typ)
			n += c
		}
		sort.Slice(types, func(i, j int) bool {
			return counts[types[i]] > counts[types[j]] || counts[types[i]] == counts[types[j]] && types[i].String() < types[j].String()
		})
		parts := make([]string, len(types))
		for i, typ := range types {
			parts[i] = fmt.Sprintf("%s %d", typ, counts[typ])
		}
		scr.write(fmt.Sprintf("  %s %s: %d records\n    %s\n", p.Platform, p.ID, n, strings.Join(parts, ", ")))
		total += n
	}
	results, err := s.VerifyAll(ctx)
	if err != nil {
		return fmt.Errorf("demo: verify: %w", err)
	}
	for _, v := range results {
		if !v.OK {
			return fmt.Errorf("demo: the chain of %s:%s does not verify: %s", v.Platform, v.Property, v.Problem)
		}
	}
	scr.note("%d records, every hash chain verifies; %d Discord log entries and %d Telegram log messages were posted",
		total, watch.dEntries, watch.tMessages)
	scr.write(fmt.Sprintf("\nExplore it:\n  chatwarden logs --db %s --type moderation\n  chatwarden verify --db %s\n", dbPath, dbPath))
	return nil
}
