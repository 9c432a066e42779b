package cluster_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/cluster/clustertest"
	"github.com/chatwarden/chatwarden/doctor"
)

func find(t *testing.T, sec doctor.Section, name string) doctor.Check {
	t.Helper()
	for _, c := range sec.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, sec.Checks)
	return doctor.Check{}
}

// The doctor's NATS section: a server that does not answer fails with a
// fix; a reachable one passes, the stream is reported once it exists, and
// records waiting in the outbox are the stream's lag.
func TestDoctor(t *testing.T) {
	ctx := context.Background()
	log := zerolog.Nop()
	down := cluster.Doctor(ctx, cluster.Conn{URL: "nats://127.0.0.1:1"}, "CHATWARDEN", nil, log)
	if c := find(t, down, "NATS reachable"); c.OK || c.Fix == "" || down.OK() {
		t.Fatalf("an unreachable server: %+v", c)
	}

	srv := clustertest.StartNATS(t, 0, t.TempDir())
	conn := cluster.Conn{URL: srv.ClientURL()}
	sec := cluster.Doctor(ctx, conn, "CHATWARDEN", func() (int, error) { return 0, nil }, log)
	if !find(t, sec, "NATS reachable").OK || find(t, sec, "stream CHATWARDEN").OK || !sec.OK() {
		t.Fatalf("before the stream exists: %+v", sec.Checks)
	}
	js := jetStream(t, srv.ClientURL())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CHATWARDEN", Subjects: []string{"chatwarden.records.>"}}); err != nil {
		t.Fatal(err)
	}
	if c := find(t, sec, "API token bucket CHATWARDEN_tokens"); c.OK || !c.Advisory {
		t.Fatalf("before the bucket exists: %+v", c)
	}
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: cluster.TokenBucket("CHATWARDEN")}); err != nil {
		t.Fatal(err)
	}
	sec = cluster.Doctor(ctx, conn, "CHATWARDEN", func() (int, error) { return 7, nil }, log)
	if c := find(t, sec, "stream CHATWARDEN"); !c.OK || !strings.Contains(c.Detail, "0 records") {
		t.Fatalf("the stream: %+v", c)
	}
	if c := find(t, sec, "API token bucket CHATWARDEN_tokens"); !c.OK {
		t.Fatalf("the bucket: %+v", c)
	}
	if c := find(t, sec, "stream behind by"); c.OK || !strings.Contains(c.Detail, "7 records") {
		t.Fatalf("the lag: %+v", c)
	}
	sec = cluster.Doctor(ctx, conn, "CHATWARDEN", func() (int, error) { return 0, errors.New("database held") }, log)
	if c := find(t, sec, "stream behind by"); c.OK || !c.Advisory {
		t.Fatalf("an uncounted lag: %+v", c)
	}
}

// The doctor's coordination section names the bucket before it exists,
// then who holds the Telegram poller's lease and which process claims
// which Discord shard.
func TestDoctorCoordination(t *testing.T) {
	ctx := context.Background()
	log := zerolog.Nop()
	srv := clustertest.StartNATS(t, 0, t.TempDir())
	conn := cluster.Conn{URL: srv.ClientURL()}
	sec := cluster.DoctorCoordination(ctx, conn, "COORD", log)
	if c := find(t, sec, "bucket COORD"); c.OK || !c.Advisory || !sec.OK() {
		t.Fatalf("before the bucket exists: %+v", sec.Checks)
	}
	c := coordinator(t, srv.ClientURL(), "host-1", time.Minute)
	term, err := c.Lease("telegram.42").Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Release(ctx)
	release, err := c.Shards().Claim(ctx, "app", 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	sec = cluster.DoctorCoordination(ctx, conn, "COORD", log)
	if c := find(t, sec, "lease.telegram.42"); !c.OK || !strings.Contains(c.Detail, "held by host-1") {
		t.Fatalf("the lease: %+v", c)
	}
	if c := find(t, sec, "Discord shard 1 of 4"); !c.OK || !strings.Contains(c.Detail, "claimed by host-1") {
		t.Fatalf("the claim: %+v", c)
	}
	if !sec.OK() {
		t.Fatalf("section not OK: %+v", sec.Checks)
	}
}
