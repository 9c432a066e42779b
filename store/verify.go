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
	// Origin names the store that wrote the chain, on a query node's
	// store whose property has chains from several shards (see
	// Store.Origin); empty for a shard's own chain and for records
	// replicated without an origin.
	Origin  string
	Records uint64        // records checked
	Head    [hashLen]byte // the property's newest hash
	OK      bool
	// When !OK: the first record found altered, out of place, or whose
	// predecessor is missing (BadID zero when the newest records are gone).
	BadID   audit.ID
	BadSeq  uint64
	Problem string
	// Gaps are the runs of missing records, oldest first. Verification
	// goes on past a gap (a salvaged copy has one wherever a damaged page
	// was), trusting the hash stored in the record the chain resumes at:
	// its link to the missing predecessor cannot be checked.
	Gaps []Gap
}

// Gap is a run of records missing from a chain: removed by hand, or lost
// with a damaged page. Sequence numbers are shared by every property of
// the file, so not every number in (After, Last] was this property's; the
// record numbered Last was.
type Gap struct {
	After    uint64   // the last record present before the gap (0: the chain's start)
	Last     uint64   // the missing record that the next one (or the head) links to
	Resume   uint64   // the record the chain resumes at; 0 when the gap is at the end
	ResumeID audit.ID // its id
}

// String says which records are missing, as an operator reads it.
func (g Gap) String() string {
	which := fmt.Sprintf("records seq %s–%s", thousands(g.After+1), thousands(g.Last))
	if g.After+1 == g.Last {
		which = "record seq " + thousands(g.Last)
	}
	if g.Resume == 0 {
		return fmt.Sprintf("the newest %s missing (removed or lost, or the head was altered)", which)
	}
	return fmt.Sprintf("%s missing: removed or lost (chain resumes at seq %s)", which, thousands(g.Resume))
}

// thousands formats n with commas between groups of three digits.
func thousands(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Verify checks the hash chain of one property: every record's hash over
// its predecessor's and its own canonical bytes, the links between records
// in commit order, and the stored head. It reports the first record that
// was altered or reordered, and every run of missing records (Gaps). On a
// query node's store, where a property has a chain per origin, it reports
// the first chain that failed, or the default origin's (the first one's
// when it has none) with every chain's records counted; VerifyChains
// reports each.
func (s *Store) Verify(ctx context.Context, p audit.Platform, property string) (Verification, error) {
	vs, err := s.VerifyChains(ctx, p, property)
	if err != nil {
		return Verification{Platform: p, Property: property}, err
	}
	if len(vs) == 1 {
		return vs[0], nil
	}
	total := uint64(0)
	for _, v := range vs {
		if !v.OK {
			return v, nil
		}
		total += v.Records
	}
	v := vs[0]
	v.Records = total
	return v, nil
}

// VerifyChains checks each chain of one property as Verify does: its
// own on a shard's store, one per origin on a query node's (the default
// origin's first, then by origin).
func (s *Store) VerifyChains(ctx context.Context, p audit.Platform, property string) (_ []Verification, err error) {
	defer recoverDamaged(s.path, &err)
	ps := s.property(p, property)
	if ps == nil {
		return nil, fmt.Errorf("verify %s %s: %w", p, property, ErrNotFound)
	}
	var out []Verification
	err = s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = s.verifyChains(ctx, tx, p, property, ps)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("verify %s %s: %w", p, property, err)
	}
	return out, nil
}

// VerifyAll verifies every chain of every property.
func (s *Store) VerifyAll(ctx context.Context) ([]Verification, error) {
	var out []Verification
	for _, p := range s.Properties() {
		v, err := s.VerifyChains(ctx, p.Platform, p.ID)
		if err != nil {
			return out, err
		}
		out = append(out, v...)
	}
	return out, nil
}

// link is a record in a chain: its sequence number and id.
type link struct {
	seq uint64
	id  audit.ID
}

// verifyChains sorts a property's records into their origins' chains
// and verifies each.
func (s *Store) verifyChains(ctx context.Context, tx *bolt.Tx, p audit.Platform, property string, ps *propState) ([]Verification, error) {
	def := Verification{Platform: p, Property: property, OK: true}
	byOrigin := map[string][]link{}
	origins := kvBucket(tx, nsOrigin)
	prefix := u32(ps.num)
	c := tx.Bucket(bEvents).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var l link
		if len(k) != 16 {
			fail(&def, l.id, 0, "malformed key")
			continue
		}
		copy(l.id[:], k[4:])
		r := reader{b: v}
		r.bytes(5)
		l.seq = r.uvarint()
		if r.err != nil {
			fail(&def, l.id, 0, "record cannot be decoded")
			continue
		}
		origin := ""
		if origins != nil {
			origin = string(origins.Get(k))
		}
		byOrigin[origin] = append(byOrigin[origin], l)
	}
	chains, err := originChains(tx, p, property)
	if err != nil {
		return nil, err
	}
	var out []Verification
	// The default origin's chain is the property's own: its head is the
	// property's, its records those no origin claims.
	others := uint64(0)
	for _, cs := range chains {
		others += cs.count
	}
	if len(chains) == 0 || ps.lastSeq != 0 || len(byOrigin[""]) > 0 || !def.OK {
		bridges := tx.Bucket(bBridge)
		bridge := func(seq uint64) []byte { return bridges.Get(binary.BigEndian.AppendUint64(u32(ps.num), seq)) }
		head := chainState{lastSeq: ps.lastSeq, head: ps.head, count: ps.count - min(others, ps.count)}
		if err := s.verify(ctx, tx, ps.num, byOrigin[""], bridge, head, &def); err != nil {
			return nil, err
		}
		out = append(out, def)
	}
	names := make([]string, 0, len(chains))
	for o := range chains {
		names = append(names, o)
	}
	slices.Sort(names)
	ob := kvBucket(tx, nsOriginBridges)
	for _, o := range names {
		res := Verification{Platform: p, Property: property, Origin: o, OK: true}
		bridge := func(seq uint64) []byte {
			if ob == nil {
				return nil
			}
			return ob.Get(originBridgeKey(ps.num, o, seq))
		}
		if err := s.verify(ctx, tx, ps.num, byOrigin[o], bridge, chains[o], &res); err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	// Records of an origin without a chain head were written behind the
	// store's back.
	for o, ls := range byOrigin {
		if _, ok := chains[o]; !ok && o != "" {
			res := Verification{Platform: p, Property: property, Origin: o, OK: true}
			fail(&res, ls[0].id, ls[0].seq, fmt.Sprintf("%d records of an origin this store has no chain of", len(ls)))
			out = append(out, res)
		}
	}
	return out, nil
}

