package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
)

// A store's origin is the stable, non-secret name of the chains it
// writes: a hash of the file's secret, so that it is created with the
// file, kept for its life and carried over by Salvage (which copies the
// secret). Shards publish it with every record; a query node keeps one
// chain per (platform, property, origin), so that a Telegram group whose
// poller failed over between processes has one chain from each, each as
// its shard wrote it. Records that came without an origin (published
// before origins existed) belong to the default origin "", whose chain
// is the property's own (propState), as it always was.

// MaxOriginLen bounds an origin's length (Origin's are 16).
const MaxOriginLen = 64

// Namespaces of the KV bucket a replica keeps its origins' chains in.
const (
	// nsChains: chainKey(platform, property, origin) -> seq(8) head(32)
	// count(8), the head of each origin's chain but the default's.
	nsChains = "replica/chains"
	// nsOrigin: property num(4) id(12) -> origin, for each record not of
	// the default origin.
	nsOrigin = "replica/origin"
	// nsOriginBridges: property num(4) len(1) origin seq(8) -> hash,
	// the bridges (bBridge) of origins' chains.
	nsOriginBridges = "replica/bridges"
	// nsRenamed: property num(4) id(12) -> the record's id on its shard
	// (12), for a record stored under another id because another
	// origin's record of the property has its own (both recorded in one
	// instant with the same low sequence bits, as Telegram's whole-second
	// dates make likely): the next nanosecond that is free. Its hash
	// covers the shard's id, which Verify uses.
	nsRenamed = "replica/renamed"
)

// shiftID is id k nanoseconds later.
func shiftID(id audit.ID, k uint64) audit.ID {
	binary.BigEndian.PutUint64(id[:8], binary.BigEndian.Uint64(id[:8])+k)
	return id
}

// maxShift bounds the search for a free id.
const maxShift = 1 << 12

// Origin returns the store's origin id (16 hex digits).
func (s *Store) Origin() string {
	sum := sha256.Sum256(append([]byte("chatwarden/origin/v1\x00"), s.secret...))
	return hex.EncodeToString(sum[:8])
}

// chainState is the head of one origin's chain of a property.
type chainState struct {
	lastSeq uint64
	head    [hashLen]byte
	count   uint64
}

func (c *chainState) encode() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 48), c.lastSeq)
	b = append(b, c.head[:]...)
	return binary.BigEndian.AppendUint64(b, c.count)
}

func decodeChain(v []byte) (chainState, error) {
	var c chainState
	if len(v) != 16+hashLen {
		return c, fmt.Errorf("%w: chain head of an origin", errCorrupt)
	}
	c.lastSeq = binary.BigEndian.Uint64(v)
	copy(c.head[:], v[8:])
	c.count = binary.BigEndian.Uint64(v[8+hashLen:])
	return c, nil
}

// chainPrefix starts the nsChains keys of a property.
func chainPrefix(p audit.Platform, property string) []byte {
	b := binary.AppendUvarint([]byte{byte(p)}, uint64(len(property)))
	return append(b, property...)
}

func chainKey(p audit.Platform, property, origin string) []byte {
	return append(chainPrefix(p, property), origin...)
}

// originBridgeKey is the nsOriginBridges key of the bridge after seq in
// an origin's chain of property num.
func originBridgeKey(num uint32, origin string, seq uint64) []byte {
	b := append(u32(num), byte(len(origin)))
	b = append(b, origin...)
	return binary.BigEndian.AppendUint64(b, seq)
}

// kvBucket is a KV namespace's bucket, or nil when it was never written.
func kvBucket(tx *bolt.Tx, ns string) *bolt.Bucket {
	return tx.Bucket(bKV).Bucket([]byte(ns))
}

// originChains returns the chains of a property's origins but the
// default one, by origin.
func originChains(tx *bolt.Tx, p audit.Platform, property string) (map[string]chainState, error) {
	b := kvBucket(tx, nsChains)
	if b == nil {
		return nil, nil
	}
	out := map[string]chainState{}
	prefix := chainPrefix(p, property)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && len(k) > len(prefix) && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
		cs, err := decodeChain(v)
		if err != nil {
			return nil, err
		}
		out[string(k[len(prefix):])] = cs
	}
	return out, nil
}
