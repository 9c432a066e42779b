package cluster

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/coord"
)

// CoordinatorOptions configure a Coordinator.
type CoordinatorOptions struct {
	Conn
	// Bucket is the key-value bucket (created with one replica and file
	// storage if missing; create it with replicas 3 on a cluster).
	Bucket string
	// TTL is how long a holder that stopped renewing keeps a lease or a
	// shard claim. Renewals come every TTL/3.
	TTL time.Duration
	// Holder names this process in leases and claims; it should stay the
	// same across restarts with the same database.
	Holder string
	// IdentifyFailOpen is how long a Discord identify waits for NATS to
	// answer before it goes ahead without a slot (default 15s): an outage
	// of NATS must not keep a shard off Discord (at worst Discord refuses
	// the identify, and the shard retries).
	IdentifyFailOpen time.Duration
	Logger           zerolog.Logger
}

// Coordinator implements package coord's leases, identify gate and shard
// claims over one JetStream key-value bucket. It connects at once but
// opens the bucket on first use, retrying while NATS is unreachable.
type Coordinator struct {
	opts CoordinatorOptions
	log  zerolog.Logger
	nc   *nats.Conn
	js   jetstream.JetStream

	mu sync.Mutex
	kv jetstream.KeyValue
}

// NewCoordinator checks the options and connects (the connection keeps
// retrying on its own); Close disconnects.
func NewCoordinator(opts CoordinatorOptions) (*Coordinator, error) {
	if err := opts.Conn.check(); err != nil {
		return nil, err
	}
	if opts.Bucket == "" || opts.Holder == "" {
		return nil, errors.New("cluster: a coordinator needs a bucket and a holder name")
	}
	if opts.TTL <= 0 {
		opts.TTL = 15 * time.Second
	}
	if opts.IdentifyFailOpen <= 0 {
		opts.IdentifyFailOpen = 15 * time.Second
	}
	c := &Coordinator{opts: opts, log: opts.Logger.With().Str("component", "cluster").Logger()}
	nc, err := opts.Conn.connect(c.log, func() {})
	if err != nil {
		return nil, err
	}
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	return c, nil
}

// Close disconnects from NATS; leases held are not released (they
// expire after the TTL).
func (c *Coordinator) Close() { c.nc.Close() }

// Holder is the name this process holds leases and claims under.
func (c *Coordinator) Holder() string { return c.opts.Holder }

// bucket opens the key-value bucket, creating it if missing.
func (c *Coordinator) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kv != nil {
		return c.kv, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	kv, err := c.js.KeyValue(cctx, c.opts.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = c.js.CreateKeyValue(cctx, jetstream.KeyValueConfig{Bucket: c.opts.Bucket, History: 1,
			Storage: jetstream.FileStorage, Description: "chatwarden coordination: leases, identify buckets, shard claims"})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = c.js.KeyValue(cctx, c.opts.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: open the key-value bucket %s: %w", c.opts.Bucket, err)
	}
	c.kv = kv
	return kv, nil
}

// wait sleeps d or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// leaseEntry is a lease as kept in the bucket. Holder is empty once
// released. Renewed is the holder's clock, for people reading the bucket:
// takeover does not trust clocks, it watches the revision stand still.
type leaseEntry struct {
	Holder  string    `json:"holder"`
	Renewed time.Time `json:"renewed"`
	Value   []byte    `json:"value,omitempty"`
}

func (c *Coordinator) encode(holder string, value []byte) []byte {
	b, _ := json.Marshal(leaseEntry{Holder: holder, Renewed: time.Now().UTC(), Value: value})
	return b
}

// Lease returns the lease called name (letters, digits, '-', '_' and
// '.'), kept under the key lease.<name>.
func (c *Coordinator) Lease(name string) coord.Lease {
	return &lease{c: c, key: "lease." + name, name: name}
}

type lease struct {
	c    *Coordinator
	key  string
	name string
}

var _ coord.Lease = (*lease)(nil)

func (l *lease) Holder() string { return l.c.opts.Holder }

func (l *lease) Peek(ctx context.Context) ([]byte, error) {
	kv, err := l.c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, l.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: read lease %s: %w", l.key, err)
	}
	var le leaseEntry
	if err := json.Unmarshal(e.Value(), &le); err != nil {
		return nil, fmt.Errorf("cluster: lease %s holds something that is not chatwarden's: %w", l.key, err)
	}
	return le.Value, nil
}

