package store

import (
	"bytes"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// counts keeps what gauges read at every /metrics scrape and /readyz, so
// that reading them costs no scan: each sink's outbox entries and, for the
// KV namespaces registered with CountKeys, their keys by first byte. Open
// restores them with one scan of the outbox and of those namespaces (the
// outbox holds pending deliveries only, not the records); every write that
// adds or removes such a key then adjusts them once it has committed.
type counts struct {
	mu     sync.Mutex
	outbox map[string]int
	// kv has an entry for each namespace counted when the store opened;
	// the map itself is not changed after Open, only the arrays, under mu.
	kv map[string]*[256]int
}

// delta is one change to counts, applied once its transaction committed.
type delta struct {
	outbox bool // an outbox entry of sink, else a key of ns
	sink   string
	ns     string
	first  byte
	n      int
}

var (
	countedMu sync.Mutex
	counted   = map[string]bool{}
)

// CountKeys makes stores opened from now on count the keys of KV
// namespace ns by their first byte, for KeyCount. Call it from an init
// function, as with RegisterUserState.
func CountKeys(ns string) {
	countedMu.Lock()
	defer countedMu.Unlock()
	counted[ns] = true
}

// restoreCounts counts the outbox and the counted namespaces: one scan of
// each, at Open.
func (s *Store) restoreCounts(tx *bolt.Tx) error {
	s.counts.outbox = map[string]int{}
	s.counts.kv = map[string]*[256]int{}
	err := tx.Bucket(bOutbox).ForEach(func(k, _ []byte) error {
		s.counts.outbox[outboxSink(k)]++
		return nil
	})
	if err != nil {
		return err
	}
	countedMu.Lock()
	defer countedMu.Unlock()
	for ns := range counted {
		n := new([256]int)
		s.counts.kv[ns] = n
		b := tx.Bucket(bKV).Bucket([]byte(ns))
		if b == nil {
			continue
		}
		if err := b.ForEach(func(k, _ []byte) error {
			if len(k) > 0 {
				n[k[0]]++
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// outboxSink returns the sink of an outbox key ("" if it has none).
func outboxSink(k []byte) string {
	if i := bytes.IndexByte(k, 0); i >= 0 {
		return string(k[:i])
	}
	return ""
}

// kvDelta returns the change that putting (add) or deleting key in
// namespace ns of bucket b makes to the counts, or false when there is
// none. Call it before the write.
func (s *Store) kvDelta(b *bolt.Bucket, ns string, key []byte, add bool) (delta, bool) {
	if _, ok := s.counts.kv[ns]; !ok || len(key) == 0 {
		return delta{}, false
	}
	exists := b != nil && b.Get(key) != nil
	switch {
	case add && !exists:
		return delta{ns: ns, first: key[0], n: 1}, true
	case !add && exists:
		return delta{ns: ns, first: key[0], n: -1}, true
	}
	return delta{}, false
}

// apply adds committed changes to the counts.
func (c *counts) apply(ds []delta) {
	if len(ds) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range ds {
		if d.outbox {
			c.outbox[d.sink] += d.n
		} else if n := c.kv[d.ns]; n != nil {
			n[d.first] += d.n
		}
	}
}

// addOutbox adds a committed batch's new outbox entries, by sink.
func (c *counts) addOutbox(bySink map[string]int) {
	if len(bySink) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for sink, n := range bySink {
		c.outbox[sink] += n
	}
}

// KeyCount returns how many keys of namespace ns begin with first,
// without a scan. ns must have been registered with CountKeys before the
// store was opened.
func (s *Store) KeyCount(ns string, first byte) (int, error) {
	n := s.counts.kv[ns]
	if n == nil {
		return 0, fmt.Errorf("key count of %s: namespace not counted (store.CountKeys)", ns)
	}
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	// A write's change is applied after its commit, so a delete that
	// overtook the put before it can leave -1 for a moment.
	return max(n[first], 0), nil
}
