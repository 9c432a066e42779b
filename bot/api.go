package bot

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/handlers/httpapi"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// RunAPI runs a query node until ctx ends: no platform, the fleet's
// stream copied into its own store, and the HTTP API over it. It needs
// cluster.nats_url and api.listen.
func RunAPI(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	if !cfg.Cluster.Enabled() {
		return cfg.ErrorAt("cluster.nats_url", "a query node (chatwarden api) reads the fleet's stream: set the NATS server URL")
	}
	if cfg.API.Listen == "" {
		return cfg.ErrorAt("api.listen", "a query node (chatwarden api) serves the HTTP API: set host:port")
	}
	s, err := store.Open(cfg.Storage.Path, store.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	log.Info().Str("db", cfg.Storage.Path).Int("properties", len(s.Properties())).Msg("store open")
	// No router: a query node delivers no log entry and republishes nothing.
	rec := recorder.New(s, recorder.Options{Logger: log})
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := rec.Close(dctx); err != nil {
			log.Error().Err(err).Msg("shutdown did not finish in time")
		}
	}()
	cons, err := cluster.NewConsumer(cluster.ConsumerOptions{Conn: NATSConn(cfg.Cluster, "chatwarden-api"),
		Stream: cfg.Cluster.Stream, Recorder: rec, Cursors: s, Logger: log})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	metrics := httpapi.NewMetrics()
	api, err := httpapi.New(httpapi.Options{Store: s, Recorder: rec, OperatorToken: cfg.API.OperatorToken.Reveal(),
		Tokens: command.NewTokens(s, rec), Metrics: metrics, DefaultLocale: cfg.Defaults.Locale, Logger: log,
		TrustedProxyHeader: cfg.API.TrustedProxyHeader})
	if err != nil {
		return err
	}
	api.AddReady("cluster", cons.Ready)

	svc := newServices(ctx)
	defer svc.cancel()
	ctx = svc.ctx
	start := svc.start
	start("cluster", cons.Run)
	start("retention", func(ctx context.Context) error { return retentionLoop(ctx, s, rec, cfg.Storage.RetentionDays, log) })
	start("api", func(ctx context.Context) error { return httpapi.Serve(ctx, cfg.API.Listen, api) })
	log.Info().Str("api", cfg.API.Listen).Str("stream", cfg.Cluster.Stream).Msg("chatwarden query node running")
	return svc.wait(log)
}
