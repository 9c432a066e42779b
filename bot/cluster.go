package bot

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/coord"
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

// newCoordinator connects this process to the fleet's coordination bucket
// when cluster.nats_url is set; without it, it returns nil.
func newCoordinator(cfg config.Cluster, s *store.Store, log zerolog.Logger) (*cluster.Coordinator, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	holder, err := processName(s)
	if err != nil {
		return nil, err
	}
	c, err := cluster.NewCoordinator(cluster.CoordinatorOptions{Conn: NATSConn(cfg, "chatwarden "+holder),
		Bucket: cfg.CoordinationBucket, TTL: cfg.LeaseTTL.D(), Holder: holder, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return c, nil
}

// nsProcess keeps this database's name in the fleet.
const nsProcess = "cluster/process"

// processName is the name this process holds leases and claims under:
// the host name and a random suffix kept in the database, so that a
// restart with the same database is the same holder (and finds the batch
// a crash left pending in the Telegram lease under its name).
func processName(s *store.Store) (string, error) {
	if v, err := s.GetKV(nsProcess, []byte("name")); err == nil && len(v) > 0 {
		return string(v), nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("cluster: read this process's name: %w", err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "chatwarden"
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return "", err
	}
	name := strings.Map(func(r rune) rune {
		if r == '.' || r == ' ' {
			return '-'
		}
		return r
	}, host) + "-" + hex.EncodeToString(suffix)
	if err := s.Put(nsProcess, []byte("name"), []byte(name)); err != nil {
		return "", fmt.Errorf("cluster: save this process's name: %w", err)
	}
	return name, nil
}

// telegramLease is the Telegram poller's lease of the bot the token
// belongs to (its numeric id, the part before ':', which is public).
func telegramLease(c *cluster.Coordinator, token string) coord.Lease {
	id, _, _ := strings.Cut(token, ":")
	return c.Lease("telegram." + strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, id))
}
