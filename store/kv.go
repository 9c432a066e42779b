package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/settings"
)

// Settings returns a property's settings; the zero Settings when none were
// saved.
func (s *Store) Settings(ctx context.Context, p audit.Platform, property string) (settings.Community, error) {
	var set settings.Community
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bSettings).Get(propKeyBytes(p, property))
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &set)
	})
	if err != nil {
		return settings.Community{}, fmt.Errorf("settings of %s %s: %w", p, property, err)
	}
	return set, nil
}

// UpdateSettings applies fn to a property's settings in one transaction and
// returns the settings before and after. If fn fails nothing changes.
func (s *Store) UpdateSettings(ctx context.Context, p audit.Platform, property string, fn func(*settings.Community) error) (old, updated settings.Community, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSettings)
		key := propKeyBytes(p, property)
		old, updated = settings.Community{}, settings.Community{}
		if v := b.Get(key); v != nil {
			if err := json.Unmarshal(v, &old); err != nil {
				return err
			}
		}
		updated = old.Clone()
		if err := fn(&updated); err != nil {
			return err
		}
		v, err := json.Marshal(updated)
		if err != nil {
			return err
		}
		return b.Put(key, v)
	})
	if err != nil {
		return settings.Community{}, settings.Community{}, fmt.Errorf("update settings of %s %s: %w", p, property, err)
	}
	return old, updated, nil
}

// EachSettings calls fn with every property's saved settings.
func (s *Store) EachSettings(ctx context.Context, fn func(p audit.Platform, property string, set settings.Community) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bSettings).ForEach(func(k, v []byte) error {
			var set settings.Community
			if len(k) < 2 {
				return fmt.Errorf("settings: %w: key", errCorrupt)
			}
			if err := json.Unmarshal(v, &set); err != nil {
				return fmt.Errorf("settings of %s: %w", k[1:], err)
			}
			return fn(audit.Platform(k[0]), string(k[1:]), set)
		})
	})
}

// Cursor returns a platform cursor saved with Append, or nil.
func (s *Store) Cursor(name string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		out = bytes.Clone(tx.Bucket(bCursors).Get([]byte(name)))
		return nil
	})
	return out, err
}

// Namespaced key-value state for the engines and handlers (verification
// challenges, member profiles, API token hashes). Each namespace is its own
// bucket under "kv".

// Put stores value under key in namespace ns.
func (s *Store) Put(ns string, key, value []byte) error {
	var ds []delta
	err := s.db.Update(func(tx *bolt.Tx) error {
		ds = ds[:0]
		b, err := tx.Bucket(bKV).CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		if d, ok := s.kvDelta(b, ns, key, true); ok {
			ds = append(ds, d)
		}
		return b.Put(key, value)
	})
	if err != nil {
		return fmt.Errorf("put %s/%q: %w", ns, key, err)
	}
	s.counts.apply(ds)
	return nil
}

// GetKV returns the value of key in namespace ns, or ErrNotFound.
func (s *Store) GetKV(ns string, key []byte) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bKV).Bucket([]byte(ns)); b != nil {
			out = bytes.Clone(b.Get(key))
		}
		if out == nil {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get %s/%q: %w", ns, key, err)
	}
	return out, nil
}

