package discord

import (
	"context"
	"fmt"
)

// In a fleet (Options.Identify and Options.Shards, set by bot.Run when
// cluster.nats_url is), Run claims its shard before it connects, so that
// two processes never run shards that share guilds, and every gateway
// connection waits for its rate-limit bucket's slot (shard_id %
// max_concurrency, one identify per 5 seconds across every process of
// the bot). Resumes wait too, since which one discordgo will send is not
// known before Open: at most one slot's delay. An identify discordgo
// sends by itself in answer to an Invalid Session (op 9) on an open
// socket does not pass the gate.

// claimShard claims this process's shard, or says which process runs it.
func (b *Bot) claimShard(ctx context.Context) (release func(), err error) {
	if b.opts.Shards == nil {
		return func() {}, nil
	}
	release, err = b.opts.Shards.Claim(ctx, b.app.ID, b.opts.ShardID, b.opts.ShardCount)
	if err != nil {
		return nil, fmt.Errorf("discord: shard %d of %d not started: %w", b.opts.ShardID, b.opts.ShardCount, err)
	}
	return release, nil
}

// maxConcurrency is the bot's session_start_limit.max_concurrency (GET
// /gateway/bot), 1 when it cannot be read.
func (b *Bot) maxConcurrency() int {
	gb, err := b.s.GatewayBot()
	if err != nil {
		b.log.Warn().Err(err).Msg("discord: could not read max_concurrency from /gateway/bot; identifying one shard at a time")
		return 1
	}
	return max(gb.SessionStartLimit.MaxConcurrency, 1)
}

// open connects the session, first waiting for the shard's identify slot
// in a fleet.
func (b *Bot) open(ctx context.Context) error {
	if b.opts.Identify != nil {
		if err := b.opts.Identify.Wait(ctx, b.app.ID, b.opts.ShardID, b.maxConcurrency()); err != nil {
			return fmt.Errorf("discord: wait for the identify slot: %w", err)
		}
	}
	return b.s.Open()
}
