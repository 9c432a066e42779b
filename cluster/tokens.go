package cluster

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/store"
)

// Community API tokens are kept, as everywhere, only as their SHA-256
// (command.Tokens): a shard's TokenSync copies every creation and
// revocation of its store's token namespace into a JetStream key-value
// bucket, keyed by the hash in hex; a query node's TokenMirror watches the
// bucket into its own store, so that a token made on any shard works on
// every query node, and stops working there once revoked.

// TokenBucket is the key-value bucket of the token hashes of a stream's
// fleet.
func TokenBucket(stream string) string { return stream + "_tokens" }

// nsTokenSync is the KV namespace of a shard's token changes not yet in
// the bucket: hash -> a mark that changes with every change.
const nsTokenSync = "cluster/token-sync"

// KV is the store's namespaced key-value state (*store.Store is one).
type KV interface {
	Put(ns string, key, value []byte) error
	GetKV(ns string, key []byte) ([]byte, error)
	DeleteKV(ns string, key []byte) error
	ScanKV(ns string, prefix []byte, fn func(key, value []byte) error) error
}

var _ command.TokenKV = (*TokenSync)(nil)

// TokenOptions configure a TokenSync or a TokenMirror.
type TokenOptions struct {
	Conn
	// Bucket is the key-value bucket, created (one replica, file storage)
	// when missing.
	Bucket string
	// Store is the process's store.
	Store  KV
	Logger zerolog.Logger
}

func (o TokenOptions) check() error {
	if err := o.Conn.check(); err != nil {
		return err
	}
	if o.Bucket == "" || o.Store == nil {
		return errors.New("cluster: Bucket and Store are required")
	}
	return nil
}

// TokenSync is a shard's token store: hand it to command.NewTokens in
// place of the store. Every change of a token is marked in the store
// before it is made, so that Run copies it to the bucket even after a
// crash or a NATS outage.
type TokenSync struct {
	opts TokenOptions
	log  zerolog.Logger
	wake chan struct{}
	mu   sync.Mutex // orders a mark against Run's removal of it
	next atomic.Uint64
	last atomic.Pointer[error]
}

// NewTokenSync checks the options; nothing connects until Run.
func NewTokenSync(opts TokenOptions) (*TokenSync, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	t := &TokenSync{opts: opts, log: opts.Logger.With().Str("component", "cluster").Logger(), wake: make(chan struct{}, 1)}
	t.next.Store(uint64(time.Now().UnixNano()))
	return t, nil
}

func (t *TokenSync) mark(ns string, key []byte) error {
	if ns != command.TokenNamespace {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.opts.Store.Put(nsTokenSync, key, binary.BigEndian.AppendUint64(nil, t.next.Add(1))); err != nil {
		return fmt.Errorf("mark a token change for the fleet: %w", err)
	}
	return nil
}

func (t *TokenSync) changed() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Put implements command.TokenKV.
func (t *TokenSync) Put(ns string, key, value []byte) error {
	if err := t.mark(ns, key); err != nil {
		return err
	}
	defer t.changed()
	return t.opts.Store.Put(ns, key, value)
}

// DeleteKV implements command.TokenKV.
func (t *TokenSync) DeleteKV(ns string, key []byte) error {
	if err := t.mark(ns, key); err != nil {
		return err
	}
	defer t.changed()
	return t.opts.Store.DeleteKV(ns, key)
}

// GetKV implements command.TokenKV.
func (t *TokenSync) GetKV(ns string, key []byte) ([]byte, error) { return t.opts.Store.GetKV(ns, key) }

// ScanKV implements command.TokenKV.
func (t *TokenSync) ScanKV(ns string, prefix []byte, fn func(key, value []byte) error) error {
	return t.opts.Store.ScanKV(ns, prefix, fn)
}

// Pending counts the token changes not yet in the bucket.
func (t *TokenSync) Pending() (int, error) {
	n := 0
	err := t.opts.Store.ScanKV(nsTokenSync, nil, func(k, v []byte) error { n++; return nil })
	return n, err
}

// Run connects and copies token changes to the bucket until ctx ends;
// at its start it also copies every token of the store (tokens made
// before the fleet existed). NATS outages are waited out.
func (t *TokenSync) Run(ctx context.Context) error {
	nc, err := t.opts.Conn.connect(t.log, t.changed)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	var kv jetstream.KeyValue
	all := true // copy every token once
	var r retry
	for {
		if !r.pause(ctx) {
			return nil
		}
		err := func() error {
			if kv == nil {
				if kv, err = bucket(ctx, js, t.opts.Bucket); err != nil {
					return err
				}
			}
			if all {
				if err := t.copyAll(ctx, kv); err != nil {
					return err
				}
				all = false
			}
			return t.round(ctx, kv)
		}()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.As(err, new(storeError)) {
				return err
			}
			t.last.Store(&err)
			if r.failed() {
				t.log.Warn().Err(err).Msg("cannot copy API token changes to the fleet; retrying")
			}
			continue
		}
		t.last.Store(nil)
		r.succeeded()
		select {
		case <-ctx.Done():
			return nil
		case <-t.wake:
		}
	}
}

