package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// Index roles stored in ixuser values.
const (
	roleActor  = 1
	roleTarget = 2
)

// Append writes a batch in one fsync'd transaction: every event with its
// indexes and chain link, its outbox routes, and the cursors. It assigns ID,
// Seq and Hash to each event in place. On error nothing is written and the
// batch may be appended again.
func (s *Store) Append(ctx context.Context, b *recorder.Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	if b.Routes != nil && len(b.Routes) != len(b.Events) {
		return fmt.Errorf("append: %d route lists for %d events", len(b.Routes), len(b.Events))
	}
	if b.Sealed != nil && len(b.Sealed) != len(b.Events) {
		return fmt.Errorf("append: %d seals for %d events", len(b.Sealed), len(b.Events))
	}
	for _, e := range b.Events {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("append: %w", err)
		}
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	w := s.writer
	if w == nil {
		w = &appendTx{s: s}
		s.writer = w
	}
	w.reset(s.seq, len(b.Events))
	err := s.db.Update(func(tx *bolt.Tx) error { return w.run(tx, b) })
	w.release()
	if err != nil {
		if errors.Is(err, bolt.ErrDatabaseNotOpen) {
			return fmt.Errorf("append %d events to %s: %w: %w", len(b.Events), s.path, recorder.ErrJournalClosed, err)
		}
		return fmt.Errorf("append %d events to %s: %w", len(b.Events), s.path, err)
	}
	s.committed(w)
	s.seals.put(b.Sealed)
	// The seals are the store's now: the batch no longer refers to them,
	// so appending it again seals afresh rather than sharing a buffer.
	clear(b.Sealed)
	return nil
}

// committed publishes the state of a committed transaction of w.
func (s *Store) committed(w *appendTx) {
	s.seq = w.seq
	s.counts.addOutbox(w.outbox)
	s.counts.apply(w.deltas)
	for k, v := range w.dict {
		s.dict[k] = v
	}
	// Publish new states rather than changing the old ones in place:
	// queries may still hold the old pointers (copy on write).
	s.cacheMu.Lock()
	for k, ps := range w.props {
		s.propByID[k] = ps
		s.propByNo[ps.num] = k
	}
	s.cacheMu.Unlock()
}

// reset readies the writer for a batch of n events. Its buffers are kept
// from one Append to the next (under appendMu): bbolt copies keys on Put
// and is done with values once the transaction has committed or rolled
// back, so only the hashes handed back in the events need fresh memory.
func (w *appendTx) reset(seq uint64, n int) {
	w.seq = seq
	clear(w.props)
	clear(w.dict)
	clear(w.outbox)
	w.deltas = w.deltas[:0]
	if w.props == nil {
		w.props = make(map[propKey]*propState)
		w.dict = make(map[string]uint32)
		w.outbox = make(map[string]int)
	}
	dropped := w.arena.reset()
	const keep = 1 << 15 // queued writes kept between batches (1.5 MiB each)
	for i := range w.pending {
		if cap(w.pending[i]) > keep {
			w.pending[i] = nil
		}
		if dropped { // let the dropped chunks go
			clear(w.pending[i])
		}
		w.pending[i] = w.pending[i][:0]
	}
	if cap(w.order) > keep {
		w.order = nil
	}
	w.hashes = make([]byte, 0, n*hashLen)
}

// release drops the finished transaction's buckets: a bbolt Bucket holds
// its transaction's nodes, megabytes after a large commit, which the kept
// writer would otherwise keep alive until the next Append.
func (w *appendTx) release() {
	w.tx = nil
	w.buckets = [nQueued]*bolt.Bucket{}
	w.dictB, w.propsB, w.propNum = nil, nil, nil
}

// appendTx is the state of one Append transaction. Nothing in it reaches
// the Store's caches unless the transaction commits. One is kept per Store
// and reused by every Append (see reset).
type appendTx struct {
	s     *Store
	tx    *bolt.Tx
	seq   uint64
	props map[propKey]*propState // copies, published on commit
	dict  map[string]uint32      // new dictionary entries
	arena arena                  // keys and values until commit
	// hashes holds the events' Hash fields: fresh for every batch, since
	// the events (and their hashes) outlive the transaction.
	hashes []byte
	// outbox counts the entries added by sink and deltas the counted KV
	// keys added or removed, for Store.counts once the batch committed.
	// Anything that writes outbox entries through add must apply them.
	outbox map[string]int
	deltas []delta

	buckets                [nQueued]*bolt.Bucket
	dictB, propsB, propNum *bolt.Bucket

	scratch, dictKey []byte
	pending          [nQueued][]kv
	order            []sortKey
}

// The buckets whose writes are queued and applied in key order.
const (
	qEvents = iota
	qType
	qUser
	qChan
	qMsg
	qOutbox
	nQueued
)