// verify checks one chain: links are its records (any order), bridge
// finds the hash kept for a purged record, head is the chain's stored
// head and count.
func (s *Store) verify(ctx context.Context, tx *bolt.Tx, num uint32, links []link, bridge func(seq uint64) []byte, head chainState, res *Verification) error {
	slices.SortFunc(links, func(a, b link) int { return cmpU64(a.seq, b.seq) })
	renamed := kvBucket(tx, nsRenamed)
	h := newChainHasher()
	var lastSeq uint64
	var last [hashLen]byte
	lastUnknown := false // the record at lastSeq could not be decoded
	var personal []byte
	for i, l := range links {
		if i&1023 == 1023 && ctx.Err() != nil {
			return ctx.Err()
		}
		v := tx.Bucket(bEvents).Get(append(u32(num), l.id[:]...))
		var r record
		if err := decodeRecord(v, &r); err != nil {
			fail(res, l.id, l.seq, "record cannot be decoded: "+err.Error())
			lastSeq, lastUnknown = l.seq, true
			continue
		}
		e := &r.ev
		e.ID, e.Platform, e.PropertyID = l.id, res.Platform, res.Property
		if renamed != nil {
			// Stored under another id on a replica (origin.go): its
			// hash covers its shard's.
			if orig := renamed.Get(append(u32(num), l.id[:]...)); len(orig) == len(e.ID) {
				copy(e.ID[:], orig)
			}
		}
		// After a problem, go on from the record's own stored hash, so
		// that one bad record does not hide the state of the rest.
		skip := func() {
			lastSeq, lastUnknown = e.Seq, false
			copy(last[:], e.Hash)
			res.Records++
		}
		if uint32(e.Seq) != l.id.SeqLow() {
			fail(res, l.id, e.Seq, "record was moved: its id does not match its sequence number")
			skip()
			continue
		}
		prev := last[:]
		switch {
		case r.prevSeq == lastSeq && lastUnknown:
			skip() // its predecessor could not be decoded
			continue
		case r.prevSeq == lastSeq:
		case r.prevSeq < lastSeq:
			fail(res, l.id, e.Seq, fmt.Sprintf("out of order: it follows record seq %d but claims seq %d as its predecessor", lastSeq, r.prevSeq))
			skip()
			continue
		default:
			b := bridge(r.prevSeq)
			if len(b) != hashLen {
				// A gap: the predecessor is gone and no bridge keeps
				// its hash.
				gap(res, Gap{After: lastSeq, Last: r.prevSeq, Resume: e.Seq, ResumeID: l.id})
				skip()
				continue
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
			fail(res, l.id, e.Seq, "record was altered: its hash does not match its contents")
			skip()
			continue
		}
		lastSeq, last, lastUnknown = e.Seq, sum, false
		res.Records++
	}
	res.Head = head.head
	if lastSeq != head.lastSeq || last != head.head {
		// The newest records may have been purged legitimately.
		b := bridge(head.lastSeq)
		switch {
		case head.lastSeq > lastSeq && !bytes.Equal(b, head.head[:]):
			gap(res, Gap{After: lastSeq, Last: head.lastSeq})
		case head.lastSeq < lastSeq || !bytes.Equal(b, head.head[:]):
			fail(res, audit.ID{}, head.lastSeq, fmt.Sprintf("the head (seq %d) does not match the newest record (seq %d): the head was altered", head.lastSeq, lastSeq))
		}
	}
	if res.OK && res.Records != head.count {
		fail(res, audit.ID{}, 0, fmt.Sprintf("%d records found, the chain's count says %d", res.Records, head.count))
	}
	return nil
}

// fail records a problem. The first one found is reported, except that
// any other problem is reported before a gap.
func fail(res *Verification, id audit.ID, seq uint64, problem string) {
	if res.OK || (len(res.Gaps) > 0 && res.Problem == res.Gaps[0].String()) {
		res.OK, res.BadID, res.BadSeq, res.Problem = false, id, seq, problem
	}
}

// gap records a run of missing records; the first one found is the
// problem reported when nothing worse was.
func gap(res *Verification, g Gap) {
	if res.OK {
		res.OK, res.BadID, res.BadSeq = false, g.ResumeID, g.Resume
		res.Problem = g.String()
	}
	res.Gaps = append(res.Gaps, g)
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
