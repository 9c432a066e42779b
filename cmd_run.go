package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/recorder"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/handlers/discord"
	"github.com/chatwarden/chatwarden/handlers/httpapi"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/store"
	"github.com/chatwarden/chatwarden/verification"
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

// serve runs the bot until ctx ends, then drains within shutdownTimeout:
// the platforms stop taking events, the engines finish their queued work,
// the recorder commits what it holds, and the store closes.
func serve(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	modDefaults, verDefaults, err := engineDefaults(cfg)
	if err != nil {
		return err
	}
	s, err := store.Open(cfg.Storage.Path, store.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	log.Info().Str("db", cfg.Storage.Path).Int("properties", len(s.Properties())).Msg("store open")

	router, err := logchannel.NewRouter(ctx, s, cfg.Defaults.Locale)
	if err != nil {
		return err
	}
	// The engines record through the recorder, whose log routing asks the
	// moderation engine about raids: rec is set before anything records.
	var rec *recorder.Recorder
	late := recordFunc(func(ctx context.Context, events ...*audit.Event) error { return rec.Record(ctx, events...) })
	mod, err := moderation.New(moderation.Options{Settings: s, Recorder: late, KV: s, Defaults: modDefaults,
		Logger: log.With().Str("component", "moderation").Logger()})
	if err != nil {
		return err
	}
	ver, err := verification.New(ctx, verification.Options{KV: s, Settings: s, Recorder: late, Defaults: verDefaults,
		Logger: log.With().Str("component", "verification").Logger()})
	if err != nil {
		mod.Close(ctx)
		return err
	}
	rec = recorder.New(s, recorder.Options{
		Logger:  log,
		Prepare: router.ContentPolicy(cfg.Storage.StoreMessageContent),
		Routers: []recorder.Router{mod.RaidFilter(router)},
	})
	rec.Subscribe(mod.Committed)
	rec.Subscribe(ver.Committed)
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		for _, eng := range []struct {
			name  string
			close func(context.Context) error
		}{{"moderation", mod.Close}, {"verification", ver.Close}} {
			if err := eng.close(dctx); err != nil {
				log.Error().Err(err).Str("engine", eng.name).Msg("engine did not finish in time")
			}
		}
		if err := rec.Close(dctx); err != nil {
			log.Error().Err(err).Msg("recorder did not drain in time")
		}
	}()

	metrics := httpapi.NewMetrics()
	rec.Subscribe(countEngineActions(metrics))
	var api *httpapi.Server
	tokens := command.NewTokens(s, rec)
	if cfg.API.Listen != "" {
		api, err = httpapi.New(httpapi.Options{Store: s, Recorder: rec, OperatorToken: cfg.API.OperatorToken.Reveal(),
			Tokens: tokens, Metrics: metrics, DefaultLocale: cfg.Defaults.Locale, Logger: log})
		if err != nil {
			return err
		}
	}

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
	if cfg.Discord.Enabled {
		d, err := discord.New(discord.Options{
			Token: cfg.Discord.Token.Reveal(), APIURL: cfg.Discord.APIURL,
			ShardID: cfg.Discord.ShardID, ShardCount: cfg.Discord.ShardCount, DevGuildID: cfg.Discord.DevGuildID,
			Store: s, Recorder: rec, Logger: log, Router: router,
			Moderation: mod, Verification: ver, Tokens: tokens,
			OnReconnect: countReconnect(metrics, "discord"), OnDeliveryFailure: countDeliveryFailure(metrics, "discord"),
		})
		if err != nil {
			return err
		}
		if api != nil {
			api.AddReady("discord", func(context.Context) error {
				if !d.Connected() { // false until READY, and while reconnecting
					return errors.New("not connected to the gateway")
				}
				return nil
			})
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
			Moderation: mod, Verification: ver, Tokens: tokens,
			OnReconnect: countReconnect(metrics, "telegram"), OnDeliveryFailure: countDeliveryFailure(metrics, "telegram"),
		})
		if err != nil {
			return err
		}
		if api != nil {
			api.AddReady("telegram", readyWhen(t.Ready()))
		}
		start("telegram", t.Run)
	}
	if api != nil {
		start("api", func(ctx context.Context) error { return httpapi.Serve(ctx, cfg.API.Listen, api) })
	}
	log.Info().Bool("discord", cfg.Discord.Enabled).Bool("telegram", cfg.Telegram.Enabled).
		Str("api", cfg.API.Listen).Msg("chatwarden running")
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

// recordFunc adapts a function to the engines' Recorder.
type recordFunc func(ctx context.Context, events ...*audit.Event) error

