package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// A replica (a query node's store) holds records as their shards wrote
// them: each property has one chain per origin (the store that wrote it,
// see Origin), its shard's, with the shard's ids,
// sequence numbers and hashes, so that Verify on the replica checks what
// the shard wrote. A record arriving before its predecessor (a publish
// retried after later ones) waits in the KV namespace nsHeld, keyed by
// its predecessor, until that arrives.

// nsHeld is the KV namespace of records waiting for their predecessor:
// heldKey(platform, property, origin, prevSeq) -> JSON heldRecord, and
// kHeldCount -> how many there are (8 bytes).
const nsHeld = "replica/held"

// kHeldCount is shorter than any held record's key.
var kHeldCount = []byte("n")

// nsStarts is the KV namespace, on a shard, of where each property's
// chain as published begins: platform(1) property id -> seq(8) hash(32)
// of its newest record when the store first published (MarkChainStarts).
const nsStarts = "replica/starts"

// heldRecord is a recorder.Replica at rest.
type heldRecord struct {
	Event    *audit.Event `json:"event"`
	PrevSeq  uint64       `json:"prev_seq"`
	Nonce    []byte       `json:"nonce,omitempty"`
	Digest   []byte       `json:"digest"`
	PrevHash []byte       `json:"prev_hash,omitempty"`
	Origin   string       `json:"origin,omitempty"`
}

// MarkChainStarts records, the first time it is called on a store, each
// property's newest record: the records up to it were never published
// (the store recorded before it joined a fleet), so the first published
// record of the property carries that record's hash (Replica.PrevHash)
// and replicas start the chain there. Call it before the first record is
// queued for publishing. Later calls change nothing: every record since
// the first was queued, and a property created since starts its chain in
// the stream.
func (s *Store) MarkChainStarts() error {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bKV).Bucket([]byte(nsStarts)) != nil {
			return nil
		}
		b, err := tx.Bucket(bKV).CreateBucket([]byte(nsStarts))
		if err != nil {
			return err
		}
		for k, ps := range s.snapshotProps() {
			key := propKeyBytes(k.platform, k.id)
			if ps.lastSeq == 0 {
				continue
			}
			if err := b.Put(key, append(binary.BigEndian.AppendUint64(nil, ps.lastSeq), ps.head[:]...)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark where published chains start: %w", err)
	}
	return nil
}

// Publishing reports whether the store publishes its records to a
// fleet's stream (MarkChainStarts was called on it): records made
// without the bot, by the command line, are queued for the stream too.
func (s *Store) Publishing() bool {
	publishing := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		publishing = tx.Bucket(bKV).Bucket([]byte(nsStarts)) != nil
		return nil
	})
	return publishing
}

// snapshotProps copies the property table.
func (s *Store) snapshotProps() map[propKey]*propState {
	s.cacheMu.RLock()
	defer s.cacheMu.RUnlock()
	out := make(map[propKey]*propState, len(s.propByID))
	for k, v := range s.propByID {
		out[k] = v
	}
	return out
}

// OutboxReplica is a pending outbox entry with its record as a replica
// stores it. Replica.Event is nil when the record was purged before it was
// delivered.
type OutboxReplica struct {
	Key     []byte
	Seq     uint64
	Replica recorder.Replica
}