// settlement is a slot's last settled item as kept in the bucket, under
// settled.<lease name>.<slot in base64url>.
type settlement struct {
	Item   string    `json:"item"`
	Winner string    `json:"winner"`
	At     time.Time `json:"at"`
}

// Settle creates the slot's key, or moves it on to another item, by
// compare-and-set: of processes racing for an item one writes it, and
// the others read its name.
func (l *lease) Settle(ctx context.Context, slot, item string) (string, error) {
	kv, err := l.c.bucket(ctx)
	if err != nil {
		return "", err
	}
	key := "settled." + l.name + "." + base64.RawURLEncoding.EncodeToString([]byte(slot))
	mine, _ := json.Marshal(settlement{Item: item, Winner: l.c.opts.Holder, At: time.Now().UTC()})
	for {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			_, err = kv.Create(ctx, key, mine)
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue // another was faster: read its
			}
			if err != nil {
				return "", fmt.Errorf("cluster: settle %s item %s: %w", key, item, err)
			}
			return l.c.opts.Holder, nil
		}
		if err != nil {
			return "", fmt.Errorf("cluster: read %s: %w", key, err)
		}
		var st settlement
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			return "", fmt.Errorf("cluster: %s holds something that is not chatwarden's; delete the key if it is stale: %w", key, err)
		}
		if st.Item == item {
			return st.Winner, nil
		}
		_, err = kv.Update(ctx, key, mine, e.Revision())
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("cluster: settle %s item %s: %w", key, item, err)
		}
		return l.c.opts.Holder, nil
	}
}

// Acquire takes the lease when it is missing, released, held under this
// process's own name (a restart), or when its revision has not changed
// for the TTL as seen by this process's clock. Every write is a
// compare-and-set on the revision read, so of processes racing for it
// one wins.
func (l *lease) Acquire(ctx context.Context) (coord.Term, error) {
	ttl := l.c.opts.TTL
	tick := min(ttl/4, time.Second)
	var seenRev uint64
	var seenAt time.Time
	var lastErr string
	for {
		t, err := l.try(ctx, &seenRev, &seenAt)
		if t != nil {
			return t, nil
		}
		if err != nil && err.Error() != lastErr && ctx.Err() == nil {
			l.c.log.Warn().Err(err).Str("lease", l.key).Msg("cannot take part in the lease; retrying")
		}
		if err != nil {
			lastErr = err.Error()
		}
		if err := wait(ctx, tick); err != nil {
			return nil, err
		}
	}
}

// try makes one attempt; it returns no term and no error while another
// process holds the lease.
func (l *lease) try(ctx context.Context, seenRev *uint64, seenAt *time.Time) (*term, error) {
	kv, err := l.c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	holder := l.c.opts.Holder
	e, err := kv.Get(ctx, l.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		rev, err := kv.Create(ctx, l.key, l.c.encode(holder, nil))
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, nil // another was faster
		}
		if err != nil {
			return nil, fmt.Errorf("cluster: create lease %s: %w", l.key, err)
		}
		return l.start(rev, nil), nil
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: read lease %s: %w", l.key, err)
	}
	var le leaseEntry
	if err := json.Unmarshal(e.Value(), &le); err != nil {
		// Overwriting it could lose the position kept in it: wait for
		// an operator instead.
		return nil, fmt.Errorf("cluster: lease %s holds something that is not chatwarden's; delete the key if it is stale: %w", l.key, err)
	}
	free := le.Holder == "" || le.Holder == holder
	if !free {
		if e.Revision() != *seenRev {
			*seenRev, *seenAt = e.Revision(), time.Now()
		} else if time.Since(*seenAt) >= l.c.opts.TTL {
			free = true
			l.c.log.Warn().Str("lease", l.key).Str("holder", le.Holder).Time("renewed", le.Renewed).
				Msg("taking over a lease its holder stopped renewing")
		}
	}
	if !free {
		return nil, nil
	}
	rev, err := kv.Update(ctx, l.key, l.c.encode(holder, le.Value), e.Revision())
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: take lease %s: %w", l.key, err)
	}
	return l.start(rev, le.Value), nil
}

