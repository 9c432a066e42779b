package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
)

// purgeChunk bounds the records one purge transaction deletes, so that a
// large purge neither holds the writer lock for long nor needs much memory.
const purgeChunk = 1000

// purgeRecords deletes a property's records older than before, with their
// index entries, and returns how many it deleted. The chain stays
// verifiable: for each purged record whose successor is kept, a bridge
// keeps its hash. Purge (erase.go) also scrubs the freed pages.
func (s *Store) purgeRecords(ctx context.Context, p audit.Platform, property string, before time.Time) (int, error) {
	total := 0
	for {
		n, err := s.purgeChunk(ctx, p, property, before)
		total += n
		if err != nil {
			return total, fmt.Errorf("purge %s %s before %s: %w", p, property, before.Format(time.RFC3339), err)
		}
		if n < purgeChunk {
			return total, nil
		}
	}
}

func (s *Store) purgeChunk(ctx context.Context, p audit.Platform, property string, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	cur := s.property(p, property)
	if cur == nil {
		return 0, nil
	}
	ps := *cur
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		ps = *cur
		evB := tx.Bucket(bEvents)
		bridges := tx.Bucket(bBridge)
		prefix := u32(ps.num)
		end := append(u32(ps.num), audit.MakeID(before, 0).Bytes()...)
		type purged struct {
			key     []byte
			seq     uint64
			prevSeq uint64
			hash    []byte
			origin  string // on a replica, the store that wrote it
		}
		// On a replica, records of origins other than the default keep
		// their bridges and counts with their origin's chain.
		origins, obridges, chainsB := kvBucket(tx, nsOrigin), kvBucket(tx, nsOriginBridges), kvBucket(tx, nsChains)
		if origins != nil {
			// A salvaged copy keeps only the namespaces that held keys.
			var err error
			if obridges, err = tx.Bucket(bKV).CreateBucketIfNotExists([]byte(nsOriginBridges)); err != nil {
				return err
			}
			if chainsB, err = tx.Bucket(bKV).CreateBucketIfNotExists([]byte(nsChains)); err != nil {
				return err
			}
		}
		chains := map[string]*chainState{}
		var batch []purged
		c := evB.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, end) < 0 && len(batch) < purgeChunk; k, v = c.Next() {
			e, err := s.decodeEvent(ps.num, k[4:], v)
			if err != nil {
				return err
			}
			var r record
			_ = decodeRecord(v, &r) // decoded above without error
			if err := s.unindex(tx, ps.num, e); err != nil {
				return err
			}
			d := purged{key: bytes.Clone(k), seq: e.Seq, prevSeq: r.prevSeq, hash: e.Hash}
			if origins != nil {
				d.origin = string(origins.Get(k))
			}
			batch = append(batch, d)
		}
		bridgeKey := func(origin string, seq uint64) ([]byte, *bolt.Bucket) {
			if origin == "" {
				return binary.BigEndian.AppendUint64(u32(ps.num), seq), bridges
			}
			return originBridgeKey(ps.num, origin, seq), obridges
		}
		for _, d := range batch {
			if err := evB.Delete(d.key); err != nil {
				return err
			}
			k, b := bridgeKey(d.origin, d.seq)
			if err := b.Put(k, d.hash); err != nil {
				return err
			}
			if ren := kvBucket(tx, nsRenamed); ren != nil {
				if err := ren.Delete(d.key); err != nil {
					return err
				}
			}
			if d.origin == "" {
				continue
			}
			if err := origins.Delete(d.key); err != nil {
				return err
			}
			cs, ok := chains[d.origin]
			if !ok {
				c, err := decodeChain(chainsB.Get(chainKey(p, property, d.origin)))
				if err != nil {
					return fmt.Errorf("record %x: %w", d.key[4:], err)
				}
				cs = &c
				chains[d.origin] = cs
			}
			cs.count = max(cs.count, 1) - 1
		}
		for _, d := range batch {
			if d.prevSeq != 0 {
				k, b := bridgeKey(d.origin, d.prevSeq)
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		for o, cs := range chains {
			if err := chainsB.Put(chainKey(p, property, o), cs.encode()); err != nil {
				return err
			}
		}
		n = len(batch)
		ps.count -= uint64(n)
		return tx.Bucket(bProps).Put(propKeyBytes(p, property), encodeProp(&ps))
	})
	if err != nil {
		return 0, err
	}
	s.cacheMu.Lock()
	s.propByID[propKey{p, property}] = &ps // copy on write, as in Append
	s.cacheMu.Unlock()
	return n, nil
}