// OutboxReplicas returns up to max pending entries of one outbox target,
// oldest commit first, each with its record's chain material (for
// publishing to replicas).
func (s *Store) OutboxReplicas(ctx context.Context, sink, target string, max int) ([]OutboxReplica, error) {
	var out []OutboxReplica
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := outboxPrefix(sink, target)
		evB := tx.Bucket(bEvents)
		c := tx.Bucket(bOutbox).Cursor()
		h := newChainHasher()
		var personal []byte
		starts := tx.Bucket(bKV).Bucket([]byte(nsStarts))
		origin := s.Origin()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < max; k, v = c.Next() {
			if len(k) != len(prefix)+8 || len(v) != 16 {
				return fmt.Errorf("outbox: %w: entry", errCorrupt)
			}
			o := OutboxReplica{Key: bytes.Clone(k), Seq: binary.BigEndian.Uint64(k[len(prefix):])}
			if rec := evB.Get(v); rec != nil {
				var d decoder
				e := d.event()
				var r record
				d.rec = append(d.rec[:0], rec...)
				err := d.decode(d.rec, e, &r)
				d.finish()
				if err != nil {
					return fmt.Errorf("record %x: %w", v[4:], err)
				}
				pk, ok := s.propertyIn(tx, binary.BigEndian.Uint32(v))
				if !ok {
					return fmt.Errorf("record %x: %w: unknown property", v[4:], errCorrupt)
				}
				copy(e.ID[:], v[4:])
				e.Time, e.Platform, e.PropertyID = e.ID.Time(), pk.platform, pk.id
				o.Replica = recorder.Replica{Event: e, PrevSeq: r.prevSeq, PrevHash: chainStart(starts, pk, r.prevSeq), Origin: origin}
				if e.Redacted {
					o.Replica.Digest = bytes.Clone(r.digest[:])
				} else {
					personal = appendPersonal(personal[:0], e)
					digest := h.personalDigest(r.nonce[:], personal)
					o.Replica.Nonce, o.Replica.Digest = bytes.Clone(r.nonce[:]), digest[:]
				}
			}
			out = append(out, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox of %s/%s: %w", sink, target, err)
	}
	return out, nil
}

// AppendReplica stores records as their shard wrote them, in one fsync'd
// transaction with the cursors, keeping the same indexes as Append. Each
// (property, origin) has its own chain here, its shard's (see Origin). A
// record is stored when it links to the head of its origin's chain of
// its property (its PrevSeq is the head's Seq) and its hash is the hash
// of its contents over the head's: it then also releases the records
// held for it. A record already stored (Seq not past the head) is
// skipped; one whose predecessor has not arrived is held until it does;
// one whose hash does not match, or whose id is another origin's
// record's, is refused and described in Problems. Nothing of a refused or
// held record is written to the chain, so a chain is never joined out of
// order. An error means nothing was written.
//
// A stored erasure record (DATA_RETENTION, action ERASE) erases its user
// here as its shard did (replica_erase.go); the freed pages are then
// overwritten (Scrub) before AppendReplica returns.
func (s *Store) AppendReplica(ctx context.Context, b *recorder.ReplicaBatch) (recorder.ReplicaResult, error) {
	res, err := s.appendReplica(ctx, b)
	if err != nil || res.Erasures == 0 {
		return res, err
	}
	if _, err := s.Scrub(ctx); err != nil {
		res.Problems = append(res.Problems, fmt.Errorf("an erasure copied from a shard changed the records, but the freed pages still hold the erased bytes "+
			"until the next erasure, purge or scrub: %w", err))
	}
	return res, nil
}

func (s *Store) appendReplica(ctx context.Context, b *recorder.ReplicaBatch) (recorder.ReplicaResult, error) {
	var res recorder.ReplicaResult
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("append replicas: %w", err)
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	w := s.writer
	if w == nil {
		w = &appendTx{s: s}
		s.writer = w
	}
	w.reset(s.seq, len(b.Records))
	err := s.db.Update(func(tx *bolt.Tx) error {
		res = recorder.ReplicaResult{}
		w.begin(tx)
		r := replicaTx{w: w, chains: map[string]*chainState{}, queued: map[string][]byte{}}
		kv := tx.Bucket(bKV)
		var err error
		for _, nb := range []struct {
			b  **bolt.Bucket
			ns string
		}{{&r.held, nsHeld}, {&r.chainsB, nsChains}, {&r.origins, nsOrigin}, {&r.bridges, nsOriginBridges}, {&r.renamed, nsRenamed}, {&r.erased, nsErased}} {
			if *nb.b, err = kv.CreateBucketIfNotExists([]byte(nb.ns)); err != nil {
				return err
			}
		}
		waiting := int64(0)
		if v := r.held.Get(kHeldCount); len(v) == 8 {
			waiting = int64(binary.BigEndian.Uint64(v))
		}
		for i := range b.Records {
			if err := r.replica(b.Records[i], &res, &waiting); err != nil {
				return err
			}
		}
		if err := r.held.Put(kHeldCount, binary.BigEndian.AppendUint64(nil, uint64(max(waiting, 0)))); err != nil {
			return err
		}
		for k, cs := range r.chains {
			if err := r.chainsB.Put([]byte(k), cs.encode()); err != nil {
				return err
			}
		}
		res.Waiting = int(max(waiting, 0))
		if err := w.end(tx, b.Cursors, nil); err != nil {
			return err
		}
		res.Erasures = len(r.erasures)
		return r.applyErasures(ctx, tx, &res)
	})
	w.release()
	if err != nil {
		if errors.Is(err, bolt.ErrDatabaseNotOpen) {
			return recorder.ReplicaResult{}, fmt.Errorf("append %d replicas to %s: %w: %w", len(b.Records), s.path, recorder.ErrJournalClosed, err)
		}
		return recorder.ReplicaResult{}, fmt.Errorf("append %d replicas to %s: %w", len(b.Records), s.path, err)
	}
	s.committed(w)
	return res, nil
}

// IsReplica reports whether the store holds records copied from a
// fleet's shards (a query node's store): its chains are the shards', so
// records of its own belong in another store.
func (s *Store) IsReplica() bool {
	replica := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		replica = tx.Bucket(bKV).Bucket([]byte(nsHeld)) != nil
		return nil
	})
	return replica
}

