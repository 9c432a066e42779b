package bot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/coord"
	"github.com/chatwarden/chatwarden/handlers/discord"
	"github.com/chatwarden/chatwarden/handlers/httpapi"
	"github.com/chatwarden/chatwarden/handlers/telegram"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
	"github.com/chatwarden/chatwarden/verification"
)

// shutdownTimeout bounds draining the recorder at exit.
const shutdownTimeout = 10 * time.Second

// Run runs the bot until ctx ends, then drains within shutdownTimeout:
// the platforms stop taking events, the engines finish their queued work,
// the recorder commits what it holds, and the store closes.
func Run(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
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
	// The recorder first: the engines record through it. Its log routing
	// also asks the moderation engine about raids, so the engine's filter
	// is added once the engine exists, before any platform or API runs
	// and so before anything is recorded.
	rec := recorder.New(s, recorder.Options{
		Logger:  log,
		Prepare: router.ContentPolicy(cfg.Storage.StoreMessageContent),
	})
	var closers []func(context.Context) error // run in reverse at exit
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		for i := len(closers) - 1; i >= 0; i-- {
			if err := closers[i](dctx); err != nil {
				log.Error().Err(err).Msg("shutdown did not finish in time")
			}
		}
	}()
	closers = append(closers, func(ctx context.Context) error {
		if err := rec.Close(ctx); err != nil {
			return fmt.Errorf("recorder: %w", err)
		}
		return nil
	})
	pub, err := newPublisher(cfg.Cluster, s, rec, log) // nil without cluster.nats_url
	if err != nil {
		return err
	}
	var coordinator *cluster.Coordinator // nil without cluster.nats_url, or with nothing to coordinate
	if cfg.Discord.Enabled || cfg.Telegram.Enabled && cfg.Telegram.Webhook.Listen == "" {
		if coordinator, err = newCoordinator(cfg.Cluster, s, log); err != nil {
			return err
		}
	}
	if coordinator != nil {
		defer coordinator.Close()
	}
	mod, err := moderation.New(moderation.Options{Settings: s, Recorder: rec, KV: s, Defaults: cfg.Moderation,
		Logger: log.With().Str("component", "moderation").Logger()})
	if err != nil {
		return err
	}
	closers = append(closers, func(ctx context.Context) error {
		if err := mod.Close(ctx); err != nil {
			return fmt.Errorf("moderation engine: %w", err)
		}
		return nil
	})
	ver, err := verification.New(ctx, verification.Options{KV: s, Settings: s, Recorder: rec, Defaults: cfg.Verification,
		Logger: log.With().Str("component", "verification").Logger()})
	if err != nil {
		return err
	}
	closers = append(closers, func(ctx context.Context) error {
		if err := ver.Close(ctx); err != nil {
			return fmt.Errorf("verification engine: %w", err)
		}
		return nil
	})
	rec.AddRouter(mod.RaidFilter(router))
	rec.Subscribe(mod.Committed)
	rec.Subscribe(ver.Committed)

	metrics := httpapi.NewMetrics()
	rec.Subscribe(countEngineActions(metrics))
	var connected [2]func() bool // discord, telegram: nil when not enabled
	metrics.GaugeFunc(httpapi.MetricPlatformConnected, "1 while the platform connection is up (Discord gateway, Telegram polling or webhook), by platform.",
		[]string{"platform"}, func(emit func(float64, ...string)) {
			for i, p := range httpapi.Platforms {
				if connected[i] != nil {
					emit(boolGauge(connected[i]()), p)
				}
			}
		})
	metrics.GaugeFunc(httpapi.MetricVerificationPending, "Verification challenges waiting for an answer, by platform.",
		[]string{"platform"}, func(emit func(float64, ...string)) { pendingChallenges(s, emit) })
	metrics.GaugeFunc(httpapi.MetricRaidsInProgress, "Communities in a join raid, by platform.",
		[]string{"platform"}, func(emit func(float64, ...string)) {
			counts := mod.RaidsInProgress()
			emit(float64(counts[audit.Discord]), "discord")
			emit(float64(counts[audit.Telegram]), "telegram")
		})
	var api *httpapi.Server
	tokenSync, err := newTokenSync(cfg.Cluster, s, log) // nil without cluster.nats_url
	if err != nil {
		return err
	}
	tokens := command.NewTokens(s, rec)
	if tokenSync != nil {
		tokens = command.NewTokens(tokenSync, rec)
	}
	// A viewer session's moderator is checked again on their platform;
	// the platforms are set below, before the API serves.
	var access viewerAccess
	if cfg.API.Listen != "" {
		api, err = httpapi.New(httpapi.Options{Store: s, Recorder: rec, OperatorToken: cfg.API.OperatorToken.Reveal(),
			Tokens: tokens, Metrics: metrics, DefaultLocale: cfg.Defaults.Locale, Logger: log,
			TrustedProxyHeader: cfg.API.TrustedProxyHeader,
			ViewerAccess:       access.allowed, AccessRecheck: cfg.API.PermissionRecheck.D(),
			DiscordOAuth: discordOAuth(cfg), TelegramLogin: telegramLogin(cfg)})
		if err != nil {
			return err
		}
	}
	// One-time viewer links from chat (/audit viewer, /viewer) need the
	// viewer's public address.
	var discordLink discord.ViewerLinkFunc
	var telegramLink telegram.ViewerLinkFunc
	if api != nil && cfg.API.PublicURL != "" {
		discordLink = func(ctx context.Context, property string, user command.Admin) (string, time.Time, error) {
			return api.LoginLink(ctx, cfg.API.PublicURL, audit.Discord, property, user)
		}
		telegramLink = func(ctx context.Context, property string, user command.Admin) (string, time.Time, error) {
			return api.LoginLink(ctx, cfg.API.PublicURL, audit.Telegram, property, user)
		}
	}

	svc := newServices(ctx)
	defer svc.cancel()
	ctx = svc.ctx
	start := svc.start
	if pub != nil {
		publisherMetrics(pub, metrics, api)
		start("cluster", pub.Run)
		start("cluster tokens", tokenSync.Run)
		if api != nil {
			api.AddReady("cluster_tokens", tokenSync.Ready)
		}
	}
	start("retention", func(ctx context.Context) error { return retentionLoop(ctx, s, rec, cfg.Storage.RetentionDays, log) })
	if cfg.Discord.Enabled {
		var identify coord.Identify // with a fleet, identifies and shards are coordinated
		var shards coord.Shards
		if coordinator != nil {
			identify, shards = coordinator.Identify(), coordinator.Shards()
		}
		d, err := discord.New(discord.Options{
			Identify: identify, Shards: shards,
			Token: cfg.Discord.Token.Reveal(), APIURL: cfg.Discord.APIURL,
			ShardID: cfg.Discord.ShardID, ShardCount: cfg.Discord.ShardCount, DevGuildID: cfg.Discord.DevGuildID,
			Store: s, Recorder: rec, Logger: log, Router: router, WithoutMessageContent: !cfg.Discord.MessageContent,
			Moderation: mod, Verification: ver, Tokens: tokens, ViewerLink: discordLink,
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
		connected[0] = d.Connected
		access.discord = d.ViewerAllowed
		start("discord", d.Run)
	}
	if cfg.Telegram.Enabled {
		var lease coord.Lease // with a fleet, one process polls
		if coordinator != nil {
			lease = telegramLease(coordinator, cfg.Telegram.Token.Reveal())
		}
		t, err := telegram.New(telegram.Options{
			Lease: lease, AdoptAfter: cfg.Cluster.LeaseTTL.D(),
			Token: cfg.Telegram.Token.Reveal(), APIURL: cfg.Telegram.APIURL, PollTimeout: cfg.Telegram.PollTimeout.D(),
			Store: s, Recorder: rec, Logger: log, Router: router,
			DeleteCommandsAfter: cfg.Telegram.DeleteCommandsAfter.D(), DefaultLocale: cfg.Defaults.Locale,
			Webhook: telegram.Webhook{Listen: cfg.Telegram.Webhook.Listen, URL: cfg.Telegram.Webhook.URL,
				SecretToken: cfg.Telegram.Webhook.SecretToken.Reveal()},
			Moderation: mod, Verification: ver, Tokens: tokens, ViewerLink: telegramLink,
			OnReconnect: countReconnect(metrics, "telegram"), OnDeliveryFailure: countDeliveryFailure(metrics, "telegram"),
		})
		if err != nil {
			return err
		}
		if api != nil {
			api.AddReady("telegram", readyWhen(t.Ready()))
		}
		connected[1] = t.Connected
		access.telegram = t.ViewerAllowed
		start("telegram", t.Run)
	}
	if api != nil {
		start("api", func(ctx context.Context) error { return httpapi.Serve(ctx, cfg.API.Listen, api) })
	}
	log.Info().Bool("discord", cfg.Discord.Enabled).Bool("telegram", cfg.Telegram.Enabled).
		Str("api", cfg.API.Listen).Bool("cluster", pub != nil).Msg("chatwarden running")
	return svc.wait(log)
}

// discordOAuth is the viewer's "Log in with Discord", when configured:
// Discord's authorization URL is its REST base without /api/vN.
func discordOAuth(cfg *config.Config) httpapi.DiscordOAuth {
	d := cfg.API.DiscordOAuth
	if d.ClientID == "" {
		return httpapi.DiscordOAuth{}
	}
	api := strings.TrimRight(cfg.Discord.APIURL, "/")
	site := apiSuffix.ReplaceAllString(api, "")
	return httpapi.DiscordOAuth{ClientID: d.ClientID, ClientSecret: d.ClientSecret.Reveal(), RedirectURL: d.RedirectURL,
		AuthorizeURL: site + "/oauth2/authorize", APIURL: api}
}

var apiSuffix = regexp.MustCompile(`/api(/v[0-9]+)?$`)

// telegramLogin is the viewer's Telegram Login Widget, when configured.
func telegramLogin(cfg *config.Config) httpapi.TelegramLogin {
	t := cfg.API.TelegramLogin
	if t.BotUsername == "" {
		return httpapi.TelegramLogin{}
	}
	return httpapi.TelegramLogin{BotUsername: strings.TrimPrefix(t.BotUsername, "@"), BotToken: cfg.Telegram.Token.Reveal(),
		AuthURL: strings.TrimRight(cfg.API.PublicURL, "/") + "/login/telegram"}
}

// viewerAccess asks each platform whether a viewer session's moderator
// still may read a community's log. Its fields are set while the bot is
// built, before the API serves.
type viewerAccess struct {
	discord, telegram func(ctx context.Context, property, user string) (bool, error)
}

func (a *viewerAccess) allowed(ctx context.Context, p audit.Platform, property, user string) (bool, error) {
	check := a.discord
	if p == audit.Telegram {
		check = a.telegram
	}
	if check == nil { // the platform is not enabled (any more): no one is its moderator
		return false, nil
	}
	return check(ctx, property, user)
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

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// pendingChallenges emits the open verification challenges by platform
// (keys of verification.NSPending start with the platform's byte), from
// the store's count of those keys: no scan per scrape.
func pendingChallenges(s *store.Store, emit func(float64, ...string)) {
	for _, p := range []audit.Platform{audit.Discord, audit.Telegram} {
		n, err := s.KeyCount(verification.NSPending, byte(p))
		if err != nil {
			return // no sample: absent rather than wrong
		}
		emit(float64(n), p.String())
	}
}

// countReconnect counts a platform's lost connections for /metrics.
func countReconnect(m *httpapi.Metrics, platform string) func() {
	return func() { m.Reconnect(platform) }
}

// countDeliveryFailure counts a platform's refused log posts for /metrics.
func countDeliveryFailure(m *httpapi.Metrics, platform string) func(string, error) {
	return func(string, error) { m.DeliveryFailure(platform) }
}

// countEngineActions counts the engines' records by kind for /metrics:
// MODERATION_LINK, each SECURITY_EVENT kind, VERIFICATION_SUCCESS and
// VERIFICATION_FAILURE.
func countEngineActions(m *httpapi.Metrics) func([]*audit.Event) {
	m.StartEngineActions(audit.ModerationLink.String(), audit.VerificationSuccess.String(), audit.VerificationFailure.String())
	return func(events []*audit.Event) {
		for _, e := range events {
			switch e.Type {
			case audit.ModerationLink, audit.VerificationSuccess, audit.VerificationFailure:
				m.EngineAction(e.Type.String())
			case audit.SecurityEvent:
				m.EngineAction(e.Params.Get(audit.ParamKind))
			}
		}
	}
}

// retentionLoop purges old records once at start and then daily.
func retentionLoop(ctx context.Context, s *store.Store, rec *recorder.Recorder, days int, log zerolog.Logger) error {
	for {
		n, err := PurgeAll(ctx, s, days, nil, func(e *audit.Event) error { return rec.Record(ctx, e) })
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
