package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatwarden/chatwarden/coord"
)

// IdentifyInterval is how far apart two identifies of one rate-limit
// bucket are scheduled: Discord's 5 seconds and a margin for the time
// between taking the slot and the identify reaching Discord.
const IdentifyInterval = 5*time.Second + 500*time.Millisecond

// Identify returns the gate Discord identifies wait at.
func (c *Coordinator) Identify() coord.Identify { return identifyGate{c} }

// Shards returns the claims on Discord shards.
func (c *Coordinator) Shards() coord.Shards { return shardClaims{c} }

type identifyGate struct{ c *Coordinator }

// identifySlot is a bucket's key: the last identify scheduled in it.
// NotBefore is in the NATS server's clock, like the entry's own
// timestamp: the slot's time is the later of the two, so that no
// process's clock is compared with another's.
type identifySlot struct {
	Holder    string    `json:"holder"`
	NotBefore time.Time `json:"not_before"`
}

// slotTime is when the identify an entry scheduled happens, in the
// server's clock.
func slotTime(e jetstream.KeyValueEntry) time.Time {
	var s identifySlot
	_ = json.Unmarshal(e.Value(), &s) // unreadable: the entry's own time
	return later(s.NotBefore, e.Created())
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Wait schedules the identify IdentifyInterval after the bucket's last
// one (compare-and-set on the bucket's key, so that racing processes
// queue up) and sleeps until then. Durations only are taken from the
// server's timestamps: the wait is the scheduled time minus the time the
// server wrote the slot, started when the write is answered.
func (g identifyGate) Wait(ctx context.Context, bot string, shard, maxConcurrency int) error {
	if maxConcurrency < 1 {
		maxConcurrency = 1
	}
	key := "identify." + keyPart(bot) + "." + strconv.Itoa(shard%maxConcurrency)
	backoff := 100 * time.Millisecond
	start := time.Now()
	for {
		d, err := g.schedule(ctx, key)
		if err == nil {
			if d > 0 {
				g.c.log.Info().Int("shard", shard).Dur("wait", d).Msg("waiting for the shard's identify slot")
			}
			return wait(ctx, d)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, errRace) {
			if time.Since(start) > g.c.opts.IdentifyFailOpen {
				// A NATS outage must not keep the shard off Discord.
				g.c.log.Warn().Err(err).Int("shard", shard).Msg("identifying without the fleet's identify slot: NATS does not answer")
				return nil
			}
			g.c.log.Warn().Err(err).Int("shard", shard).Msg("cannot take an identify slot; retrying")
			backoff = min(2*backoff, 5*time.Second)
		}
		if err := wait(ctx, backoff); err != nil {
			return err
		}
	}
}

var errRace = errors.New("cluster: another process took the slot first")

// schedule takes the bucket's next slot and returns how long to wait for it.
func (g identifyGate) schedule(ctx context.Context, key string) (time.Duration, error) {
	kv, err := g.c.bucket(ctx)
	if err != nil {
		return 0, err
	}
	var rev uint64
	var notBefore, prevCreated time.Time
	switch e, err := kv.Get(ctx, key); {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return 0, fmt.Errorf("cluster: read identify slot %s: %w", key, err)
	default:
		rev, notBefore, prevCreated = e.Revision(), slotTime(e).Add(IdentifyInterval), e.Created()
	}
	val, _ := json.Marshal(identifySlot{Holder: g.c.opts.Holder, NotBefore: notBefore})
	if rev == 0 {
		rev, err = kv.Create(ctx, key, val)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, errRace
		}
	} else {
		rev, err = kv.Update(ctx, key, val, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return 0, errRace
		}
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: take identify slot %s: %w", key, err)
	}
	mine, err := kv.GetRevision(ctx, key, rev)
	if err != nil {
		// Written, its server time unknown. The server's clock read at
		// least prevCreated before our write, so waiting from now until
		// notBefore as seen from prevCreated is late enough.
		d := max(notBefore.Sub(prevCreated), IdentifyInterval)
		g.c.log.Warn().Err(err).Dur("wait", d).Msg("cannot read back the identify slot; waiting the longest it can be")
		return d, nil
	}
	return slotTime(mine).Sub(mine.Created()), nil
}