func (f recordFunc) Record(ctx context.Context, events ...*audit.Event) error {
	return f(ctx, events...)
}

// readyWhen is a readiness check that passes once ready is closed.
func readyWhen(ready <-chan struct{}) httpapi.ReadyFunc {
	return func(context.Context) error {
		select {
		case <-ready:
			return nil
		default:
			return errors.New("not connected yet")
		}
	}
}

// countReconnect counts a platform's lost connections for /metrics.
func countReconnect(m *httpapi.Metrics, platform string) func() {
	return func() { m.Inc(httpapi.MetricReconnects, "platform", platform) }
}

// countDeliveryFailure counts a platform's refused log posts for /metrics.
func countDeliveryFailure(m *httpapi.Metrics, platform string) func(string, error) {
	return func(string, error) { m.Inc(httpapi.MetricDeliveryFailures, "platform", platform) }
}

// countEngineActions counts the engines' records by kind for /metrics:
// MODERATION_LINK, each SECURITY_EVENT kind, VERIFICATION_SUCCESS and
// VERIFICATION_FAILURE.
func countEngineActions(m *httpapi.Metrics) func([]*audit.Event) {
	return func(events []*audit.Event) {
		for _, e := range events {
			switch e.Type {
			case audit.ModerationLink, audit.VerificationSuccess, audit.VerificationFailure:
				m.Inc(httpapi.MetricEngineActions, "kind", e.Type.String())
			case audit.SecurityEvent:
				m.Inc(httpapi.MetricEngineActions, "kind", e.Params.Get(audit.ParamKind))
			}
		}
	}
}

// engineDefaults turns the config's moderation and verification sections
// into the engines' defaults and checks them, naming the key and line of a
// bad value.
func engineDefaults(cfg *config.Config) (moderation.Defaults, verification.Defaults, error) {
	m, v := cfg.Moderation, cfg.Verification
	mod := moderation.Defaults{
		LinkFilter: moderation.LinkFilterConfig{Enabled: m.LinkFilter.Enabled, Mode: m.LinkFilter.Mode,
			Denylist: m.LinkFilter.Denylist, Allowlist: m.LinkFilter.Allowlist, DenylistFiles: m.LinkFilter.DenylistFiles,
			BlockInvites: m.LinkFilter.BlockInvites, ExemptAdmins: m.LinkFilter.ExemptAdmins,
			Lookalike: m.LinkFilter.Lookalike, ProtectedDomains: m.LinkFilter.ProtectedDomains, BaitWords: m.LinkFilter.BaitWords,
			Escalate: m.LinkFilter.Escalate, EscalateAfter: m.LinkFilter.EscalateAfter,
			EscalateWindow: m.LinkFilter.EscalateWindow.D(), EscalateTimeout: m.LinkFilter.EscalateTimeout.D()},
		Impersonation: moderation.ImpersonationConfig{Enabled: m.Impersonation.Enabled, Action: m.Impersonation.Action,
			ProtectedNames: m.Impersonation.ProtectedNames, Quarantine: m.Impersonation.Quarantine.D()},
		IntegrationGuard: moderation.IntegrationGuardConfig{Enabled: m.IntegrationGuard.Enabled,
			Allowlist: m.IntegrationGuard.Allowlist, Kick: m.IntegrationGuard.Kick},
		RaidGuard: moderation.RaidGuardConfig{Enabled: m.RaidGuard.Enabled, Joins: m.RaidGuard.Joins, Window: m.RaidGuard.Window.D()},
	}
	ver := verification.Defaults{Enabled: v.Enabled, Kind: v.Kind, Timeout: v.Timeout.D(), MaxAttempts: v.MaxAttempts,
		FailAction: v.FailAction, SkipAddedByAdmin: v.SkipAddedByAdmin}
	// The engines' messages start with the key below their section.
	if err := mod.Validate(); err != nil {
		key, msg, _ := strings.Cut(err.Error(), ": ")
		return mod, ver, cfg.ErrorAt("moderation."+key, msg)
	}
	if err := ver.Validate(); err != nil {
		key, msg, _ := strings.Cut(err.Error(), ": ")
		return mod, ver, cfg.ErrorAt(key, msg)
	}
	return mod, ver, nil
}

// retentionLoop purges old records once at start and then daily.
func retentionLoop(ctx context.Context, s *store.Store, rec *recorder.Recorder, days int, log zerolog.Logger) error {
	for {
		n, err := purgeAll(ctx, s, days, nil, func(e *audit.Event) error { return rec.Record(ctx, e) })
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