// Ready fails while token changes wait for the bucket.
func (t *TokenSync) Ready(context.Context) error {
	if p := t.last.Load(); p != nil {
		n, _ := t.Pending()
		return fmt.Errorf("%d API token changes wait for the fleet: %w", n, *p)
	}
	return nil
}

// copyAll puts every token of the store in the bucket.
func (t *TokenSync) copyAll(ctx context.Context, kv jetstream.KeyValue) error {
	type tok struct{ k, v []byte }
	var toks []tok
	if err := t.opts.Store.ScanKV(command.TokenNamespace, nil, func(k, v []byte) error {
		toks = append(toks, tok{append([]byte(nil), k...), append([]byte(nil), v...)})
		return nil
	}); err != nil {
		return storeError{fmt.Errorf("cluster: read API tokens: %w", err)}
	}
	for _, x := range toks {
		if _, err := kv.Put(ctx, hex.EncodeToString(x.k), x.v); err != nil {
			return fmt.Errorf("copy an API token to %s: %w", t.opts.Bucket, err)
		}
	}
	return nil
}

// round copies the marked changes: a token the store has is put in the
// bucket, one it no longer has is deleted there. A mark is removed only
// if no change came after the copy.
func (t *TokenSync) round(ctx context.Context, kv jetstream.KeyValue) error {
	type mark struct{ k, v []byte }
	var marks []mark
	if err := t.opts.Store.ScanKV(nsTokenSync, nil, func(k, v []byte) error {
		marks = append(marks, mark{append([]byte(nil), k...), append([]byte(nil), v...)})
		return nil
	}); err != nil {
		return storeError{fmt.Errorf("cluster: read API token changes: %w", err)}
	}
	for _, m := range marks {
		key := hex.EncodeToString(m.k)
		v, err := t.opts.Store.GetKV(command.TokenNamespace, m.k)
		switch {
		case err == nil:
			_, err = kv.Put(ctx, key, v)
		case errors.Is(err, store.ErrNotFound):
			err = kv.Delete(ctx, key)
		default:
			return storeError{fmt.Errorf("cluster: read an API token: %w", err)}
		}
		if err != nil {
			return fmt.Errorf("copy an API token change to %s: %w", t.opts.Bucket, err)
		}
		t.mu.Lock()
		cur, err := t.opts.Store.GetKV(nsTokenSync, m.k)
		if err == nil && string(cur) == string(m.v) {
			err = t.opts.Store.DeleteKV(nsTokenSync, m.k)
		} else if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		t.mu.Unlock()
		if err != nil {
			return storeError{fmt.Errorf("cluster: API token change copied: %w", err)}
		}
	}
	return nil
}

// bucket opens the key-value bucket, creating it when missing.
func bucket(ctx context.Context, js jetstream.JetStream, name string) (jetstream.KeyValue, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name,
			Description: "chatwarden community API tokens (SHA-256 of each token, hex)", Storage: jetstream.FileStorage})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", name, err)
	}
	return kv, nil
}