// unindex deletes the index entries of e.
func (s *Store) unindex(tx *bolt.Tx, prop uint32, e *audit.Event) error {
	key := func(mid []byte) []byte {
		k := append(u32(prop), mid...)
		return append(k, e.ID[:]...)
	}
	if err := tx.Bucket(bIxType).Delete(key([]byte{byte(e.Type)})); err != nil {
		return err
	}
	for _, u := range e.Subjects() {
		if n := dictLookup(tx, dictUser, u); n != 0 {
			if err := tx.Bucket(bIxUser).Delete(key(u32(n))); err != nil {
				return err
			}
		}
	}
	if n := dictLookup(tx, dictChannel, e.ChannelID); n != 0 {
		if err := tx.Bucket(bIxChan).Delete(key(u32(n))); err != nil {
			return err
		}
	}
	if e.MessageID != "" {
		// The entry names the newest record of the message: drop it only
		// when that is this record.
		ix := tx.Bucket(bIxMsg)
		k := append(u32(prop), msgKey(e.MessageID)...)
		if bytes.Equal(ix.Get(k), e.ID[:]) {
			return ix.Delete(k)
		}
	}
	return nil
}

// eraseChunk bounds the records one erasure transaction examines, and
// with it how long recording waits for an erasure (appendMu is released
// between chunks). A variable for BenchmarkErasePause, which compares it
// with one transaction (0).
var eraseChunk = 256

// eraseChunkHook, when set (by tests), runs between two chunks of an
// erasure, without appendMu.
var eraseChunkHook func()

// eraseRecords removes the personal data (names, params, content,
// attachments) of every record of a property in which user is the actor or
// a target, and returns how many records it changed. Ids, types and times
// stay, and the chain still verifies: each erased record keeps only the
// digest of what was removed. It works in transactions of at most
// eraseChunk records, releasing the writer between them, so that a
// running bot keeps recording during the erasure; records of the user
// committed meanwhile come after the ones done (ids grow with time) and
// are erased too. Erase (erase.go) also removes the user's state and
// scrubs the freed pages.
func (s *Store) eraseRecords(ctx context.Context, p audit.Platform, property, user string) (int, error) {
	if user == "" {
		return 0, nil
	}
	n := 0
	var after []byte
	for {
		k, last, done, err := s.eraseChunk(ctx, p, property, user, after)
		n += k
		if err != nil {
			return n, fmt.Errorf("erase user %s in %s %s: %w", user, p, property, err)
		}
		if done {
			return n, nil
		}
		after = last
		if eraseChunkHook != nil {
			eraseChunkHook()
		}
	}
}

// eraseChunk is one transaction of eraseRecords: the records after the
// user-index key after (from the first when nil).
func (s *Store) eraseChunk(ctx context.Context, p audit.Platform, property, user string, after []byte) (n int, last []byte, done bool, err error) {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	ps := s.property(p, property)
	if ps == nil {
		return 0, nil, true, nil
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		var err error
		n, last, done, err = eraseUserRecords(ctx, tx, ps.num, user, after, nil, eraseChunk)
		return err
	})
	if err != nil {
		return 0, nil, false, err
	}
	return n, last, done, nil
}

// eraseUserRecords redacts, in tx, the records of property num in which
// user is the actor or a target: those whose user-index key comes after
// after (all when nil) and, when before is not nil, whose id is less than
// before; at most max records examined when max > 0. It returns how many
// it changed, the last index key examined, and whether none is left.
func eraseUserRecords(ctx context.Context, tx *bolt.Tx, num uint32, user string, after []byte, before *audit.ID, max int) (int, []byte, bool, error) {
	un := dictLookup(tx, dictUser, user)
	if un == 0 {
		return 0, nil, true, nil
	}
	evB := tx.Bucket(bEvents)
	prefix := append(u32(num), u32(un)...)
	h := newChainHasher()
	var personal []byte
	c := tx.Bucket(bIxUser).Cursor()
	k, _ := c.Seek(prefix)
	if after != nil {
		k, _ = c.Seek(after)
		if bytes.Equal(k, after) {
			k, _ = c.Next()
		}
	}
	var keys [][]byte
	var last []byte
	done := true
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if err := ctx.Err(); err != nil {
			return 0, nil, false, err
		}
		if len(k) < len(prefix)+12 {
			return 0, nil, false, fmt.Errorf("%w: user index entry %x", errCorrupt, k)
		}
		id := k[len(k)-12:]
		if before != nil && bytes.Compare(id, before[:]) >= 0 {
			break
		}
		if max > 0 && len(keys) == max {
			done = false
			break
		}
		keys = append(keys, append(u32(num), id...))
		last = bytes.Clone(k)
	}
	n := 0
	for _, key := range keys {
		v := evB.Get(key)
		if v == nil {
			continue
		}
		var r record
		if err := decodeRecord(v, &r); err != nil {
			return n, nil, false, fmt.Errorf("record %x: %w", key[4:], err)
		}
		if r.ev.Redacted {
			continue
		}
		personal = appendPersonal(personal[:0], &r.ev)
		r.digest = h.personalDigest(r.nonce[:], personal)
		r.ev.Redacted = true
		if err := evB.Put(key, encodeRecord(nil, &r, nil)); err != nil {
			return n, nil, false, err
		}
		n++
	}
	return n, last, done, nil
}