// heldKey is the nsHeld key of the record that follows prevSeq in an
// origin's chain of a property. The default origin's keys are as they
// were before origins (prevSeq first); others start with 'o', which no
// sequence number's first byte is in practice.
func heldKey(p audit.Platform, property, origin string, prevSeq uint64) []byte {
	var b []byte
	if origin != "" {
		b = append([]byte{'o', byte(len(origin))}, origin...)
	}
	b = binary.BigEndian.AppendUint64(b, prevSeq)
	return append(b, propKeyBytes(p, property)...)
}

// replicaTx is AppendReplica's transaction.
type replicaTx struct {
	w                               *appendTx
	held, chainsB, origins, bridges *bolt.Bucket
	renamed, erased                 *bolt.Bucket
	erasures                        []replicaErasure       // erasure records stored in this transaction
	chains                          map[string]*chainState // origins' chains written, by chainKey
	queued                          map[string][]byte      // ev entries written in this transaction
}

// chain returns the working head of an origin's chain (not the default
// origin's).
func (r *replicaTx) chain(p audit.Platform, property, origin string) (*chainState, error) {
	k := chainKey(p, property, origin)
	if cs, ok := r.chains[string(k)]; ok {
		return cs, nil
	}
	cs := &chainState{}
	if v := r.chainsB.Get(k); v != nil {
		c, err := decodeChain(v)
		if err != nil {
			return nil, err
		}
		*cs = c
	}
	r.chains[string(k)] = cs
	return cs, nil
}

// defaultHead is the head of the default origin's chain of a property.
func (r *replicaTx) defaultHead(p audit.Platform, property string) (uint64, [hashLen]byte) {
	if ps, ok := r.w.props[propKey{p, property}]; ok {
		return ps.lastSeq, ps.head
	}
	if ps := r.w.s.property(p, property); ps != nil {
		return ps.lastSeq, ps.head
	}
	return 0, [hashLen]byte{}
}

