package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/doctor"
)

// Doctor checks, for chatwarden doctor, that the NATS servers answer with
// the configured credentials and TLS and that the stream and the API
// token bucket exist, and
// reports how many messages it holds. depth, when not nil, counts the
// records still waiting in this process's outbox (the stream's lag).
func Doctor(ctx context.Context, c Conn, stream string, depth func() (int, error), log zerolog.Logger) doctor.Section {
	sec := doctor.Section{Platform: "cluster", Name: "NATS JetStream"}
	if err := c.check(); err != nil {
		sec.Fail("NATS settings", err.Error(), "Fix cluster.nats_url and the files cluster.credentials and cluster.tls.* name.")
		return sec
	}
	// One attempt, bounded: the doctor reports, it does not wait for NATS.
	opts := append(c.options(log, func() {}), nats.RetryOnFailedConnect(false), nats.MaxReconnects(0), nats.Timeout(5*time.Second))
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		sec.Fail("NATS reachable", err.Error(), "Start the NATS servers cluster.nats_url names, or correct the URL, credentials or TLS files.")
		return sec
	}
	defer nc.Close()
	sec.Pass("NATS reachable", nc.ConnectedUrlRedacted())
	js, err := jetstream.New(nc)
	if err != nil {
		sec.Fail("JetStream", err.Error(), "Enable JetStream on the NATS servers (-js, or jetstream {} in their config).")
		return sec
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := js.Stream(cctx, stream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		sec.Warn("stream "+stream, "not created yet", "Nothing to do: the first shard that publishes creates it (or create it with replicas 3 in a cluster).")
	case err != nil:
		sec.Fail("stream "+stream, err.Error(), "Give these credentials the right to read the stream's information (JetStream API), or check that JetStream runs.")
	default:
		info := s.CachedInfo()
		sec.Pass("stream "+stream, fmt.Sprintf("%d records, %d replicas", info.State.Msgs, info.Config.Replicas))
	}
	bucket := TokenBucket(stream)
	kv, err := js.KeyValue(cctx, bucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound):
		sec.Warn("API token bucket "+bucket, "not created yet", "Nothing to do: the first process of the fleet creates it (or create it with replicas 3 in a cluster).")
	case err != nil:
		sec.Fail("API token bucket "+bucket, err.Error(), "Give these credentials the right to use the bucket (JetStream API and $KV."+bucket+".>), or check that JetStream runs.")
	default:
		detail := "reachable"
		if st, err := kv.Status(cctx); err == nil {
			detail = fmt.Sprintf("%d token changes kept", st.Values())
		}
		sec.Pass("API token bucket "+bucket, detail)
	}
	if depth != nil {
		switch n, err := depth(); {
		case err != nil:
			sec.Warn("stream behind by", err.Error(), "Stop the bot and run chatwarden doctor again to count the records waiting to be published.")
		case n > 0:
			sec.Warn("stream behind by", fmt.Sprintf("%d records waiting to be published", n), "If this grows, check that NATS is reachable from the bot.")
		default:
			sec.Pass("stream up to date", "no record waiting to be published")
		}
	}
	return sec
}