// TokenMirror keeps a query node's store's tokens equal to the bucket's:
// every token put there is accepted, every token deleted there stops
// working. A query node makes no token of its own.
type TokenMirror struct {
	opts TokenOptions
	log  zerolog.Logger
	nc   atomic.Pointer[nats.Conn]
	mu   sync.Mutex
	last error // nil once the bucket's tokens are copied
}

// NewTokenMirror checks the options; nothing connects until Run.
func NewTokenMirror(opts TokenOptions) (*TokenMirror, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	return &TokenMirror{opts: opts, log: opts.Logger.With().Str("component", "cluster").Logger(),
		last: errors.New("the fleet's API tokens are not copied yet")}, nil
}

// Ready fails until the bucket's tokens are copied and while NATS is
// unreachable.
func (m *TokenMirror) Ready(context.Context) error {
	if nc := m.nc.Load(); nc == nil || !nc.IsConnected() {
		return errors.New("not connected to NATS")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

func (m *TokenMirror) set(err error) {
	m.mu.Lock()
	m.last = err
	m.mu.Unlock()
}

// Run watches the bucket into the store until ctx ends. Each (re)start
// copies the bucket's tokens and removes the store's tokens the bucket no
// longer has (revoked while the watch was down).
func (m *TokenMirror) Run(ctx context.Context) error {
	nc, err := m.opts.Conn.connect(m.log, func() {})
	if err != nil {
		return err
	}
	defer nc.Close()
	m.nc.Store(nc)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	var r retry
	for {
		if !r.pause(ctx) {
			return nil
		}
		err := m.watch(ctx, js)
		if ctx.Err() != nil {
			return nil
		}
		if errors.As(err, new(storeError)) {
			return err
		}
		m.set(err)
		if r.failed() {
			m.log.Warn().Err(err).Msg("cannot watch the fleet's API tokens; retrying")
		}
	}
}

// watch copies the bucket and then its changes until the watch ends.
func (m *TokenMirror) watch(ctx context.Context, js jetstream.JetStream) error {
	kv, err := bucket(ctx, js, m.opts.Bucket)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := kv.WatchAll(wctx)
	if err != nil {
		return fmt.Errorf("watch %s: %w", m.opts.Bucket, err)
	}
	defer w.Stop()
	live := map[string]bool{} // the bucket's tokens, until the initial values end
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok = <-w.Updates():
		}
		if !ok {
			return fmt.Errorf("watch %s ended", m.opts.Bucket)
		}
		if e == nil { // the initial values are in: drop what the bucket lost
			if err := m.prune(live); err != nil {
				return err
			}
			live = nil
			m.set(nil)
			continue
		}
		key, err := hex.DecodeString(e.Key())
		if err != nil || len(key) != 32 {
			m.log.Error().Str("key", e.Key()).Msg("skipping a key of the token bucket that is not a token hash")
			continue
		}
		if e.Operation() == jetstream.KeyValuePut {
			if live != nil {
				live[string(key)] = true
			}
			err = m.opts.Store.Put(command.TokenNamespace, key, e.Value())
		} else {
			err = m.opts.Store.DeleteKV(command.TokenNamespace, key)
		}
		if err != nil {
			return storeError{fmt.Errorf("cluster: copy an API token: %w", err)}
		}
	}
}

// prune deletes the store's tokens that are not in live.
func (m *TokenMirror) prune(live map[string]bool) error {
	var gone [][]byte
	err := m.opts.Store.ScanKV(command.TokenNamespace, nil, func(k, v []byte) error {
		if !live[string(k)] {
			gone = append(gone, append([]byte(nil), k...))
		}
		return nil
	})
	for _, k := range gone {
		if err == nil {
			err = m.opts.Store.DeleteKV(command.TokenNamespace, k)
		}
	}
	if err != nil {
		return storeError{fmt.Errorf("cluster: remove revoked API tokens: %w", err)}
	}
	return nil
}