// keyPart makes s usable inside a key.
func keyPart(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

type shardClaims struct{ c *Coordinator }

// shardClaim is a claim as kept under shard.<bot>.<count>.<id>.
type shardClaim struct {
	Holder  string    `json:"holder"`
	Shard   int       `json:"shard"`
	Count   int       `json:"count"`
	Renewed time.Time `json:"renewed"`
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// overlap reports whether shard i of n and shard j of m share guilds
// (a guild is on shard (id>>22) % count).
func overlap(i, n, j, m int) bool { return (i-j)%gcd(n, m) == 0 }

// Claim checks every claim of the bot's shards: one held by another
// process on an overlapping shard is alive if its revision moves within
// the TTL (it is renewed every TTL/3), and then the claim is refused;
// stale ones (a process that died) are removed. Then this process's claim
// is written and renewed until release.
//
// While NATS does not answer (a node restarting, the cluster electing a
// leader) Claim waits and tries again until ctx ends: only a live claim
// of another process (coord.ErrClaimed) refuses the shard.
func (s shardClaims) Claim(ctx context.Context, bot string, shard, count int) (func(), error) {
	var r retry
	for {
		release, err := s.claim(ctx, bot, shard, count)
		if err == nil || errors.Is(err, coord.ErrClaimed) {
			return release, err
		}
		if r.failed() {
			s.c.log.Warn().Err(err).Int("shard", shard).Int("shards", count).
				Msg("cannot claim the Discord shard while NATS does not answer; retrying")
		}
		if !r.pause(ctx) {
			return nil, err
		}
	}
}

func (s shardClaims) claim(ctx context.Context, bot string, shard, count int) (func(), error) {
	c := s.c
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	prefix := "shard." + keyPart(bot) + "."
	lister, err := kv.ListKeysFiltered(ctx, prefix+">")
	if err != nil {
		return nil, fmt.Errorf("cluster: list shard claims: %w", err)
	}
	var others []jetstream.KeyValueEntry
	for key := range lister.Keys() {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			lister.Stop()
			return nil, fmt.Errorf("cluster: read shard claim %s: %w", key, err)
		}
		var cl shardClaim
		if json.Unmarshal(e.Value(), &cl) != nil || cl.Count < 1 || cl.Holder == "" || cl.Holder == c.opts.Holder {
			continue // unreadable, released, or this process's before a restart
		}
		if overlap(shard, count, cl.Shard, cl.Count) {
			others = append(others, e)
		}
	}
	if len(others) > 0 {
		c.log.Info().Int("claims", len(others)).Dur("ttl", c.opts.TTL).Msg("checking whether other processes' claims on this shard are alive")
		if err := wait(ctx, c.opts.TTL+c.opts.TTL/3); err != nil {
			return nil, err
		}
		for _, e := range others {
			now, err := kv.Get(ctx, e.Key())
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("cluster: read shard claim %s: %w", e.Key(), err)
			}
			if now.Revision() != e.Revision() {
				var cl shardClaim
				_ = json.Unmarshal(now.Value(), &cl)
				if cl.Holder != "" && cl.Holder != c.opts.Holder {
					return nil, fmt.Errorf("%w: shard %d of %d runs in process %s, which shares guilds with shard %d of %d: give each process its own discord.shard_id (with the same discord.shard_count)",
						coord.ErrClaimed, cl.Shard, cl.Count, cl.Holder, shard, count)
				}
				continue
			}
			if err := kv.Delete(ctx, e.Key(), jetstream.LastRevision(e.Revision())); err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				return nil, fmt.Errorf("cluster: remove a stale shard claim %s: %w", e.Key(), err)
			}
			c.log.Warn().Str("claim", e.Key()).Msg("removed the shard claim of a process that stopped renewing it")
		}
	}
	key := prefix + strconv.Itoa(count) + "." + strconv.Itoa(shard)
	enc := func(holder string) []byte {
		b, _ := json.Marshal(shardClaim{Holder: holder, Shard: shard, Count: count, Renewed: time.Now().UTC()})
		return b
	}
	var rev uint64
	switch e, err := kv.Get(ctx, key); {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		rev, err = kv.Create(ctx, key, enc(c.opts.Holder))
		if err != nil {
			return nil, fmt.Errorf("cluster: claim shard %d of %d: %w", shard, count, err)
		}
	case err != nil:
		return nil, fmt.Errorf("cluster: read shard claim %s: %w", key, err)
	default:
		// Ours from before a restart, released, or found stale above.
		rev, err = kv.Update(ctx, key, enc(c.opts.Holder), e.Revision())
		if err != nil {
			return nil, fmt.Errorf("cluster: claim shard %d of %d (another process may be starting it at the same time): %w", shard, count, err)
		}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(c.opts.TTL / 3)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			rctx, cancel := context.WithTimeout(context.Background(), c.opts.TTL/3)
			r, err := kv.Update(rctx, key, enc(c.opts.Holder), rev)
			cancel()
			switch {
			case err == nil:
				rev = r
			case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
				c.log.Error().Int("shard", shard).Msg("another process took over this process's shard claim (it was not renewed for the lease TTL): check that each process has its own discord.shard_id")
				return
			default:
				c.log.Warn().Err(err).Int("shard", shard).Msg("cannot renew the shard claim; retrying")
			}
		}
	}()
	release := func() {
		select {
		case <-stop:
			return
		default:
		}
		close(stop)
		<-done
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := kv.Delete(rctx, key, jetstream.LastRevision(rev)); err != nil {
			c.log.Warn().Err(err).Int("shard", shard).Msg("could not release the shard claim; it expires after the lease TTL")
		}
	}
	return release, nil
}
