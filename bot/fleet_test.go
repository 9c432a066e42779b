package bot

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/cluster/clustertest"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/coord"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
)

// TestDiscordShardsOfAFleet runs the bot (bot.Run) as the two shards of a
// Discord bot whose max_concurrency is 1, started at the same moment with
// cluster.nats_url set: their identifies reach the fake Discord 5 seconds
// apart or more. A third process configured with a shard already running
// refuses to start, saying which process runs it and what to change.
func TestDiscordShardsOfAFleet(t *testing.T) {
	ns := clustertest.StartNATS(t, 0, t.TempDir())
	fake := discordtest.New(discordtest.Options{MaxConcurrency: 1})
	t.Cleanup(fake.Close)
	cfgFor := func(shard int) *config.Config {
		cfg := config.Default()
		cfg.LogLevel = "warn"
		cfg.Storage.Path = filepath.Join(t.TempDir(), "shard.db")
		cfg.Discord.Enabled, cfg.Discord.Token, cfg.Discord.APIURL = true, "test-token", fake.APIURL()
		cfg.Discord.ShardID, cfg.Discord.ShardCount = shard, 2
		cfg.Cluster.NATSURL = ns.ClientURL()
		cfg.Cluster.LeaseTTL = config.Duration(2 * time.Second)
		return &cfg
	}
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		shard int
		err   error
	}
	done := make(chan result, 3)
	for shard := range 2 {
		cfg := cfgFor(shard)
		go func() { done <- result{shard, Run(ctx, cfg, zerolog.Nop())} }()
	}
	running := 2
	defer func() {
		cancel()
		for range running {
			if r := <-done; r.err != nil {
				t.Errorf("shard %d: %v", r.shard, r.err)
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for len(fake.Identifies()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d identifies; want one per shard", len(fake.Identifies()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	shards := map[int]bool{}
	for _, id := range fake.Identifies() {
		if id.Shard != nil {
			shards[id.Shard[0]] = true
		}
	}
	if !shards[0] || !shards[1] {
		t.Fatalf("identified shards %v; want 0 and 1", shards)
	}
	if n := fake.IdentifyViolations(); n != 0 {
		t.Fatalf("%d identifies broke max_concurrency (one per 5s in a bucket)", n)
	}

	// Shard 1 again, in a third process: refused.
	cfg := cfgFor(1)
	err := Run(ctx, cfg, zerolog.Nop())
	if !errors.Is(err, coord.ErrClaimed) {
		t.Fatalf("a second process on shard 1 of 2: %v; want ErrClaimed", err)
	}
	for _, want := range []string{"shard 1 of 2 not started", "shard 1 of 2 runs in process", "discord.shard_id"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if n := len(fake.Identifies()); n != 2 {
		t.Errorf("%d identifies after the refusal; the refused process must not connect", n)
	}
}
