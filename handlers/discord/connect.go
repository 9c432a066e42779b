package discord

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// Reconnection. discordgo's own loop (Session.ShouldReconnectOnError)
// retries forever, whatever the cause: with a token reset in the
// developer portal the bot would sit connected to nothing, logging
// errors, until someone looked. Run owns the loop instead: every lost
// connection (a dropped socket, op 7 RECONNECT, missed heartbeat acks, a
// close frame) reaches it through the Disconnect event, and before it
// reconnects it asks REST whether the token and intents still hold.

const (
	// flapWindow: a connection lost within this time of being made is
	// reconnected only after a backoff, so a gateway that closes every
	// session at once is not hammered.
	flapWindow = 2 * time.Second
	minBackoff = time.Second
	maxBackoff = 2 * time.Minute
)

// onConnect runs when a session is READY or RESUMED.
func (b *Bot) onConnect() {
	b.connectedAt.Store(time.Now().UnixNano())
	b.connected.Store(true)
}

// onDisconnect runs whenever discordgo closes the socket, including at
// shutdown: it tells Run, which decides.
func (b *Bot) onDisconnect() {
	b.connected.Store(false)
	if b.opts.OnReconnect != nil && !b.closing.Load() {
		b.opts.OnReconnect()
	}
	select {
	case b.lost <- struct{}{}:
	default: // Run already knows
	}
}

// Connected reports whether the gateway session is up (for readiness).
func (b *Bot) Connected() bool { return b.connected.Load() }

// stayConnected reconnects after every lost connection until ctx ends
// (nil) or the connection cannot be made again (the operator's error).
func (b *Bot) stayConnected(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-b.lost:
		}
		if err := b.reconnect(ctx); err != nil {
			return err
		}
	}
}

// reconnect opens the gateway again, resuming the session where Discord
// allows (discordgo keeps the session id and sequence across Close). It
// returns nil once connected or when ctx ends, and an error only for what
// retrying cannot fix.
func (b *Bot) reconnect(ctx context.Context) error {
	var wait time.Duration
	if since := time.Since(time.Unix(0, b.connectedAt.Load())); since < flapWindow {
		wait = minBackoff
	}
	for {
		if wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait/2 + rand.N(wait/2)):
			}
			wait = min(wait*2, maxBackoff)
		} else {
			wait = minBackoff
		}
		if ctx.Err() != nil {
			return nil
		}
		if _, app, err := b.credentials(); errors.Is(err, ErrTokenRejected) || errors.Is(err, ErrIntentsDisabled) {
			return err
		} else if err == nil {
			b.chooseIntents(app) // MESSAGE CONTENT may have been turned off or on
		} else {
			// Discord's REST being down says nothing about the token.
			b.log.Warn().Err(err).Msg("discord: could not check the token before reconnecting")
		}
		err := b.open(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil || errors.Is(err, discordgo.ErrWSAlreadyOpen) {
			b.log.Info().Msg("discord: reconnected to the gateway")
			return nil
		}
		if explained, fatal := b.gatewayError(err); fatal {
			return explained
		}
		b.log.Warn().Err(err).Dur("retry_in", wait).Msg("discord: reconnect to the gateway")
	}
}

// gatewayError explains a failed gateway connection, and reports whether
// no retry can fix it: Discord's close codes 4004 and 4010 to 4014, which
// an operator (or a chatwarden fix) must act on, say what to do.
func (b *Bot) gatewayError(err error) (explained error, fatal bool) {
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		return fmt.Errorf("discord: connect to the gateway: %w", err), false
	}
	switch ce.Code {
	case 4004:
		return tokenRejected(), true
	case 4010:
		return fmt.Errorf("discord: the gateway refused shard %d of %d: check discord.shard_id and discord.shard_count: %w",
			b.opts.ShardID, b.opts.ShardCount, err), true
	case 4011:
		return fmt.Errorf("discord: the bot is in too many servers for %d shard(s): raise discord.shard_count and run one process per shard range (README, Scaling): %w",
			b.opts.ShardCount, err), true
	case 4012, 4013:
		return fmt.Errorf("discord: the gateway refused the session's API version or intents (a chatwarden bug, please report it): %w", err), true
	case 4014:
		return fmt.Errorf("%w: turn on SERVER MEMBERS INTENT (and MESSAGE CONTENT INTENT, or set discord.message_content: false) under Bot > Privileged Gateway Intents in the developer portal: %v",
			ErrIntentsDisabled, err), true
	}
	return fmt.Errorf("discord: connect to the gateway: %w", err), false
}