// replica stores, holds, skips or refuses one record; stored records
// release the records held for them.
func (r *replicaTx) replica(rec recorder.Replica, res *recorder.ReplicaResult, waiting *int64) error {
	for {
		if err := checkReplica(&rec); err != nil {
			res.Problems = append(res.Problems, err)
			return nil
		}
		r.dropErased(&rec, res)
		e := rec.Event
		head, defHash := r.defaultHead(e.Platform, e.PropertyID)
		if rec.Origin != "" {
			cs, err := r.chain(e.Platform, e.PropertyID, rec.Origin)
			if err != nil {
				return err
			}
			if cs.lastSeq == 0 && rec.PrevSeq != 0 && len(rec.PrevHash) == 0 && rec.PrevSeq == head && r.w.s.linksTo(&rec, defHash[:]) {
				// A shard that published before it had an origin goes
				// on: its chain here, the default origin's, ends at
				// this record's predecessor. The origin's chain starts
				// from that record's hash.
				rec.PrevHash = bytes.Clone(defHash[:])
			}
			head = cs.lastSeq
			if cs.lastSeq == 0 && r.sameAsDefault(&rec) {
				res.Duplicates++
				return nil
			}
		}
		switch {
		case rec.PrevSeq == head:
		case e.Seq <= head:
			switch origin, stored := r.stored(e); {
			case stored && origin == rec.Origin, stored && r.renamedCopy(&rec):
				res.Duplicates++
			case stored:
				res.Problems = append(res.Problems, collision(e, rec.Origin, origin))
			default:
				res.Problems = append(res.Problems, fmt.Errorf("record %s (seq %d) of %s is older than the newest record of its chain here (seq %d) but not stored here: "+
					"a copy of a record purged here, or a record of another chain of the same origin; not stored",
					e.ID, e.Seq, chainName(&rec), head))
			}
			return nil
		case rec.PrevSeq < head:
			res.Problems = append(res.Problems, fmt.Errorf("record %s (seq %d) of %s follows seq %d, not the newest record of its chain here (seq %d): "+
				"another chain of the same origin (two stores with one origin, as a restored backup recording beside its original); not stored",
				e.ID, e.Seq, chainName(&rec), rec.PrevSeq, head))
			return nil
		case head == 0 && len(rec.PrevHash) == hashLen:
			// The first record published of a chain that began before
			// its shard joined the fleet: the chain starts here, after
			// a bridge to its predecessor's hash (as after a purge).
		default:
			v, err := json.Marshal(heldRecord{e, rec.PrevSeq, rec.Nonce, rec.Digest, rec.PrevHash, rec.Origin})
			if err != nil {
				return fmt.Errorf("hold record %s: %w", e.ID, err)
			}
			res.Held++
			k := heldKey(e.Platform, e.PropertyID, rec.Origin, rec.PrevSeq)
			if r.held.Get(k) == nil {
				*waiting++
			}
			return r.held.Put(k, v)
		}
		stored, err := r.link(rec, res)
		if err != nil || !stored {
			return err
		}
		if err := r.noteErasure(e); err != nil {
			return err
		}
		// Release the record that waited for this one, if any.
		k := heldKey(e.Platform, e.PropertyID, rec.Origin, e.Seq)
		v := r.held.Get(k)
		if v == nil {
			return nil
		}
		var h heldRecord
		if err := json.Unmarshal(v, &h); err != nil {
			return fmt.Errorf("held record after %s: %w: %w", e.ID, errCorrupt, err)
		}
		if err := r.held.Delete(k); err != nil {
			return err
		}
		*waiting--
		rec = recorder.Replica{Event: h.Event, PrevSeq: h.PrevSeq, Nonce: h.Nonce, Digest: h.Digest, PrevHash: h.PrevHash, Origin: h.Origin}
	}
}

// linksTo reports whether rec's hash is its contents' over prev.
func (s *Store) linksTo(rec *recorder.Replica, prev []byte) bool {
	rc := record{ev: *rec.Event, prevSeq: rec.PrevSeq}
	var digest [hashLen]byte
	copy(digest[:], rec.Digest)
	sum := s.hasher.recordHash(prev, &rc, &digest)
	return bytes.Equal(sum[:], rec.Event.Hash)
}

// chainName names a record's chain in problems.
func chainName(rec *recorder.Replica) string {
	name := fmt.Sprintf("%s %s", rec.Event.Platform, rec.Event.PropertyID)
	if rec.Origin != "" {
		name += " from origin " + rec.Origin
	}
	return name
}

// renamedCopy reports whether rec is stored under another id (nsRenamed).
func (r *replicaTx) renamedCopy(rec *recorder.Replica) bool {
	key, _, ok := r.storedKey(rec.Event)
	if !ok {
		return false
	}
	for k := uint64(1); k <= maxShift; k++ {
		id := shiftID(rec.Event.ID, k)
		cand := append(bytes.Clone(key[:4]), id[:]...)
		orig := r.renamed.Get(cand)
		if orig == nil {
			if _, _, taken := r.storedKeyOf(cand); !taken {
				return false // renames take the first free id
			}
			continue
		}
		if bytes.Equal(orig, rec.Event.ID[:]) && string(r.origins.Get(cand)) == rec.Origin {
			return true
		}
	}
	return false
}

