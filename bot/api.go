package bot

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

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
	// The query node's own records (API authentication failures, viewer
	// logins, its purges) go to a database of their own: the chains of
	// storage.path are the shards', record for record.
	own, err := store.Open(NodeStorePath(cfg.Storage.Path), store.Options{})
	if err != nil {
		return err
	}
	defer own.Close()
	// No router: a query node delivers no log entry and republishes nothing.
	rec := recorder.New(s, recorder.Options{Logger: log})
	ownRec := recorder.New(own, recorder.Options{Logger: log})
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		for _, r := range []*recorder.Recorder{rec, ownRec} {
			if err := r.Close(dctx); err != nil {
				log.Error().Err(err).Msg("shutdown did not finish in time")
			}
		}
	}()
	cons, err := cluster.NewConsumer(cluster.ConsumerOptions{Conn: NATSConn(cfg.Cluster, "chatwarden-api"),
		Stream: cfg.Cluster.Stream, Recorder: rec, Cursors: s, Logger: log})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	mirror, err := cluster.NewTokenMirror(cluster.TokenOptions{Conn: NATSConn(cfg.Cluster, "chatwarden-api-tokens"),
		Bucket: cluster.TokenBucket(cfg.Cluster.Stream), Store: s, Logger: log})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	metrics := httpapi.NewMetrics()
	api, err := httpapi.New(httpapi.Options{Store: s, Recorder: nodeRecorder{ownRec, rec.Stats()}, Feed: rec, OperatorToken: cfg.API.OperatorToken.Reveal(),
		Tokens: command.NewTokens(s, ownRec), Metrics: metrics, DefaultLocale: cfg.Defaults.Locale, Logger: log,
		TrustedProxyHeader: cfg.API.TrustedProxyHeader})
	if err != nil {
		return err
	}
	api.AddReady("cluster", cons.Ready)
	api.AddReady("cluster_tokens", mirror.Ready)

	svc := newServices(ctx)
	defer svc.cancel()
	ctx = svc.ctx
	start := svc.start
	start("cluster", cons.Run)
	start("cluster tokens", mirror.Run)
	start("retention", func(ctx context.Context) error { return retentionLoop(ctx, s, ownRec, cfg.Storage.RetentionDays, log) })
	start("retention of the node's records", func(ctx context.Context) error {
		return retentionLoop(ctx, own, ownRec, cfg.Storage.RetentionDays, log)
	})
	start("api", func(ctx context.Context) error { return httpapi.Serve(ctx, cfg.API.Listen, api) })
	log.Info().Str("api", cfg.API.Listen).Str("stream", cfg.Cluster.Stream).Msg("chatwarden query node running")
	return svc.wait(log)
}

// NodeStorePath is where a query node whose fleet database is path keeps
// its own records: chatwarden.db -> chatwarden-node.db.
func NodeStorePath(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-node" + ext
}

// nodeRecorder records a query node's own events in its own database,
// while /metrics reports the commits of the records copied from the
// stream (the node's work).
type nodeRecorder struct {
	*recorder.Recorder
	stats *recorder.Stats
}

func (n nodeRecorder) Stats() *recorder.Stats { return n.stats }
