// Package coord is what one process of a fleet asks of the others,
// whatever carries it: a lease that elects the one process doing a job
// (Telegram's getUpdates poller), keeps the job's position with it and
// settles, once, who takes care of what a dead holder left in it,
// the gate every Discord identify waits at (max_concurrency across
// processes), and claims on Discord shards so that two processes never
// run one shard.
//
// The handlers depend on these interfaces only; package cluster
// implements them over NATS JetStream key-value buckets, and bot.Run
// wires them when cluster.nats_url is set. Without a fleet none of it is
// used.
package coord

import (
	"context"
	"errors"
)

// ErrLost is returned by Term.Commit when another process holds the
// lease now: what the term was about to commit must be dropped.
var ErrLost = errors.New("coord: the lease was lost to another process")

// ErrClaimed is returned by Shards.Claim when another live process holds
// one of the shards.
var ErrClaimed = errors.New("coord: shard claimed by another process")

// Lease elects one holder among the processes that share it, and keeps a
// value with it that only the holder may change.
type Lease interface {
	// Holder is the name this process holds the lease under, the same
	// across restarts with the same database.
	Holder() string
	// Peek returns the value kept with the lease, held or not (nil when
	// there is none yet).
	Peek(ctx context.Context) ([]byte, error)
	// Acquire waits until this process holds the lease (the holder
	// released it, or stopped renewing it for the lease's TTL) and
	// returns the term. It fails only when ctx ends.
	Acquire(ctx context.Context) (Term, error)
	// Settle decides, once, which process takes care of item: something
	// a holder left in the value when it stopped (Telegram: a batch it
	// took and may not have recorded), filed under slot (that holder's
	// name). The first process to settle an item wins, whether it holds
	// the lease or not, and every call for the item returns the winner's
	// Holder name. A slot keeps its last item only: settling another
	// item of the slot replaces it.
	Settle(ctx context.Context, slot, item string) (winner string, err error)
}

// Term is one holding of a lease, renewed in the background until it is
// released or lost.
type Term interface {
	// Value is the lease's value when the term began, or as last
	// committed in it.
	Value() []byte
	// Commit replaces the value if this term still holds the lease
	// (compare-and-set on the lease's revision); ErrLost otherwise. Any
	// other error leaves it unknown whether the value was written.
	Commit(ctx context.Context, value []byte) error
	// Lost is closed once the term cannot be renewed: another process
	// took over, or renewal failed for the lease's TTL.
	Lost() <-chan struct{}
	// Release ends the term and lets another process take over at once,
	// keeping the value.
	Release(ctx context.Context) error
}

// Identify is the gate Discord identifies wait at. Discord lets a bot
// identify max_concurrency shards at once: shard s belongs to rate-limit
// bucket s % max_concurrency, and each bucket allows one identify every
// 5 seconds across every process of the bot.
type Identify interface {
	// Wait returns once shard of the bot (its application id) may
	// identify now, having taken its bucket's slot, or fails when ctx
	// ends.
	Wait(ctx context.Context, bot string, shard, maxConcurrency int) error
}

// Shards records which process runs which Discord shard.
type Shards interface {
	// Claim claims shard of count for this process, renewed until
	// release is called. It fails with ErrClaimed (wrapped, naming the
	// holder) when another live process runs a shard that shares guilds
	// with it: the same shard, or one of another count whose guilds
	// overlap (shard i of n and j of m share guilds unless i and j differ
	// modulo gcd(n, m)).
	Claim(ctx context.Context, bot string, shard, count int) (release func(), err error)
}
