package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
)

// Verification is the result of checking one property's hash chain.
type Verification struct {
	Platform audit.Platform
	Property string
	Records  uint64        // records checked
	Head     [hashLen]byte // the property's newest hash
	OK       bool
	// When !OK: the first record found altered, out of place, or whose
	// predecessor is missing (BadID zero when the newest records are gone).
	BadID   audit.ID
	BadSeq  uint64
	Problem string
}

// Verify checks the hash chain of one property: every record's hash over
// its predecessor's and its own canonical bytes, the links between records
// in commit order, and the stored head. It reports the first record that
// was altered, removed or reordered.
func (s *Store) Verify(ctx context.Context, p audit.Platform, property string) (_ Verification, err error) {
	defer recoverDamaged(s.path, &err)
	res := Verification{Platform: p, Property: property, OK: true}
	ps := s.property(p, property)
	if ps == nil {
		return res, fmt.Errorf("verify %s %s: %w", p, property, ErrNotFound)
	}
	err = s.db.View(func(tx *bolt.Tx) error { return s.verify(ctx, tx, ps, &res) })
	if err != nil {
		return res, fmt.Errorf("verify %s %s: %w", p, property, err)
	}
	return res, nil
}

// VerifyAll verifies every property.
func (s *Store) VerifyAll(ctx context.Context) ([]Verification, error) {
	var out []Verification
	for _, p := range s.Properties() {
		v, err := s.Verify(ctx, p.Platform, p.ID)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Store) verify(ctx context.Context, tx *bolt.Tx, ps *propState, res *Verification) error {
	type link struct {
		seq uint64
		id  audit.ID
	}
	prefix := u32(ps.num)
	var links []link
	c := tx.Bucket(bEvents).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var l link
		if len(k) != 16 {
			return fail(res, l.id, 0, "malformed key")
		}
		copy(l.id[:], k[4:])
		r := reader{b: v}
		r.bytes(5)
		l.seq = r.uvarint()
		if r.err != nil {
			return fail(res, l.id, 0, "record cannot be decoded")
		}
		links = append(links, l)
	}
	slices.SortFunc(links, func(a, b link) int { return cmpU64(a.seq, b.seq) })

	bridges := tx.Bucket(bBridge)
	bridge := func(seq uint64) []byte {
		return bridges.Get(binary.BigEndian.AppendUint64(u32(ps.num), seq))
	}
	h := newChainHasher()
	var lastSeq uint64
	var last [hashLen]byte
	var personal []byte
	for i, l := range links {
		if i&1023 == 1023 && ctx.Err() != nil {
			return ctx.Err()
		}
		v := tx.Bucket(bEvents).Get(append(u32(ps.num), l.id[:]...))
		var r record
		if err := decodeRecord(v, &r); err != nil {
			return fail(res, l.id, l.seq, "record cannot be decoded: "+err.Error())
		}
		e := &r.ev
		e.ID, e.Platform, e.PropertyID = l.id, res.Platform, res.Property
		if uint32(e.Seq) != l.id.SeqLow() {
			return fail(res, l.id, e.Seq, "record was moved: its id does not match its sequence number")
		}
		prev := last[:]
		switch {
		case r.prevSeq == lastSeq:
		case r.prevSeq < lastSeq:
			return fail(res, l.id, e.Seq, fmt.Sprintf("out of order: it follows record seq %d but claims seq %d as its predecessor", lastSeq, r.prevSeq))
		default:
			b := bridge(r.prevSeq)
			if len(b) != hashLen {
				return fail(res, l.id, e.Seq, fmt.Sprintf("record seq %d before it was removed", r.prevSeq))
			}
			prev = b
		}
		if r.prevSeq == 0 {
			prev = make([]byte, hashLen)
		}
		var digest [hashLen]byte
		if e.Redacted {
			digest = r.digest
		} else {
			personal = appendPersonal(personal[:0], e)
			digest = h.personalDigest(r.nonce[:], personal)
		}
		sum := h.recordHash(prev, &r, &digest)
		if !bytes.Equal(sum[:], e.Hash) {
			return fail(res, l.id, e.Seq, "record was altered: its hash does not match its contents")
		}
		lastSeq, last = e.Seq, sum
		res.Records++
	}
	res.Head = ps.head
	if lastSeq != ps.lastSeq || last != ps.head {
		// The newest records may have been purged legitimately.
		b := bridge(ps.lastSeq)
		if ps.lastSeq < lastSeq || !bytes.Equal(b, ps.head[:]) {
			return fail(res, audit.ID{}, ps.lastSeq, fmt.Sprintf("the newest record(s) after seq %d were removed or the head was altered", lastSeq))
		}
	}
	if res.Records != ps.count {
		return fail(res, audit.ID{}, 0, fmt.Sprintf("%d records found, the property's count says %d", res.Records, ps.count))
	}
	return nil
}

func fail(res *Verification, id audit.ID, seq uint64, problem string) error {
	res.OK, res.BadID, res.BadSeq, res.Problem = false, id, seq, problem
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
