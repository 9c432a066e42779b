package store

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
)

// UserState names where a package keeps per-user state in the KV store
// (member profiles, deduplication marks, pending challenges), so that
// Erase removes it with the user's records.
type UserState struct {
	NS string // the KV namespace
	// Key returns the key of user's state in property, or with Prefix
	// the prefix of all its keys.
	Key    func(p audit.Platform, property, user string) []byte
	Prefix bool
}

var (
	userStatesMu sync.Mutex
	userStates   []UserState
)

// RegisterUserState declares per-user KV state. The packages that keep
// such state register it in init, so every binary that can write the
// state also erases it.
func RegisterUserState(us ...UserState) {
	userStatesMu.Lock()
	defer userStatesMu.Unlock()
	userStates = append(userStates, us...)
}

func registeredUserStates() []UserState {
	userStatesMu.Lock()
	defer userStatesMu.Unlock()
	return append([]UserState(nil), userStates...)
}

// Erase removes the personal data (names, params, content, attachments) of
// every record of a property in which user is the actor or a target, and
// returns how many records it changed; it deletes the user's registered
// per-user state (RegisterUserState) in the property; then it overwrites
// the freed pages with zeros (Scrub), so that when it returns the file
// holds none of what was erased. Ids, types and times stay, and the chain
// still verifies. The caller records the erasure (DATA_RETENTION).
func (s *Store) Erase(ctx context.Context, p audit.Platform, property, user string) (int, error) {
	n, err := s.eraseRecords(ctx, p, property, user)
	if err != nil {
		return n, err
	}
	if user == "" {
		return n, nil
	}
	if err := s.eraseUserState(p, property, user); err != nil {
		return n, fmt.Errorf("erase user %s in %s %s: %w", user, p, property, err)
	}
	if _, err := s.Scrub(ctx); err != nil {
		return n, fmt.Errorf("erase user %s in %s %s: %w", user, p, property, err)
	}
	return n, nil
}

// eraseUserState deletes the registered per-user state of user in one
// transaction.
func (s *Store) eraseUserState(p audit.Platform, property, user string) error {
	var ds []delta
	err := s.db.Update(func(tx *bolt.Tx) error {
		ds = ds[:0]
		return s.eraseUserStateTx(tx, p, property, user, &ds)
	})
	if err != nil {
		return err
	}
	s.counts.apply(ds)
	return nil
}

// eraseUserStateTx deletes the registered per-user state of user in tx,
// adding the changes of counted keys to ds (for s.counts once tx
// committed).
func (s *Store) eraseUserStateTx(tx *bolt.Tx, p audit.Platform, property, user string, ds *[]delta) error {
	for _, us := range registeredUserStates() {
		b := tx.Bucket(bKV).Bucket([]byte(us.NS))
		if b == nil {
			continue
		}
		key := us.Key(p, property, user)
		if len(key) == 0 {
			continue
		}
		if !us.Prefix {
			if d, ok := s.kvDelta(b, us.NS, key, false); ok {
				*ds = append(*ds, d)
			}
			if err := b.Delete(key); err != nil {
				return fmt.Errorf("%s: %w", us.NS, err)
			}
			continue
		}
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(key); k != nil && bytes.HasPrefix(k, key); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if d, ok := s.kvDelta(b, us.NS, k, false); ok {
				*ds = append(*ds, d)
			}
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("%s: %w", us.NS, err)
			}
		}
	}
	return nil
}

// Purge deletes a property's records older than before, with their index
// entries, in transactions of at most purgeChunk records (so that
// recording waits at most one chunk), and returns how many it deleted. The
// chain stays verifiable: for each purged record whose successor is kept,
// a bridge keeps its hash. Before it returns it overwrites the freed pages
// with zeros (Scrub), so the file holds none of the purged records.
func (s *Store) Purge(ctx context.Context, p audit.Platform, property string, before time.Time) (int, error) {
	n, err := s.purgeRecords(ctx, p, property, before)
	if err != nil || n == 0 {
		return n, err
	}
	if _, err := s.Scrub(ctx); err != nil {
		return n, fmt.Errorf("purge %s %s: %w", p, property, err)
	}
	return n, nil
}