// kv is one queued write.
type kv struct{ k, v []byte }

// sortKey orders a queued write: a and b are its key's first 16 bytes, big
// endian, so that sorting rarely needs to compare the bytes, and n its
// place in the queue (a later write of the same key wins). Sorting these
// instead of the writes moves a third of the bytes.
type sortKey struct {
	a, b uint64
	n    int
}

var empty = []byte{}

// put queues a write; flush applies each bucket's writes in key order,
// which keeps bbolt's page cache hot and its node splits cheap.
func (w *appendTx) put(q int, k, v []byte) {
	if v == nil {
		v = empty
	}
	w.pending[q] = append(w.pending[q], kv{k, v})
}

func (w *appendTx) flush() error {
	for q, kvs := range w.pending {
		order := w.order[:0]
		for i, p := range kvs {
			var pre [16]byte
			copy(pre[:], p.k)
			order = append(order, sortKey{binary.BigEndian.Uint64(pre[:8]), binary.BigEndian.Uint64(pre[8:]), i})
		}
		slices.SortFunc(order, func(x, y sortKey) int {
			switch {
			case x.a != y.a:
				return cmpU64(x.a, y.a)
			case x.b != y.b:
				return cmpU64(x.b, y.b)
			}
			if d := bytes.Compare(kvs[x.n].k, kvs[y.n].k); d != 0 {
				return d
			}
			return x.n - y.n
		})
		w.order = order
		b := w.buckets[q]
		for _, o := range order {
			if err := b.Put(kvs[o.n].k, kvs[o.n].v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *appendTx) run(tx *bolt.Tx, b *recorder.Batch) error {
	w.begin(tx)
	for i, e := range b.Events {
		var routes []recorder.Route
		if b.Routes != nil {
			routes = b.Routes[i]
		}
		var sealed []byte
		if b.Sealed != nil {
			sealed = b.Sealed[i]
		}
		if len(sealed) < nonceLen+hashLen {
			sealed = w.s.Seal(e)
		}
		if err := w.add(e, sealed, routes); err != nil {
			return fmt.Errorf("event %d (%s): %w", i, e.Type, err)
		}
	}
	return w.end(tx, b.Cursors, b.State)
}

// begin opens the buckets of a transaction.
func (w *appendTx) begin(tx *bolt.Tx) {
	w.tx = tx
	for q, name := range [nQueued][]byte{qEvents: bEvents, qType: bIxType, qUser: bIxUser,
		qChan: bIxChan, qMsg: bIxMsg, qOutbox: bOutbox} {
		w.buckets[q] = fill(tx.Bucket(name))
	}
	w.dictB = tx.Bucket(bDict)
	w.propsB = tx.Bucket(bProps)
	w.propNum = tx.Bucket(bPropNum)
}

// end applies the queued writes, the properties' states, the cursors and
// the state of a transaction.
func (w *appendTx) end(tx *bolt.Tx, cs []recorder.Cursor, state []recorder.State) error {
	if err := w.flush(); err != nil {
		return err
	}
	for k, ps := range w.props {
		if err := w.propsB.Put(propKeyBytes(k.platform, k.id), encodeProp(ps)); err != nil {
			return err
		}
	}
	cursors := tx.Bucket(bCursors)
	for _, c := range cs {
		if err := cursors.Put([]byte(c.Name), c.Value); err != nil {
			return fmt.Errorf("cursor %s: %w", c.Name, err)
		}
	}
	for _, st := range state {
		if err := w.s.putState(tx, st, &w.deltas); err != nil {
			return err
		}
	}
	return tx.Bucket(bMeta).Put(kSeq, binary.BigEndian.AppendUint64(nil, w.seq))
}

func fill(b *bolt.Bucket) *bolt.Bucket {
	b.FillPercent = fillRatio
	return b
}

// Seal computes, for an event not yet committed, what does not depend on
// its place in the chain: a random nonce, the personal part's encoding and
// its digest. It implements audit.Sealer so that the Recorder runs it on the
// callers' goroutines.
func (s *Store) Seal(e *audit.Event) []byte {
	b := s.seals.get(nonceLen + hashLen + 64 + len(e.Content) + len(e.ActorName))[:nonceLen+hashLen]
	if _, err := rand.Read(b[:nonceLen]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // documented never to fail on Linux
	}
	b = appendPersonal(b, e)
	h := sealHashes.Get().(hash.Hash)
	h.Reset()
	h.Write(b[:nonceLen])
	h.Write(b[nonceLen+hashLen:])
	h.Sum(b[nonceLen:nonceLen])
	sealHashes.Put(h)
	return b
}

// sealBufs recycles Seal's buffers: Append takes them back once a batch
// has committed (recorder.Batch.Sealed), so a steady stream of events
// seals into the same memory instead of one allocation per event. It keeps
// buffers of at most sealBufMax bytes, sealBufsBytes in all: a whole
// commit's worth at the recorder's default batch of ordinary messages.
type sealBufs struct {
	mu    sync.Mutex
	free  [][]byte
	bytes int // capacity of free
}

const (
	sealBufsBytes = 4 << 20
	sealBufMax    = 4 << 10
)

// get returns an empty buffer of capacity at least n. New buffers are
// rounded up to 256 bytes so that they fit most later events.
func (p *sealBufs) get(n int) []byte {
	n = (n + 255) &^ 255
	p.mu.Lock()
	if k := len(p.free); k > 0 {
		b := p.free[k-1]
		p.free[k-1] = nil
		p.free = p.free[:k-1]
		p.bytes -= cap(b)
		p.mu.Unlock()
		if cap(b) >= n {
			return b[:0]
		}
		return make([]byte, 0, n)
	}
	p.mu.Unlock()
	return make([]byte, 0, n)
}

// put takes back the seals of a committed batch.
func (p *sealBufs) put(seals [][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range seals {
		c := cap(b)
		if c == 0 || c > sealBufMax {
			continue
		}
		if p.bytes+c > sealBufsBytes {
			return
		}
		p.free = append(p.free, b)
		p.bytes += c
	}
}

// sealHashes are SHA-256 states for Seal, which runs on every producer's
// goroutine.
var sealHashes = sync.Pool{New: func() any { return sha256.New() }}

var _ recorder.Sealer = (*Store)(nil)

// add writes one event. sealed is Seal's result for it.
func (w *appendTx) add(e *audit.Event, sealed []byte, routes []recorder.Route) error {
	ps, err := w.property(e.Platform, e.PropertyID)
	if err != nil {
		return err
	}
	w.seq++
	e.Seq = w.seq
	e.ID = audit.MakeID(e.Time, e.Seq)
	e.Redacted = false

	r := record{ev: *e, prevSeq: ps.lastSeq}
	copy(r.nonce[:], sealed)
	var digest [hashLen]byte
	copy(digest[:], sealed[nonceLen:])
	personal := sealed[nonceLen+hashLen:]
	sum := w.s.hasher.recordHash(ps.head[:], &r, &digest)
	w.hashes = append(w.hashes, sum[:]...)
	e.Hash = w.hashes[len(w.hashes)-hashLen : len(w.hashes) : len(w.hashes)]
	r.ev.Hash = e.Hash

	w.scratch = encodeRecord(w.scratch[:0], &r, personal)
	key := w.key(ps.num, nil, e.ID)
	w.put(qEvents, key, w.arena.copy(w.scratch))
	if err := w.index(ps.num, e, key, routes); err != nil {
		return err
	}
	ps.lastSeq = e.Seq
	ps.head = sum
	ps.count++
	return nil
}

// index queues the index entries and outbox routes of e, stored under key.
func (w *appendTx) index(prop uint32, e *audit.Event, key []byte, routes []recorder.Route) error {
	typ := byte(e.Type)
	w.put(qType, w.key(prop, []byte{typ}, e.ID), nil)
	if err := w.indexUsers(prop, e, typ); err != nil {
		return err
	}
	if e.ChannelID != "" {
		ch, err := w.dictNum(dictChannel, e.ChannelID)
		if err != nil {
			return err
		}
		w.put(qChan, w.key(prop, u32(ch), e.ID), w.arena.copy([]byte{typ}))
	}
	if e.MessageID != "" && (e.Type == audit.ChatMessage || e.Type == audit.ChatMessageEdit) {
		w.scratch = appendMsgKey(binary.BigEndian.AppendUint32(w.scratch[:0], prop), e.MessageID)
		w.put(qMsg, w.arena.copy(w.scratch), key[4:])
	}
	for i, rt := range routes {
		if slices.Contains(routes[:i], rt) {
			continue // the same delivery twice is one entry
		}
		w.outbox[rt.Sink]++
		k := w.arena.alloc(len(rt.Sink) + 1 + len(rt.Target) + 1 + 8)
		n := copy(k, rt.Sink)
		k[n] = 0
		n += 1 + copy(k[n+1:], rt.Target)
		k[n] = 0
		binary.BigEndian.PutUint64(k[n+1:], e.Seq)
		w.put(qOutbox, k, key)
	}
	return nil
}

// indexUsers writes one ixuser entry per distinct subject, with its roles.
func (w *appendTx) indexUsers(prop uint32, e *audit.Event, typ byte) error {
	put := func(id string, role byte) error {
		n, err := w.dictNum(dictUser, id)
		if err != nil {
			return err
		}
		w.put(qUser, w.key(prop, u32(n), e.ID), w.arena.copy([]byte{role, typ}))
		return nil
	}
	actorAlsoTarget := false
	for i, t := range e.TargetIDs {
		if t == "" || containsBefore(e.TargetIDs, i, t) {
			continue
		}
		role := byte(roleTarget)
		if t == e.ActorID {
			role |= roleActor
			actorAlsoTarget = true
		}
		if err := put(t, role); err != nil {
			return err
		}
	}
	if e.ActorID != "" && !actorAlsoTarget {
		return put(e.ActorID, roleActor)
	}
	return nil
}

func containsBefore(s []string, i int, v string) bool {
	for _, x := range s[:i] {
		if x == v {
			return true
		}
	}
	return false
}

// key builds prop(4) mid id(12) in the arena.
func (w *appendTx) key(prop uint32, mid []byte, id audit.ID) []byte {
	k := w.arena.alloc(4 + len(mid) + len(id))
	binary.BigEndian.PutUint32(k, prop)
	copy(k[4:], mid)
	copy(k[4+len(mid):], id[:])
	return k
}

// property returns the working copy of a property's state, creating the
// property on first use.
func (w *appendTx) property(p audit.Platform, id string) (*propState, error) {
	k := propKey{p, id}
	if ps, ok := w.props[k]; ok {
		return ps, nil
	}
	if cur := w.s.property(p, id); cur != nil {
		cp := *cur
		w.props[k] = &cp
		return &cp, nil
	}
	n, err := w.propsB.NextSequence()
	if err != nil {
		return nil, err
	}
	if n > 1<<32-1 {
		return nil, fmt.Errorf("too many properties")
	}
	ps := &propState{num: uint32(n)}
	if err := w.propNum.Put(u32(ps.num), propKeyBytes(p, id)); err != nil {
		return nil, err
	}
	w.props[k] = ps
	return ps, nil
}

// dictNum returns the number of a user or channel id, assigning one if new.
func (w *appendTx) dictNum(kind byte, id string) (uint32, error) {
	w.dictKey = append(append(w.dictKey[:0], kind), id...)
	if n, ok := w.s.dict[string(w.dictKey)]; ok {
		return n, nil
	}
	if n, ok := w.dict[string(w.dictKey)]; ok {
		return n, nil
	}
	k := w.arena.copy(w.dictKey)
	if v := w.dictB.Get(k); len(v) == 4 {
		n := binary.BigEndian.Uint32(v)
		w.dict[string(k)] = n
		return n, nil
	}
	seq, err := w.dictB.NextSequence()
	if err != nil {
		return 0, err
	}
	if seq > 1<<32-1 {
		return 0, fmt.Errorf("dictionary full")
	}
	n := uint32(seq)
	if err := w.dictB.Put(k, u32(n)); err != nil {
		return 0, err
	}
	w.dict[string(k)] = n
	return n, nil
}

// msgKey orders message ids: platform message ids are increasing numbers
// (Discord snowflakes, Telegram's per-chat counters), stored as 8 big-endian
// bytes so that new messages append to the index; anything else is kept as
// text after a marker byte.
func msgKey(id string) []byte { return appendMsgKey(nil, id) }

func appendMsgKey(b []byte, id string) []byte {
	if n, err := strconv.ParseUint(id, 10, 64); err == nil && (id == "0" || id[0] != '0') {
		return binary.BigEndian.AppendUint64(append(b, 0), n)
	}
	return append(append(b, 1), id...)
}

// arena hands out byte slices that stay valid for the whole transaction, as
// bbolt requires of keys and values passed to Put. reset makes its chunks
// available again: only once the transaction is over.
type arena struct {
	buf    []byte
	chunks [][]byte // full chunks, reused after reset
	next   int      // chunks[:next] are in use
}

const arenaChunk = 256 << 10

func (a *arena) alloc(n int) []byte {
	if cap(a.buf)-len(a.buf) < n {
		switch {
		case n > arenaChunk:
			return make([]byte, n)
		case a.next < len(a.chunks):
			a.buf = a.chunks[a.next][:0]
		default:
			a.buf = make([]byte, 0, arenaChunk)
			a.chunks = append(a.chunks, a.buf)
		}
		a.next++
	}
	start := len(a.buf)
	a.buf = a.buf[:start+n]
	return a.buf[start : start+n : start+n]
}

// reset reports whether it dropped chunks.
func (a *arena) reset() bool {
	a.buf, a.next = nil, 0
	// Keep up to 4 MiB, about what a 10,000-event commit uses; a bigger
	// burst's chunks go to the garbage collector.
	if len(a.chunks) > 16 {
		clear(a.chunks[16:])
		a.chunks = a.chunks[:16]
		return true
	}
	return false
}

func (a *arena) copy(b []byte) []byte {
	out := a.alloc(len(b))
	copy(out, b)
	return out
}