// collision describes a record refused because another origin's record
// has its id.
func collision(e *audit.Event, origin, other string) error {
	name := func(o string) string {
		if o == "" {
			return "the default origin"
		}
		return "origin " + o
	}
	return fmt.Errorf("record %s (seq %d) of %s %s from %s has the id of a record from %s stored here "+
		"(both recorded in the same nanosecond with the same low sequence bits); not stored",
		e.ID, e.Seq, e.Platform, e.PropertyID, name(origin), name(other))
}

// stored reports whether a record with e's id is stored, or queued in
// this transaction, and the origin of the one that is.
func (r *replicaTx) stored(e *audit.Event) (string, bool) {
	key, _, ok := r.storedKey(e)
	if !ok {
		return "", false
	}
	return string(r.origins.Get(key)), true
}

// storedKey is the ev key and the record stored or queued with e's id.
func (r *replicaTx) storedKey(e *audit.Event) ([]byte, []byte, bool) {
	w := r.w
	ps, ok := w.props[propKey{e.Platform, e.PropertyID}]
	if !ok {
		if ps = w.s.property(e.Platform, e.PropertyID); ps == nil {
			return nil, nil, false
		}
	}
	return r.storedKeyOf(append(u32(ps.num), e.ID[:]...))
}

// storedKeyOf is storedKey by ev key.
func (r *replicaTx) storedKeyOf(key []byte) ([]byte, []byte, bool) {
	if v := r.w.buckets[qEvents].Get(key); v != nil {
		return key, v, true
	}
	v, queued := r.queued[string(key)]
	return key, v, queued
}

// sameAsDefault reports whether rec, of an origin whose chain here is
// empty, is stored already as a record of the default origin: its shard
// published it before it published origins, and again (a retried
// publish) after.
func (r *replicaTx) sameAsDefault(rec *recorder.Replica) bool {
	key, v, ok := r.storedKey(rec.Event)
	if !ok || r.origins.Get(key) != nil {
		return false
	}
	var stored record
	if decodeRecord(v, &stored) != nil {
		return false
	}
	return stored.ev.Seq == rec.Event.Seq && bytes.Equal(stored.ev.Hash, rec.Event.Hash)
}

// checkReplica refuses a record that cannot be stored as is.
func checkReplica(rec *recorder.Replica) error {
	e := rec.Event
	switch {
	case e == nil:
		return errors.New("replica without a record")
	case e.Validate() != nil:
		return fmt.Errorf("record %s: %w", e.ID, e.Validate())
	case e.Seq == 0 || uint32(e.Seq) != e.ID.SeqLow():
		return fmt.Errorf("record %s of %s %s: its id does not match its sequence number %d", e.ID, e.Platform, e.PropertyID, e.Seq)
	case rec.PrevSeq >= e.Seq:
		return fmt.Errorf("record %s of %s %s: its predecessor %d does not come before it (%d)", e.ID, e.Platform, e.PropertyID, rec.PrevSeq, e.Seq)
	case len(e.Hash) != hashLen || len(rec.Digest) != hashLen:
		return fmt.Errorf("record %s of %s %s: no chain hash or personal digest", e.ID, e.Platform, e.PropertyID)
	case !e.Redacted && len(rec.Nonce) != nonceLen:
		return fmt.Errorf("record %s of %s %s: no nonce", e.ID, e.Platform, e.PropertyID)
	case len(rec.Origin) > MaxOriginLen:
		return fmt.Errorf("record %s of %s %s: its origin is longer than %d bytes", e.ID, e.Platform, e.PropertyID, MaxOriginLen)
	}
	return nil
}