// DeleteKV deletes key from namespace ns; a missing key is not an error.
func (s *Store) DeleteKV(ns string, key []byte) error {
	var ds []delta
	err := s.db.Update(func(tx *bolt.Tx) error {
		ds = ds[:0]
		if b := tx.Bucket(bKV).Bucket([]byte(ns)); b != nil {
			if d, ok := s.kvDelta(b, ns, key, false); ok {
				ds = append(ds, d)
			}
			return b.Delete(key)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete %s/%q: %w", ns, key, err)
	}
	s.counts.apply(ds)
	return nil
}

// ScanKV calls fn for every key of namespace ns with the prefix, in key
// order. fn must not keep the slices.
func (s *Store) ScanKV(ns string, prefix []byte, fn func(key, value []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bKV).Bucket([]byte(ns))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := fn(k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

func outboxPrefix(sink, target string) []byte {
	k := append([]byte(sink), 0)
	if target != "" {
		k = append(append(k, target...), 0)
	}
	return k
}

// OutboxTargets lists the targets of a sink with pending deliveries.
func (s *Store) OutboxTargets(sink string) ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := outboxPrefix(sink, "")
		c := tx.Bucket(bOutbox).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); {
			rest := k[len(prefix):]
			i := bytes.IndexByte(rest, 0)
			if i < 0 {
				return fmt.Errorf("outbox: %w: key", errCorrupt)
			}
			target := string(rest[:i])
			out = append(out, target)
			// Skip to the next target.
			next := append(outboxPrefix(sink, target)[:len(prefix)+i], 1)
			k, _ = c.Seek(next)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox targets of %s: %w", sink, err)
	}
	return out, nil
}

// OutboxPending returns up to max pending deliveries of one target, oldest
// commit first.
func (s *Store) OutboxPending(ctx context.Context, sink, target string, max int) ([]logchannel.Delivery, error) {
	var out []logchannel.Delivery
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := outboxPrefix(sink, target)
		evB := tx.Bucket(bEvents)
		c := tx.Bucket(bOutbox).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < max; k, v = c.Next() {
			if len(k) != len(prefix)+8 || len(v) != 16 {
				return fmt.Errorf("outbox: %w: entry", errCorrupt)
			}
			d := logchannel.Delivery{Key: bytes.Clone(k), Target: target, Seq: binary.BigEndian.Uint64(k[len(prefix):])}
			if rec := evB.Get(v); rec != nil {
				e, err := s.decodeEventIn(tx, binary.BigEndian.Uint32(v), v[4:], rec)
				if err != nil {
					return err
				}
				d.Event = e
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox of %s/%s: %w", sink, target, err)
	}
	return out, nil
}

// OutboxDone removes delivered entries. Keys already removed are skipped.
func (s *Store) OutboxDone(ctx context.Context, keys ...[]byte) error {
	if len(keys) == 0 {
		return nil
	}
	var ds []delta
	err := s.db.Update(func(tx *bolt.Tx) error {
		ds = ds[:0]
		b := tx.Bucket(bOutbox)
		for _, k := range keys {
			if b.Get(k) == nil {
				continue // gone already
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			sink := k[:max(bytes.IndexByte(k, 0), 0)]
			if n := len(ds); n > 0 && ds[n-1].sink == string(sink) {
				ds[n-1].n--
			} else {
				ds = append(ds, delta{outbox: true, sink: outboxSink(k), n: -1})
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox done: %w", err)
	}
	s.counts.apply(ds)
	return nil
}

// OutboxDepth returns how many deliveries of a sink are pending, from a
// count kept with the writes (no scan).
func (s *Store) OutboxDepth(sink string) (int, error) {
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	// Changes are applied after their commit: the removal of a batch's
	// entries can be applied before their addition, leaving a negative
	// number for a moment.
	return max(s.counts.outbox[sink], 0), nil
}

// putState applies one handler state write of a recorded batch (see
// recorder.State) inside the batch's transaction, adding its change to
// the counts to ds.
func (s *Store) putState(tx *bolt.Tx, st recorder.State, ds *[]delta) error {
	if st.Delete {
		if b := tx.Bucket(bKV).Bucket([]byte(st.NS)); b != nil {
			if d, ok := s.kvDelta(b, st.NS, st.Key, false); ok {
				*ds = append(*ds, d)
			}
			if err := b.Delete(st.Key); err != nil {
				return fmt.Errorf("state %s/%q: %w", st.NS, st.Key, err)
			}
		}
		return nil
	}
	b, err := tx.Bucket(bKV).CreateBucketIfNotExists([]byte(st.NS))
	if err != nil {
		return fmt.Errorf("state %s: %w", st.NS, err)
	}
	if d, ok := s.kvDelta(b, st.NS, st.Key, true); ok {
		*ds = append(*ds, d)
	}
	if err := b.Put(st.Key, st.Value); err != nil {
		return fmt.Errorf("state %s/%q: %w", st.NS, st.Key, err)
	}
	return nil
}

// ApplyState writes handlers' state in one transaction.
func (s *Store) ApplyState(state []recorder.State) error {
	if len(state) == 0 {
		return nil
	}
	var ds []delta
	err := s.db.Update(func(tx *bolt.Tx) error {
		ds = ds[:0]
		for _, st := range state {
			if err := s.putState(tx, st, &ds); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.counts.apply(ds)
	return nil
}
