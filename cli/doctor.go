package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/doctor"
	"github.com/chatwarden/chatwarden/handlers/discord"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// errDoctor is the failure of a doctor run whose report is already
// printed: exit status 1 with a one-line summary.
var errDoctor = errors.New("chatwarden doctor found problems")

func cmdDoctor(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("doctor", "--config FILE [--json]", stderr)
	cfgPath := fs.String("config", "", "the config `file` (required)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return usagef("--config is required")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	report := diagnose(ctx, cfg, zerolog.New(stderr).Level(zerolog.WarnLevel))
	if *asJSON {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteText(stdout)
	}
	if err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if !report.OK {
		return errDoctor
	}
	return nil
}

// diagnose runs every check the config calls for: the store, then each
// enabled platform with its communities.
func diagnose(ctx context.Context, cfg *config.Config, log zerolog.Logger) doctor.Report {
	var r doctor.Report
	r.Add(doctor.Storage(cfg.Storage.Path, cfg.Storage.RetentionDays, time.Time{}))
	r.Add(doctor.Permissions(cfg.File(), cfg.Storage.Path))
	// The communities' settings come from the database, when the bot does
	// not hold it.
	var s *store.Store
	held := false // the running bot holds the database
	if _, err := os.Stat(cfg.Storage.Path); err == nil {
		s, err = store.Open(cfg.Storage.Path, store.Options{ReadOnly: true, LockTimeout: 200 * time.Millisecond})
		if err != nil {
			s, held = nil, errors.Is(err, store.ErrLocked)
			if !held {
				log.Warn().Err(err).Msg("doctor: open the database")
			}
		}
	}
	if s != nil {
		defer s.Close()
	}
	read := func(p audit.Platform) func(context.Context, string) (settings.Community, error) {
		switch {
		case held:
			return nil
		case s == nil: // no database yet: every community has the defaults
			return func(context.Context, string) (settings.Community, error) { return settings.Community{}, nil }
		}
		return func(ctx context.Context, id string) (settings.Community, error) { return s.Settings(ctx, p, id) }
	}
	if cfg.Discord.Enabled {
		r.Add(discord.Doctor(ctx, discord.DoctorOptions{Token: cfg.Discord.Token.Reveal(), APIURL: cfg.Discord.APIURL,
			Settings: read(audit.Discord), WithoutMessageContent: !cfg.Discord.MessageContent})...)
	}
	if cfg.Telegram.Enabled {
		var chats []string
		if s != nil {
			for _, p := range s.Properties() {
				if p.Platform == audit.Telegram {
					chats = append(chats, p.ID)
				}
			}
		}
		sections := telegram.Doctor(ctx, telegram.DoctorOptions{Token: cfg.Telegram.Token.Reveal(), APIURL: cfg.Telegram.APIURL,
			Chats: chats, Settings: read(audit.Telegram), Logger: log})
		if held && len(sections) > 0 {
			sections[0].Warn("groups listed", "the Bot API cannot list a bot's groups and the database is held by the running bot",
				"Send /doctor in each group, or stop the bot and run chatwarden doctor again.")
		}
		r.Add(sections...)
	}
	if cfg.Cluster.NATSURL != "" {
		var depth func() (int, error)
		if s != nil {
			depth = func() (int, error) { return s.OutboxDepth(cluster.Sink) }
		}
		r.Add(cluster.Doctor(ctx, bot.NATSConn(cfg.Cluster, "chatwarden doctor"), cfg.Cluster.Stream, depth, log))
		if sec := cluster.DoctorCoordination(ctx, bot.NATSConn(cfg.Cluster, "chatwarden doctor"), cfg.Cluster.CoordinationBucket, log); len(sec.Checks) > 0 {
			r.Add(sec) // empty when NATS does not answer: the section above says so
		}
	}
	return r
}