func (l *lease) start(rev uint64, value []byte) *term {
	t := &term{l: l, rev: rev, value: value, lastOK: time.Now(), lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	l.c.log.Info().Str("lease", l.key).Str("holder", l.c.opts.Holder).Msg("holding the lease")
	go t.renew()
	return t
}

type term struct {
	l *lease

	mu     sync.Mutex // one write at a time; guards rev, value, lastOK
	rev    uint64
	value  []byte
	lastOK time.Time

	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

var _ coord.Term = (*term)(nil)

func (t *term) Value() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.value
}

func (t *term) Lost() <-chan struct{} { return t.lost }

func (t *term) markLost(why string) {
	t.lostOnce.Do(func() {
		ev := t.l.c.log.Warn()
		if why == "released" {
			ev = t.l.c.log.Info()
		}
		ev.Str("lease", t.l.key).Str("why", why).Msg("no longer holding the lease")
		close(t.lost)
	})
}

func (t *term) isLost() bool {
	select {
	case <-t.lost:
		return true
	default:
		return false
	}
}

// renew rewrites the value every TTL/3 to move the revision on.
func (t *term) renew() {
	defer close(t.done)
	every := t.l.c.opts.TTL / 3
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-t.lost:
			return
		case <-tk.C:
		}
		t.mu.Lock()
		ctx, cancel := context.WithTimeout(context.Background(), every)
		err := t.write(ctx, t.l.c.opts.Holder, t.value)
		cancel()
		if err != nil && !errors.Is(err, coord.ErrLost) && time.Since(t.lastOK) >= t.l.c.opts.TTL {
			t.markLost("not renewed for the lease's TTL: " + err.Error())
		}
		t.mu.Unlock()
	}
}

// write is the compare-and-set every change of the term goes through
// (t.mu held). When the answer is lost (a timeout), it reads the key back
// to learn whether the write landed.
func (t *term) write(ctx context.Context, holder string, value []byte) error {
	if t.isLost() {
		return coord.ErrLost
	}
	kv, err := t.l.c.bucket(ctx)
	if err != nil {
		return err
	}
	rev, err := kv.Update(ctx, t.l.key, t.l.c.encode(holder, value), t.rev)
	if err == nil {
		t.rev, t.value, t.lastOK = rev, value, time.Now()
		return nil
	}
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		t.markLost("another process holds it")
		return fmt.Errorf("%w: %w", coord.ErrLost, err)
	}
	// Unknown outcome: look.
	e, gerr := kv.Get(ctx, t.l.key)
	if gerr != nil {
		return fmt.Errorf("cluster: write lease %s: %w", t.l.key, err)
	}
	var le leaseEntry
	if json.Unmarshal(e.Value(), &le) == nil && e.Revision() != t.rev && le.Holder == holder && bytes.Equal(le.Value, value) {
		t.rev, t.value, t.lastOK = e.Revision(), value, time.Now()
		return nil // it landed
	}
	if e.Revision() != t.rev {
		t.markLost("another process holds it")
		return coord.ErrLost
	}
	return fmt.Errorf("cluster: write lease %s: %w", t.l.key, err)
}

func (t *term) Commit(ctx context.Context, value []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.write(ctx, t.l.c.opts.Holder, value)
}

func (t *term) Release(ctx context.Context) error {
	t.stopOnce.Do(func() { close(t.stop) })
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.write(ctx, "", t.value)
	t.markLost("released")
	if err != nil && !errors.Is(err, coord.ErrLost) {
		return fmt.Errorf("cluster: release lease %s: %w", t.l.key, err)
	}
	return nil
}
