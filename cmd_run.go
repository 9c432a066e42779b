package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/handlers/discord"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/store"
)

// shutdownTimeout bounds draining the recorder at exit.
const shutdownTimeout = 10 * time.Second

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "--config FILE", stderr)
	cfgPath := fs.String("config", "", "the config `file` (required; see config.example.yaml)")
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
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, log)
}

// newLogger builds the process logger: JSON lines, or a console writer.
func newLogger(cfg *config.Config, w io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		level = zerolog.InfoLevel
	}
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// serve runs the bot until ctx ends, then drains within shutdownTimeout.
func serve(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	s, err := store.Open(cfg.Storage.Path, store.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	log.Info().Str("db", cfg.Storage.Path).Int("properties", len(s.Properties())).Msg("store open")

	router, err := bot.NewLogRouter(ctx, s, cfg.Defaults.Locale)
	if err != nil {
		return err
	}
	rec := bot.NewRecorder(s, bot.RecorderOptions{
		Logger:  log,
		Prepare: router.ContentPolicy(cfg.Storage.StoreMessageContent),
		Routers: []bot.Router{router},
	})
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := rec.Close(dctx); err != nil {
			log.Error().Err(err).Msg("recorder did not drain in time")
		}
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	start := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	start("retention", func(ctx context.Context) error { return retentionLoop(ctx, s, rec, cfg.Storage.RetentionDays, log) })
	if cfg.API.Listen != "" {
		h := opsHandler(s, cfg.API.OperatorToken.Reveal(), log)
		start("api", func(ctx context.Context) error { return serveOps(ctx, cfg.API.Listen, h) })
	}
	if cfg.Discord.Enabled {
		d, err := discord.New(discord.Options{
			Token: cfg.Discord.Token.Reveal(), APIURL: cfg.Discord.APIURL,
			ShardID: cfg.Discord.ShardID, ShardCount: cfg.Discord.ShardCount, DevGuildID: cfg.Discord.DevGuildID,
			Store: s, Recorder: rec, Logger: log, Router: router,
		})
		if err != nil {
			return err
		}
		start("discord", d.Run)
	}
	if cfg.Telegram.Enabled {
		t, err := telegram.New(telegram.Options{
			Token: cfg.Telegram.Token.Reveal(), APIURL: cfg.Telegram.APIURL, PollTimeout: cfg.Telegram.PollTimeout.D(),
			Store: s, Recorder: rec, Logger: log, Router: router,
			DeleteCommandsAfter: cfg.Telegram.DeleteCommandsAfter.D(), DefaultLocale: cfg.Defaults.Locale,
			Webhook: telegram.Webhook{Listen: cfg.Telegram.Webhook.Listen, URL: cfg.Telegram.Webhook.URL,
				SecretToken: cfg.Telegram.Webhook.SecretToken.Reveal()},
		})
		if err != nil {
			return err
		}
		start("telegram", t.Run)
	}
	log.Info().Bool("discord", cfg.Discord.Enabled).Bool("telegram", cfg.Telegram.Enabled).Msg("chatwarden running")
	<-ctx.Done()
	log.Info().Msg("shutting down")
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// retentionLoop purges old records once at start and then daily.
func retentionLoop(ctx context.Context, s *store.Store, rec *bot.Recorder, days int, log zerolog.Logger) error {
	for {
		n, err := purgeAll(ctx, s, days, nil, func(e *bot.Event) error { return rec.Record(ctx, e) })
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Error().Err(err).Msg("retention purge")
		} else if n > 0 {
			log.Info().Int("records", n).Msg("retention purge")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(24 * time.Hour):
		}
	}
}
