package bot

import (
	"fmt"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/handlers/httpapi"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// newPublisher wires publishing to the fleet's stream when cluster.nats_url
// is set: every event recorded from now on is queued for the stream in its
// own commit. Without it, it returns nil and nothing of NATS runs.
func newPublisher(cfg config.Cluster, s *store.Store, rec *recorder.Recorder, log zerolog.Logger) (*cluster.Publisher, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	pub, err := cluster.New(cluster.Options{
		Conn: NATSConn(cfg, "chatwarden"), Stream: cfg.Stream, Outbox: s, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	// Records made before this store joined the fleet are never
	// published: query nodes start its chains after them.
	if err := s.MarkChainStarts(); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	rec.AddRouter(cluster.Router())
	rec.Subscribe(pub.Committed)
	return pub, nil
}

// newTokenSync replicates the community API tokens made on this shard to
// the fleet's bucket when cluster.nats_url is set; nil without it.
func newTokenSync(cfg config.Cluster, s *store.Store, log zerolog.Logger) (*cluster.TokenSync, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	ts, err := cluster.NewTokenSync(cluster.TokenOptions{Conn: NATSConn(cfg, "chatwarden-tokens"),
		Bucket: cluster.TokenBucket(cfg.Stream), Store: s, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return ts, nil
}

// NATSConn is how the config says to reach NATS (the shard, the query
// node and chatwarden doctor).
func NATSConn(cfg config.Cluster, name string) cluster.Conn {
	return cluster.Conn{URL: cfg.NATSURL, Credentials: cfg.Credentials, Name: name,
		CAFile: cfg.TLS.CAFile, CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile}
}

// publisherMetrics adds the outbox depth gauge and the readiness check.
func publisherMetrics(pub *cluster.Publisher, metrics *httpapi.Metrics, api *httpapi.Server) {
	metrics.GaugeFunc(cluster.MetricOutboxDepth, "Records committed but not yet acknowledged by the fleet's JetStream stream.",
		nil, func(emit func(float64, ...string)) {
			if n, err := pub.Depth(); err == nil {
				emit(float64(n))
			}
		})
	if api != nil {
		api.AddReady("cluster", pub.Ready)
	}
}