// link stores a record that follows its chain's head, if its hash is
// right and its id is free.
func (r *replicaTx) link(rec recorder.Replica, res *recorder.ReplicaResult) (bool, error) {
	w := r.w
	e := rec.Event
	rc := record{ev: *e, prevSeq: rec.PrevSeq}
	var digest [hashLen]byte
	copy(digest[:], rec.Digest)
	var personal []byte
	if !e.Redacted {
		personal = appendPersonal(nil, e)
		copy(rc.nonce[:], rec.Nonce)
		if w.s.hasher.personalDigest(rc.nonce[:], personal) != digest {
			// The message could not carry the personal part exactly
			// (text that is not UTF-8 does not survive JSON): keep the
			// record, and its chain, without it.
			res.Problems = append(res.Problems, fmt.Errorf("record %s of %s %s: its names and content differ from what its shard hashed; stored without them",
				e.ID, e.Platform, e.PropertyID))
			redact(e)
			rc.ev = *e
		}
	}
	if e.Redacted {
		rc.digest = digest
	}
	headSeq, prev := r.defaultHead(e.Platform, e.PropertyID)
	var cs *chainState
	if rec.Origin != "" {
		var err error
		if cs, err = r.chain(e.Platform, e.PropertyID, rec.Origin); err != nil {
			return false, err
		}
		headSeq, prev = cs.lastSeq, cs.head
	}
	bridge := headSeq != rec.PrevSeq // a chain starting after a record never published
	if bridge {
		copy(prev[:], rec.PrevHash)
	}
	sum := w.s.hasher.recordHash(prev[:], &rc, &digest)
	if !bytes.Equal(sum[:], e.Hash) {
		res.Problems = append(res.Problems, fmt.Errorf("record %s of %s %s: its hash does not match its contents and its chain; refused",
			e.ID, e.Platform, e.PropertyID))
		return false, nil
	}
	ps, err := w.property(e.Platform, e.PropertyID)
	if err != nil {
		return false, err
	}
	if bridge {
		var err error
		if rec.Origin == "" {
			err = w.tx.Bucket(bBridge).Put(binary.BigEndian.AppendUint64(u32(ps.num), rec.PrevSeq), bytes.Clone(prev[:]))
		} else {
			err = r.bridges.Put(originBridgeKey(ps.num, rec.Origin, rec.PrevSeq), bytes.Clone(prev[:]))
		}
		if err != nil {
			return false, err
		}
	}
	// Another origin's record has its id: store it under the next free
	// nanosecond, remembering its shard's id (which its hash covers).
	var shardID []byte
	if _, _, taken := r.storedKeyOf(append(u32(ps.num), e.ID[:]...)); taken {
		shardID = bytes.Clone(e.ID[:])
		free := false
		for k := uint64(1); k <= maxShift && !free; k++ {
			id := shiftID(rc.ev.ID, k)
			if _, _, taken := r.storedKeyOf(append(u32(ps.num), id[:]...)); !taken {
				e.ID, free = id, true
			}
		}
		if !free {
			res.Problems = append(res.Problems, fmt.Errorf("record %s (seq %d) of %s: its id and the next %d are other records' here; not stored",
				rc.ev.ID, e.Seq, chainName(&rec), maxShift))
			return false, nil
		}
		res.Problems = append(res.Problems, fmt.Errorf("record %s (seq %d) of %s has the id of another origin's record here: stored as %s",
			rc.ev.ID, e.Seq, chainName(&rec), e.ID))
	}
	w.scratch = encodeRecord(w.scratch[:0], &rc, personal)
	key := w.key(ps.num, nil, e.ID)
	v := w.arena.copy(w.scratch)
	w.put(qEvents, key, v)
	r.queued[string(key)] = v
	if shardID != nil {
		if err := r.renamed.Put(bytes.Clone(key), shardID); err != nil {
			return false, err
		}
	}
	if err := w.index(ps.num, e, key, nil); err != nil {
		return false, err
	}
	ps.count++ // every origin's records: the property's count
	if rec.Origin == "" {
		ps.lastSeq, ps.head = e.Seq, sum
	} else {
		cs.lastSeq, cs.head = e.Seq, sum
		cs.count++
		if err := r.origins.Put(bytes.Clone(key), []byte(rec.Origin)); err != nil {
			return false, err
		}
	}
	res.Stored = append(res.Stored, e)
	return true, nil
}

// redact drops an event's personal part, as Erase does.
func redact(e *audit.Event) {
	e.Redacted = true
	e.ActorName, e.Content, e.Params, e.Attachments = "", "", nil, nil
}

// chainStart is the hash a replica starts a property's chain from when
// the record after prevSeq is the first the store published of it, or
// nil.
func chainStart(starts *bolt.Bucket, k propKey, prevSeq uint64) []byte {
	if starts == nil || prevSeq == 0 {
		return nil
	}
	v := starts.Get(propKeyBytes(k.platform, k.id))
	if len(v) != 8+hashLen || binary.BigEndian.Uint64(v) != prevSeq {
		return nil
	}
	return bytes.Clone(v[8:])
}
