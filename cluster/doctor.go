package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

// DoctorCoordination reports, for chatwarden doctor, the coordination
// bucket: whether it exists, who holds each lease (the Telegram poller),
// and which process claims which Discord shard, so that an operator sees
// the fleet's division of work. Nothing in it needs fixing except a
// bucket these credentials cannot read.
func DoctorCoordination(ctx context.Context, c Conn, bucket string, log zerolog.Logger) doctor.Section {
	sec := doctor.Section{Platform: "cluster", Name: "coordination (" + bucket + ")"}
	if c.check() != nil {
		return sec // the NATS section says what is wrong
	}
	opts := append(c.options(log, func() {}), nats.RetryOnFailedConnect(false), nats.MaxReconnects(0), nats.Timeout(5*time.Second))
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return sec // the NATS section fails with the fix
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return sec
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(cctx, bucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound):
		sec.Warn("bucket "+bucket, "not created yet", "Nothing to do: the first process that needs it creates it (or create it with replicas 3 in a cluster).")
		return sec
	case err != nil:
		sec.Fail("bucket "+bucket, err.Error(), "Give these credentials the right to read the key-value bucket cluster.coordination_bucket names.")
		return sec
	}
	sec.Pass("bucket "+bucket, "readable")
	lister, err := kv.ListKeys(cctx)
	if err != nil {
		sec.Fail("bucket "+bucket, err.Error(), "Give these credentials the right to read the key-value bucket cluster.coordination_bucket names.")
		return sec
	}
	for key := range lister.Keys() {
		e, err := kv.Get(cctx, key)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(key, "lease."):
			var le leaseEntry
			if json.Unmarshal(e.Value(), &le) != nil {
				sec.Warn(key, "holds something that is not chatwarden's", "Delete the key if nothing of yours wrote it (nats kv del).")
				continue
			}
			if le.Holder == "" {
				sec.Pass(key, "released: the next process to ask takes it")
			} else {
				sec.Pass(key, fmt.Sprintf("held by %s, renewed at %s", le.Holder, le.Renewed.Format(time.RFC3339)))
			}
		case strings.HasPrefix(key, "shard."):
			var cl shardClaim
			if json.Unmarshal(e.Value(), &cl) == nil && cl.Holder != "" {
				sec.Pass(fmt.Sprintf("Discord shard %d of %d", cl.Shard, cl.Count), fmt.Sprintf("claimed by %s, renewed at %s", cl.Holder, cl.Renewed.Format(time.RFC3339)))
			}
		}
	}
	return sec
}
