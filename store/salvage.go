package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/settings"
)

// Salvage copies what can still be read of a damaged database file into a
// new one.
//
// It reads the damaged file itself, page by page, without bbolt (see
// salvage_pages.go): from the newest valid meta page it walks every
// bucket's tree, and skips any page it cannot read with the subtree below
// it. When the file's freelist can be read, it then reads the pages that
// are neither in the tree nor free: leaves cut off from the tree by a
// damaged branch page, whose records it takes too. (Without a freelist it
// cannot tell those from stale pages, and takes none.) When the newest
// meta page may be the damaged one, it also looks for the last commit's
// records (lastCommit).
//
// What it copies:
//   - every record it can decode, byte for byte, with its chain fields
//     (sequence number, link to its predecessor, hash), so that Verify on
//     the copy checks them and names the gaps; a record whose hash does
//     not match its contents and its predecessor's is damaged and dropped.
//     Records of a community whose entries (in both props and propnum,
//     and in every older copy of propnum left in the file) are lost
//     cannot be attributed and are reported, not copied;
//   - each community's chain head and count and the bridges of purged
//     records, so that the copy's chains still end where the original's
//     did and go on from there when the bot records into the copy, and
//     Verify on the copy counts a lost record that breaks no link (one
//     whose successor was purged);
//   - the settings (those that still parse), the platform cursors, the
//     namespaced KV state (API token hashes, verification deadlines,
//     member profiles, the engines' state) and the file's secret (the
//     pagination cursors stay valid);
//   - pending log-channel deliveries whose record was copied.
//
// The indexes and the dictionary of user and channel ids are rebuilt from
// the records, so a damaged index page loses nothing.
//
// The new file is written next to out and renamed to it when complete; an
// existing out is refused. The report says what could not be read. The
// error is for a copy that could not be made at all.
func Salvage(ctx context.Context, src, out string) (_ *SalvageReport, err error) {
	defer recoverDamaged(src, &err) // the reader is written not to panic; this is the net
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("salvage to %s: the file exists: choose a new name", out)
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("salvage %s: %w", src, err)
	}
	defer f.Close()
	// Hold bbolt's shared lock, so that the bot does not write to the
	// file meanwhile, and refuse a file the bot holds.
	lock, err := lockShared(src)
	if err != nil {
		return nil, fmt.Errorf("salvage %s: %w", src, err)
	}
	if lock != nil {
		defer lock.Close()
	}
	rf, metaProblems, err := openRaw(f, src)
	if err != nil {
		return nil, fmt.Errorf("salvage %s: %w: %w", src, ErrDamaged, err)
	}
	rep := &SalvageReport{Source: src, Out: out, PageSize: rf.pageSize, Pages: rf.meta.hwm, MetaPage: rf.meta.page, Damaged: metaProblems,
		EarlierCommit: rf.newerLost}

	tmp, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".salvage-*")
	if err != nil {
		return nil, fmt.Errorf("salvage to %s: %w", out, err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	os.Remove(tmpPath) // store.Open creates it
	done := false
	defer func() {
		if !done {
			os.Remove(tmpPath)
		}
	}()
	dst, err := Open(tmpPath, Options{NoSync: true})
	if err != nil {
		return nil, fmt.Errorf("salvage to %s: %w", out, err)
	}
	defer func() {
		if dst != nil {
			dst.Close()
		}
	}()
	sv := &salvager{ctx: ctx, rf: rf, rep: rep, dst: dst, props: map[uint32]*salvageProp{}}
	if err := sv.run(); err != nil {
		return nil, fmt.Errorf("salvage %s to %s: %w", src, out, err)
	}
	if err := dst.db.Sync(); err != nil {
		return nil, fmt.Errorf("salvage to %s: %w", out, err)
	}
	if err := dst.Close(); err != nil {
		return nil, fmt.Errorf("salvage to %s: %w", out, err)
	}
	dst = nil
	if err := os.Rename(tmpPath, out); err != nil {
		return nil, fmt.Errorf("salvage to %s: %w", out, err)
	}
	done = true
	return rep, nil
}

// lockShared opens path with bbolt read-only, which takes the file's
// shared lock, and returns the handle to close when done: ErrLocked when
// another process holds the file for writing. A file bbolt cannot open
// (or panics on) gives no handle and no error: Salvage reads it anyway.
func lockShared(path string) (db *bolt.DB, err error) {
	defer func() {
		if recover() != nil {
			db, err = nil, nil
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, nil
	}
	return db, nil
}

// SalvageReport says what Salvage copied and what it could not read.
type SalvageReport struct {
	Source, Out string
	PageSize    int
	Pages       uint64 // pages in use in the source
	MetaPage    int    // the meta page used: the newest valid one
	// Damaged lists the pages that could not be read, in the order met.
	// A damaged page of an index or of the dictionary loses nothing:
	// those are rebuilt from the records (see Lost).
	Damaged    []DamagedPage
	NoFreelist string // why cut-off leaves were not searched, or ""
	// EarlierCommit: a damaged meta page may have been the newest, and
	// the file was read as of the commit before. The records of the last
	// commit were looked for; its other changes (settings, state) are
	// lost.
	EarlierCommit bool
	OrphanPages   int // leaf pages cut off from the tree whose records were taken
	Records       int // records copied
	Communities   []SalvagedCommunity
	Unattributed  map[uint32]int // records not copied: their community's entry is lost (by property number)
	OlderNames    int            // communities named from an older copy of the property table
	// BadRecords are records found but not copied: they do not decode,
	// or their hash does not match their contents.
	BadRecords                             []BadRecord
	Settings, Cursors, KV, Bridges, Outbox int
	// OutboxDropped counts pending deliveries whose record is not in the
	// copy (purged before, or lost): the deliverer drops those unposted.
	OutboxDropped int
	LostSettings  int // settings that no longer parse
}

// SalvagedCommunity is one community's chain in the copy.
type SalvagedCommunity struct {
	Platform audit.Platform
	ID       string
	Records  uint64 // copied
	Expected uint64 // the count the source's property entry gave (0 when it is lost)
	Gaps     []Gap  // runs of missing records in the copy (Verify's)
	// Problem is what else Verify found wrong in the copy: a record
	// after a gap, which cannot be checked, may still be damaged.
	Problem string
}

// BadRecord is a record found on a page but not copied.
type BadRecord struct {
	Page    uint64
	Key     []byte
	Seq     uint64 // 0 when unknown
	Problem string
}

// Complete reports whether everything in use in the source was read.
func (r *SalvageReport) Complete() bool {
	return len(r.Lost()) == 0 && len(r.Unattributed) == 0 && len(r.BadRecords) == 0 && r.LostSettings == 0 && r.problems() == 0
}

func (r *SalvageReport) problems() int {
	n := 0
	for _, c := range r.Communities {
		if c.Problem != "" || len(c.Gaps) > 0 {
			n++
		}
	}
	return n
}

// Lost returns the damaged pages whose loss lost data: not those of an
// index or the dictionary (rebuilt from the records), nor the freelist,
// nor a meta page older than the one read.
func (r *SalvageReport) Lost() []DamagedPage {
	var out []DamagedPage
	for _, d := range r.Damaged {
		switch {
		case rebuiltBucket(d.Bucket), d.Bucket == pageIsFreelist:
		case d.Bucket == pageIsMeta && !r.EarlierCommit:
		default:
			out = append(out, d)
		}
	}
	return out
}

// rebuiltBucket reports whether a top-level bucket is rebuilt from the
// records by Salvage.
func rebuiltBucket(name string) bool {
	switch name {
	case string(bIxType), string(bIxUser), string(bIxChan), string(bIxMsg), string(bDict):
		return true
	}
	return false
}

type salvageProp struct {
	key      propKey
	keyKnown bool
	keyFrom  propName   // where key was found
	others   []propName // other names the file gives its number: damage (resolveNames)
	state    *propState // from props, when readable
	recs     []salvageRec
}

// propName is a name the file gives a property number, and where.
type propName struct {
	key    propKey
	bucket string
	page   uint64
}

// name takes a name the file gives p's number: the first one found, and
// any other (a damaged entry of props or propnum) for resolveNames.
func (p *salvageProp) name(key propKey, bucket string, page uint64) {
	switch {
	case !p.keyKnown:
		p.key, p.keyKnown, p.keyFrom = key, true, propName{key, bucket, page}
	case key != p.key && !slices.ContainsFunc(p.others, func(n propName) bool { return n.key == key }):
		p.others = append(p.others, propName{key, bucket, page})
	}
}

type salvageRec struct {
	id      audit.ID
	seq     uint64
	prevSeq uint64
	page    uint64
}

type salvager struct {
	ctx   context.Context
	rf    *rawFile
	rep   *SalvageReport
	dst   *Store
	props map[uint32]*salvageProp

	meta     map[string][]byte
	bridges  []kv
	outbox   []kv
	settings []kv
	cursors  []kv
	kvs      map[string][]kv
	maxSeq   uint64
	pending  []kv // records to write
	haveKeys map[[16]byte]bool

	newer map[uint64]int // records found after the last readable commit: seq -> how many
}

func (sv *salvager) prop(num uint32) *salvageProp {
	p := sv.props[num]
	if p == nil {
		p = &salvageProp{}
		sv.props[num] = p
	}
	return p
}

func (sv *salvager) run() error {
	sv.meta = map[string][]byte{}
	sv.kvs = map[string][]kv{}
	sv.haveKeys = map[[16]byte]bool{}
	w := &treeWalker{ctx: sv.ctx, rf: sv.rf, seen: map[uint64]bool{}, visit: sv.visit}
	if err := w.walk(); err != nil {
		return err
	}
	if err := sv.flushRecords(); err != nil {
		return err
	}
	sv.rep.Damaged = append(sv.rep.Damaged, w.damaged...)
	if err := sv.orphans(w.seen); err != nil {
		return err
	}
	if sv.rf.newerLost {
		if err := sv.lastCommit(w.seen); err != nil {
			return err
		}
	}
	for _, step := range []func() error{sv.flushRecords, sv.attribute, sv.resolveNames, sv.oneNumberPerName,
		sv.checkChains, sv.writeRest, sv.index} {
		if err := step(); err != nil {
			return err
		}
	}
	return sv.report()
}

// visit takes one element of the tree walk.
func (sv *salvager) visit(path []string, k, v []byte, page uint64) error {
	c := func(b []byte) []byte { return bytes.Clone(b) }
	switch {
	case len(path) == 1 && path[0] == string(bEvents):
		return sv.record(k, v, page)
	case len(path) == 1 && path[0] == string(bMeta):
		sv.meta[string(k)] = c(v)
	case len(path) == 1 && path[0] == string(bProps):
		key, ps, err := decodeProp(k, v)
		if err != nil {
			sv.rep.Damaged = append(sv.rep.Damaged, DamagedPage{Page: page, Bucket: "props", Problem: "a property entry does not decode"})
			return nil
		}
		p := sv.prop(ps.num)
		p.state = ps
		p.name(key, "props", page)
	case len(path) == 1 && path[0] == string(bPropNum):
		if len(k) == 4 && len(v) >= 2 {
			sv.prop(binary.BigEndian.Uint32(k)).name(propKey{audit.Platform(v[0]), string(v[1:])}, "propnum", page)
		}
	case len(path) == 1 && path[0] == string(bBridge):
		if len(k) == 12 && len(v) == hashLen {
			sv.bridges = append(sv.bridges, kv{c(k), c(v)})
			sv.maxSeq = max(sv.maxSeq, binary.BigEndian.Uint64(k[4:]))
		}
	case len(path) == 1 && path[0] == string(bOutbox):
		if len(k) > 8 && len(v) == 16 {
			sv.outbox = append(sv.outbox, kv{c(k), c(v)})
		}
	case len(path) == 1 && path[0] == string(bSettings):
		var set settings.Community
		if len(k) < 2 || json.Unmarshal(v, &set) != nil {
			sv.rep.LostSettings++
			return nil
		}
		sv.settings = append(sv.settings, kv{c(k), c(v)})
	case len(path) == 1 && path[0] == string(bCursors):
		sv.cursors = append(sv.cursors, kv{c(k), c(v)})
	case len(path) == 2 && path[0] == string(bKV):
		sv.kvs[path[1]] = append(sv.kvs[path[1]], kv{c(k), c(v)})
	}
	return nil
}

// record takes one ev element, checked as far as it can be alone.
func (sv *salvager) record(k, v []byte, page uint64) error {
	bad := func(seq uint64, problem string) error {
		sv.rep.BadRecords = append(sv.rep.BadRecords, BadRecord{Page: page, Key: bytes.Clone(k), Seq: seq, Problem: problem})
		return nil
	}
	if len(k) != 16 {
		return bad(0, fmt.Sprintf("a key of %d bytes, not 16", len(k)))
	}
	var r record
	if err := decodeRecord(v, &r); err != nil {
		return bad(0, "the record does not decode: "+err.Error())
	}
	var id audit.ID
	copy(id[:], k[4:])
	if uint32(r.ev.Seq) != id.SeqLow() {
		return bad(r.ev.Seq, "its id does not match its sequence number")
	}
	var key [16]byte
	copy(key[:], k)
	if sv.haveKeys[key] {
		return nil
	}
	sv.haveKeys[key] = true
	num := binary.BigEndian.Uint32(k)
	p := sv.prop(num)
	p.recs = append(p.recs, salvageRec{id: id, seq: r.ev.Seq, prevSeq: r.prevSeq, page: page})
	sv.maxSeq = max(sv.maxSeq, r.ev.Seq)
	sv.pending = append(sv.pending, kv{bytes.Clone(k), bytes.Clone(v)})
	if len(sv.pending) >= 4096 {
		return sv.flushRecords()
	}
	return nil
}

// flushRecords writes the pending records to the copy.
func (sv *salvager) flushRecords() error {
	if len(sv.pending) == 0 {
		return nil
	}
	err := sv.dst.db.Update(func(tx *bolt.Tx) error {
		b := fill(tx.Bucket(bEvents))
		for _, p := range sv.pending {
			if err := b.Put(p.k, p.v); err != nil {
				return err
			}
		}
		return nil
	})
	sv.pending = sv.pending[:0]
	if err != nil {
		return fmt.Errorf("write records: %w", err)
	}
	return nil
}

// orphans takes the records of leaf pages that are in use (not free) but
// not in the tree: cut off by a damaged branch page.
func (sv *salvager) orphans(seen map[uint64]bool) error {
	free, flPages, problem := sv.rf.freelist()
	switch {
	case problem != nil:
		sv.rep.Damaged = append(sv.rep.Damaged, *problem)
		sv.rep.NoFreelist = "the freelist cannot be read"
		return nil
	case free == nil:
		sv.rep.NoFreelist = "the file keeps no freelist"
		return nil
	}
	for _, p := range flPages {
		seen[p] = true
	}
	for id := uint64(2); id < sv.rf.meta.hwm; id++ {
		if id&1023 == 0 {
			if err := sv.ctx.Err(); err != nil {
				return err
			}
		}
		if seen[id] || free[id] {
			continue
		}
		p, err := sv.rf.page(id, pageLeaf)
		if err != nil {
			continue // an overflow page, a cut-off branch, or damage already reported
		}
		elems, err := leafElements(p)
		if err != nil {
			continue
		}
		took := false
		for _, e := range elems {
			if e.bucket || !looksLikeRecord(e.k, e.v) {
				continue
			}
			took = true
			if err := sv.record(e.k, e.v, id); err != nil {
				return err
			}
		}
		if took {
			sv.rep.OrphanPages++
		}
		id += pageOverflow(p)
	}
	return nil
}

// lastCommit looks for the records of the commit that a damaged meta
// page recorded: the file is read as of the commit before, whose tree
// does not reach the pages that commit wrote, and whose freelist counts
// them as free. Records whose sequence number is above every one of the
// commit before cannot be stale copies; they are taken when their hash
// checks against their predecessor's (checkChains), and dropped when two
// claim one number (a transaction that failed after writing pages).
func (sv *salvager) lastCommit(seen map[uint64]bool) error {
	before := sv.maxSeq
	if v := sv.meta[string(kSeq)]; len(v) == 8 {
		before = max(before, binary.BigEndian.Uint64(v))
	}
	sv.newer = map[uint64]int{}
	filePages := uint64(sv.rf.size / int64(sv.rf.pageSize))
	for id := uint64(2); id < filePages; id++ {
		if id&1023 == 0 {
			if err := sv.ctx.Err(); err != nil {
				return err
			}
		}
		if seen[id] {
			continue
		}
		p, err := sv.rf.pageBelow(id, filePages, pageLeaf)
		if err != nil {
			continue
		}
		elems, err := leafElements(p)
		if err != nil {
			continue
		}
		for _, e := range elems {
			if e.bucket || !looksLikeRecord(e.k, e.v) {
				continue
			}
			r := reader{b: e.v}
			r.bytes(5)
			seq := r.uvarint()
			if seq <= before {
				continue
			}
			var key [16]byte
			copy(key[:], e.k)
			if !sv.haveKeys[key] {
				sv.newer[seq]++
			}
			if err := sv.record(e.k, e.v, id); err != nil {
				return err
			}
		}
		id += pageOverflow(p)
	}
	return nil
}

// looksLikeRecord reports whether a leaf element found outside the tree
// is a record of the ev bucket: a 16-byte key whose id matches the
// sequence number of a value that decodes as a record. No index entry
// has that shape.
func looksLikeRecord(k, v []byte) bool {
	if len(k) != 16 {
		return false
	}
	var r record
	if decodeRecord(v, &r) != nil {
		return false
	}
	return uint32(r.ev.Seq) == binary.BigEndian.Uint32(k[12:])
}

// attribute drops the records of properties whose identity is lost,
// after looking for it in older copies of the property table.
func (sv *salvager) attribute() error {
	if err := sv.olderNames(); err != nil {
		return err
	}
	var drop [][]byte
	for num, p := range sv.props {
		if p.keyKnown || len(p.recs) == 0 {
			continue
		}
		if sv.rep.Unattributed == nil {
			sv.rep.Unattributed = map[uint32]int{}
		}
		sv.rep.Unattributed[num] = len(p.recs)
		for _, r := range p.recs {
			drop = append(drop, append(u32(num), r.id[:]...))
		}
		p.recs = nil
	}
	return sv.delete(drop)
}

// olderNames looks for the propnum entries of properties whose entries
// are lost in every other page of the file: bbolt leaves the previous
// versions of the pages a commit changed in place until it reuses them,
// and a property's number never changes once given, so an old copy of
// the table (held inline in an old root page while it is small) names
// the property as well as the lost one did. A wrong name could not pass:
// the records' hashes bind their community, and checkChains drops those
// that do not match.
func (sv *salvager) olderNames() error {
	missing := 0
	for _, p := range sv.props {
		if !p.keyKnown && len(p.recs) > 0 {
			missing++
		}
	}
	if missing == 0 {
		return nil
	}
	take := func(leaf []byte) {
		elems, err := leafElements(leaf)
		if err != nil {
			return
		}
		for _, e := range elems {
			if e.bucket || len(e.k) != 4 || len(e.v) < 2 || !audit.Platform(e.v[0]).Valid() {
				return // not a property table
			}
		}
		for _, e := range elems {
			if p := sv.props[binary.BigEndian.Uint32(e.k)]; p != nil && !p.keyKnown {
				p.key, p.keyKnown = propKey{audit.Platform(e.v[0]), string(e.v[1:])}, true
				sv.rep.OlderNames++
			}
		}
	}
	filePages := uint64(sv.rf.size / int64(sv.rf.pageSize))
	for id := uint64(2); id < filePages; id++ {
		if id&1023 == 0 {
			if err := sv.ctx.Err(); err != nil {
				return err
			}
		}
		p, err := sv.rf.pageBelow(id, filePages, pageLeaf)
		if err != nil {
			continue
		}
		elems, err := leafElements(p)
		if err != nil {
			continue
		}
		for _, e := range elems {
			if !e.bucket || string(e.k) != string(bPropNum) || len(e.v) < 16 {
				continue
			}
			if root := binary.LittleEndian.Uint64(e.v); root == 0 {
				take(e.v[16:])
			} else if leaf, err := sv.rf.pageBelow(root, filePages, pageLeaf); err == nil {
				take(leaf)
			}
		}
	}
	return nil
}

func (sv *salvager) delete(keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	return sv.dst.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bEvents)
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkChains checks each copied record's hash wherever its predecessor's
// hash is known (the previous record copied, a bridge, or the chain's
// start), and drops the records whose hash does not match: a damaged page
// can hold a record that decodes but is not what was written. A record
// after a gap cannot be checked; Verify on the copy names the gap.
func (sv *salvager) checkChains() error {
	bridges := map[[12]byte][]byte{}
	for _, b := range sv.bridges {
		bridges[[12]byte(b.k)] = b.v
	}
	misplaced := sv.misplaced()
	h := newChainHasher()
	var drop [][]byte
	err := sv.dst.db.View(func(tx *bolt.Tx) error {
		evB := tx.Bucket(bEvents)
		var personal []byte
		// On a replica, each origin's records are a chain of their own
		// (origin.go), numbered by their shard: walk each apart.
		origins := map[[16]byte]string{}
		for _, e := range sv.kvs[nsOrigin] {
			if len(e.k) == 16 {
				origins[[16]byte(e.k)] = string(e.v)
			}
		}
		originBridges := map[string][]byte{}
		for _, e := range sv.kvs[nsOriginBridges] {
			originBridges[string(e.k)] = e.v
		}
		renamed := map[string][]byte{}
		for _, e := range sv.kvs[nsRenamed] {
			renamed[string(e.k)] = e.v
		}
		for num, p := range sv.props {
			slices.SortFunc(p.recs, func(a, b salvageRec) int { return cmpU64(a.seq, b.seq) })
			byOrigin := map[string][]salvageRec{}
			for _, sr := range p.recs {
				var k [16]byte
				binary.BigEndian.PutUint32(k[:], num)
				copy(k[4:], sr.id[:])
				byOrigin[origins[k]] = append(byOrigin[origins[k]], sr)
			}
			var kept []salvageRec
			for origin, recs := range byOrigin {
				var lastSeq uint64
				var last [hashLen]byte
				known := true // at the start: the zero hash
				for _, sr := range recs {
					if err := sv.ctx.Err(); err != nil {
						return err
					}
					key := append(u32(num), sr.id[:]...)
					var r record
					if err := decodeRecord(evB.Get(key), &r); err != nil {
						return fmt.Errorf("record %x: %w", key, err) // decoded before it was written
					}
					e := &r.ev
					e.ID, e.Platform, e.PropertyID = sr.id, p.key.platform, p.key.id
					if orig := renamed[string(key)]; len(orig) == len(e.ID) {
						copy(e.ID[:], orig) // its hash covers its shard's id
					}
					var prev []byte
					switch {
					case r.prevSeq == 0:
						prev = make([]byte, hashLen)
					case r.prevSeq == lastSeq && known:
						prev = last[:]
					case origin != "":
						prev = originBridges[string(originBridgeKey(num, origin, r.prevSeq))]
					default:
						var bk [12]byte
						binary.BigEndian.PutUint32(bk[:], num)
						binary.BigEndian.PutUint64(bk[4:], r.prevSeq)
						prev = bridges[bk]
					}
					if n := sv.newer[sr.seq]; n > 1 || (n == 1 && prev == nil) {
						problem := "found after the last readable commit, it cannot be checked"
						if n > 1 {
							problem = "found after the last readable commit, another record claims its number"
						}
						sv.rep.BadRecords = append(sv.rep.BadRecords, BadRecord{Page: sr.page, Key: key, Seq: sr.seq, Problem: problem})
						drop = append(drop, key)
						continue
					}
					if prev == nil {
						// Its predecessor is lost: its hash cannot be
						// checked, but its place in the chains can.
						if misplaced[sr.seq] {
							sv.rep.BadRecords = append(sv.rep.BadRecords, BadRecord{Page: sr.page, Key: key, Seq: sr.seq,
								Problem: "its key names another community than its neighbours in the chain: damaged"})
							drop = append(drop, key)
							continue
						}
					}
					if prev != nil {
						var digest [hashLen]byte
						if e.Redacted {
							digest = r.digest
						} else {
							personal = appendPersonal(personal[:0], e)
							digest = h.personalDigest(r.nonce[:], personal)
						}
						if sum := h.recordHash(prev, &r, &digest); !bytes.Equal(sum[:], e.Hash) {
							sv.rep.BadRecords = append(sv.rep.BadRecords, BadRecord{Page: sr.page, Key: key, Seq: sr.seq,
								Problem: "its hash does not match its contents: damaged"})
							drop = append(drop, key)
							known = false
							continue
						}
					}
					lastSeq, known = sr.seq, true
					copy(last[:], e.Hash)
					kept = append(kept, sr)
				}
			}
			slices.SortStableFunc(kept, func(a, b salvageRec) int { return cmpU64(a.seq, b.seq) })
			p.recs = kept
		}
		return nil
	})
	if err != nil {
		return err
	}
	return sv.delete(drop)
}

// resolveNames picks, for each property number the file gives two
// names (a damaged byte in its props or propnum entry), the one its
// records' hashes were computed with (they cover the community's
// platform and id): the name under which the most records whose
// predecessor's hash is at hand check. The other names are reported as
// damage; the records' own hashes are checked by checkChains.
func (sv *salvager) resolveNames() error {
	bridges := map[[12]byte][]byte{}
	for _, b := range sv.bridges {
		bridges[[12]byte(b.k)] = b.v
	}
	renamed := map[string][]byte{}
	for _, e := range sv.kvs[nsRenamed] {
		renamed[string(e.k)] = e.v
	}
	return sv.dst.db.View(func(tx *bolt.Tx) error {
		evB := tx.Bucket(bEvents)
		h := newChainHasher()
		var personal []byte
		for num, p := range sv.props {
			if len(p.others) == 0 {
				continue
			}
			// The records, and each one's stored hash by sequence number.
			type rec struct {
				r   record
				key []byte
			}
			recs := make([]rec, 0, len(p.recs))
			hashes := map[uint64][]byte{}
			for _, sr := range p.recs {
				key := append(u32(num), sr.id[:]...)
				var r record
				if err := decodeRecord(evB.Get(key), &r); err != nil {
					return fmt.Errorf("record %x: %w", key, err) // decoded before it was written
				}
				r.ev.ID = sr.id
				if orig := renamed[string(key)]; len(orig) == len(r.ev.ID) {
					copy(r.ev.ID[:], orig)
				}
				hashes[sr.seq] = r.ev.Hash
				recs = append(recs, rec{r, key})
			}
			checks := func(name propKey) int {
				n := 0
				for i := range recs {
					r := &recs[i].r
					var prev []byte
					switch {
					case r.prevSeq == 0:
						prev = make([]byte, hashLen)
					case hashes[r.prevSeq] != nil:
						prev = hashes[r.prevSeq]
					default:
						var bk [12]byte
						binary.BigEndian.PutUint32(bk[:], num)
						binary.BigEndian.PutUint64(bk[4:], r.prevSeq)
						if prev = bridges[bk]; prev == nil {
							continue
						}
					}
					e := &r.ev
					e.Platform, e.PropertyID = name.platform, name.id
					var digest [hashLen]byte
					if e.Redacted {
						digest = r.digest
					} else {
						personal = appendPersonal(personal[:0], e)
						digest = h.personalDigest(r.nonce[:], personal)
					}
					if sum := h.recordHash(prev, r, &digest); bytes.Equal(sum[:], e.Hash) {
						n++
					}
				}
				return n
			}
			names := append([]propName{p.keyFrom}, p.others...)
			best, bestN := 0, checks(p.key)
			for i := 1; i < len(names); i++ {
				if n := checks(names[i].key); n > bestN {
					best, bestN = i, n
				}
			}
			p.key = names[best].key
			for i, n := range names {
				if i == best {
					continue
				}
				sv.rep.Damaged = append(sv.rep.Damaged, DamagedPage{Page: n.page, Bucket: n.bucket,
					Problem: fmt.Sprintf("it names community number %d %s:%q; its records' hashes say %s:%q", num, n.key.platform, n.key.id, p.key.platform, p.key.id)})
			}
		}
		return nil
	})
}

// oneNumberPerName settles a name the file gives several numbers: a
// damaged number in a props entry. The copy can name each community by
// one number only (its props entry); left as it was, the copy's entry
// would depend on the order of a map, and could name a number without
// records, leaving the community's records out of every query. The
// number kept is the one with the most records, then the one the propnum
// bucket names; the source's chain state moves to it when it has none,
// and the other entries are reported as damaged (with their records, if
// any, as unattributed).
func (sv *salvager) oneNumberPerName() error {
	byKey := map[propKey][]uint32{}
	for num, p := range sv.props {
		if p.keyKnown {
			byKey[p.key] = append(byKey[p.key], num)
		}
	}
	score := func(num uint32) int {
		p := sv.props[num]
		n := 2 * len(p.recs)
		if p.keyFrom.key == p.key && p.keyFrom.bucket == "propnum" ||
			slices.ContainsFunc(p.others, func(o propName) bool { return o.key == p.key && o.bucket == "propnum" }) {
			n++
		}
		return n
	}
	var drop [][]byte
	for key, nums := range byKey {
		if len(nums) < 2 {
			continue
		}
		slices.Sort(nums)
		best := nums[0]
		for _, n := range nums[1:] {
			if score(n) > score(best) {
				best = n
			}
		}
		kept := sv.props[best]
		for _, n := range nums {
			if n == best {
				continue
			}
			p := sv.prop(n)
			if kept.state == nil && p.state != nil {
				st := *p.state
				st.num = best
				kept.state = &st
			}
			sv.rep.Damaged = append(sv.rep.Damaged, DamagedPage{Page: p.keyFrom.page, Bucket: p.keyFrom.bucket,
				Problem: fmt.Sprintf("it gives %s:%q number %d; the community is number %d", key.platform, key.id, n, best)})
			p.keyKnown, p.state = false, nil
			if len(p.recs) > 0 {
				if sv.rep.Unattributed == nil {
					sv.rep.Unattributed = map[uint32]int{}
				}
				sv.rep.Unattributed[n] += len(p.recs)
				for _, r := range p.recs {
					drop = append(drop, append(u32(n), r.id[:]...))
				}
				p.recs = nil
			}
		}
	}
	return sv.delete(drop)
}

// misplaced finds the records whose key names another community than
// their neighbours in the chains do. Sequence numbers are unique in the
// file, so the community of a record's predecessor (the record or bridge
// holding its prevSeq) and of its successor (the record whose prevSeq is
// its seq) are votes on where it belongs, as is its community's head; a
// record with more votes against its key than for it is misplaced: a
// damaged key moved it. Two rounds: a misplaced record's own votes do not
// count in the second.
func (sv *salvager) misplaced() map[uint64]bool {
	bad := map[uint64]bool{}
	for range 2 {
		owner, linkedBy := map[uint64]uint32{}, map[uint64]uint32{}
		for _, b := range sv.bridges {
			owner[binary.BigEndian.Uint64(b.k[4:])] = binary.BigEndian.Uint32(b.k)
		}
		for num, p := range sv.props {
			for _, r := range p.recs {
				if bad[r.seq] {
					continue
				}
				owner[r.seq] = num
				if r.prevSeq != 0 {
					linkedBy[r.prevSeq] = num
				}
			}
		}
		next := map[uint64]bool{}
		for num, p := range sv.props {
			for _, r := range p.recs {
				against, for_ := 0, 0
				vote := func(n uint32, ok bool) {
					switch {
					case !ok:
					case n == num:
						for_++
					default:
						against++
					}
				}
				if r.prevSeq != 0 {
					n, ok := owner[r.prevSeq]
					vote(n, ok)
				}
				n, ok := linkedBy[r.seq]
				vote(n, ok)
				if p.state != nil && p.state.lastSeq == r.seq {
					for_++
				}
				if against > for_ {
					next[r.seq] = true
				}
			}
		}
		bad = next
	}
	return bad
}

// writeRest writes everything but the records and the indexes.
func (sv *salvager) writeRest() error {
	// On a replica, records of origins other than the default one belong
	// to their origin's chain (origin.go), not to the property's head;
	// each origin's count stays the source's (or what the copy holds of
	// it, when more).
	origins := map[[16]byte]string{}
	for _, e := range sv.kvs[nsOrigin] {
		if len(e.k) == 16 {
			origins[[16]byte(e.k)] = string(e.v)
		}
	}
	originCounts := map[string]uint64{} // chainKey -> records copied
	copied := map[[16]byte]bool{}
	for num, p := range sv.props {
		for _, r := range p.recs {
			var k [16]byte
			binary.BigEndian.PutUint32(k[:], num)
			copy(k[4:], r.id[:])
			copied[k] = true
			if o, ok := origins[k]; ok && p.keyKnown {
				originCounts[string(chainKey(p.key.platform, p.key.id, o))]++
			}
		}
	}
	if chains := sv.kvs[nsChains]; len(chains) > 0 {
		for i, e := range chains {
			cs, err := decodeChain(e.v)
			if err != nil {
				continue // copied as it was; verify reports it
			}
			cs.count = max(cs.count, originCounts[string(e.k)]) // the source's, as a property's (below)
			chains[i].v = cs.encode()
		}
	}
	defaultOrigin := func(num uint32, id audit.ID) bool {
		var k [16]byte
		binary.BigEndian.PutUint32(k[:], num)
		copy(k[4:], id[:])
		_, ok := origins[k]
		return !ok
	}
	return sv.dst.db.Update(func(tx *bolt.Tx) error {
		put := func(b *bolt.Bucket, k, v []byte) error {
			if err := b.Put(k, v); err != nil {
				return fmt.Errorf("bucket %s: %w", k, err)
			}
			return nil
		}
		meta := tx.Bucket(bMeta)
		if v := sv.meta[string(kSchema)]; len(v) == 4 && binary.BigEndian.Uint32(v) != SchemaVersion {
			return fmt.Errorf("the file's schema is version %d, this chatwarden's %d: salvage it with the release that wrote it", binary.BigEndian.Uint32(v), SchemaVersion)
		}
		if v := sv.meta[string(kSecret)]; len(v) > 0 {
			if err := put(meta, kSecret, v); err != nil {
				return err
			}
		}
		seq := sv.maxSeq
		if v := sv.meta[string(kSeq)]; len(v) == 8 {
			seq = max(seq, binary.BigEndian.Uint64(v))
		}
		var maxNum uint32
		propsB, propNum := tx.Bucket(bProps), tx.Bucket(bPropNum)
		for num, p := range sv.props {
			if !p.keyKnown {
				continue
			}
			// The head and the count stay the source's, so that the
			// copy's chain ends (and goes on) where the original's did,
			// and Verify on the copy counts the records lost: a lost
			// record whose successor was purged breaks no link (the
			// successor's bridge does not say what preceded it), and
			// only the count shows it. Records of a commit after the
			// last readable one add to the count.
			ps := &propState{num: num}
			if p.state != nil {
				ps.lastSeq, ps.head = p.state.lastSeq, p.state.head
				seq = max(seq, ps.lastSeq)
			}
			n := len(p.recs)
			for n > 0 && !defaultOrigin(num, p.recs[n-1].id) {
				n--
			}
			if n > 0 && p.recs[n-1].seq > ps.lastSeq {
				last := p.recs[n-1]
				ps.lastSeq = last.seq
				v := tx.Bucket(bEvents).Get(append(u32(num), last.id[:]...))
				var r record
				if err := decodeRecord(v, &r); err != nil {
					return err
				}
				copy(ps.head[:], r.ev.Hash)
			}
			ps.count = uint64(len(p.recs))
			if p.state != nil {
				newer := uint64(0)
				for _, r := range p.recs {
					if sv.newer[r.seq] > 0 {
						newer++
					}
				}
				ps.count = max(ps.count, p.state.count+newer)
			}
			if err := put(propsB, propKeyBytes(p.key.platform, p.key.id), encodeProp(ps)); err != nil {
				return err
			}
			if err := put(propNum, u32(num), propKeyBytes(p.key.platform, p.key.id)); err != nil {
				return err
			}
			maxNum = max(maxNum, num)
		}
		if err := propsB.SetSequence(uint64(maxNum)); err != nil {
			return err
		}
		if err := put(meta, kSeq, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return err
		}
		bridgeB := tx.Bucket(bBridge)
		for _, b := range sv.bridges {
			if p := sv.props[binary.BigEndian.Uint32(b.k)]; p == nil || !p.keyKnown {
				continue
			}
			if err := put(bridgeB, b.k, b.v); err != nil {
				return err
			}
			sv.rep.Bridges++
		}
		outB := tx.Bucket(bOutbox)
		for _, o := range sv.outbox {
			if !copied[[16]byte(o.v)] {
				sv.rep.OutboxDropped++
				continue
			}
			if err := put(outB, o.k, o.v); err != nil {
				return err
			}
			sv.rep.Outbox++
		}
		for _, s := range sv.settings {
			if err := put(tx.Bucket(bSettings), s.k, s.v); err != nil {
				return err
			}
			sv.rep.Settings++
		}
		for _, c := range sv.cursors {
			if err := put(tx.Bucket(bCursors), c.k, c.v); err != nil {
				return err
			}
			sv.rep.Cursors++
		}
		for ns, kvs := range sv.kvs {
			b, err := tx.Bucket(bKV).CreateBucketIfNotExists([]byte(ns))
			if err != nil {
				return fmt.Errorf("kv %s: %w", ns, err)
			}
			for _, e := range kvs {
				if err := put(b, e.k, e.v); err != nil {
					return err
				}
				sv.rep.KV++
			}
		}
		return nil
	})
}

// index rebuilds the indexes and the dictionary from the copied records,
// as Append writes them, in transactions of a few thousand records.
func (sv *salvager) index() error {
	var after []byte
	for {
		if err := sv.ctx.Err(); err != nil {
			return err
		}
		n := 0
		err := sv.dst.db.Update(func(tx *bolt.Tx) error {
			ix := indexer{tx: tx, dict: tx.Bucket(bDict), dictNums: map[string]uint32{}}
			c := tx.Bucket(bEvents).Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && n < 4096; k, v = c.Next() {
				var r record
				if err := decodeRecord(v, &r); err != nil {
					return fmt.Errorf("record %x: %w", k, err) // decoded before it was written
				}
				copy(r.ev.ID[:], k[4:])
				if err := ix.add(binary.BigEndian.Uint32(k), &r.ev); err != nil {
					return err
				}
				after = bytes.Clone(k)
				n++
				sv.rep.Records++
			}
			return ix.flush()
		})
		if err != nil {
			return fmt.Errorf("rebuild the indexes: %w", err)
		}
		if n < 4096 {
			return nil
		}
	}
}

// indexer writes records' index entries, as Append does (append.go):
// queued, then put in key order, which keeps bbolt's node inserts cheap.
type indexer struct {
	tx       *bolt.Tx
	dict     *bolt.Bucket
	dictNums map[string]uint32
	queued   [3][]kv // ixtype, ixuser, ixchan
}

func (ix *indexer) num(kind byte, id string) (uint32, error) {
	k := append([]byte{kind}, id...)
	if n, ok := ix.dictNums[string(k)]; ok {
		return n, nil
	}
	if v := ix.dict.Get(k); len(v) == 4 {
		ix.dictNums[string(k)] = binary.BigEndian.Uint32(v)
		return binary.BigEndian.Uint32(v), nil
	}
	seq, err := ix.dict.NextSequence()
	if err != nil {
		return 0, err
	}
	ix.dictNums[string(k)] = uint32(seq)
	return uint32(seq), ix.dict.Put(k, u32(uint32(seq)))
}

func (ix *indexer) flush() error {
	for i, name := range [3][]byte{bIxType, bIxUser, bIxChan} {
		q := ix.queued[i]
		slices.SortFunc(q, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
		b := fill(ix.tx.Bucket(name))
		for _, e := range q {
			if err := b.Put(e.k, e.v); err != nil {
				return err
			}
		}
		ix.queued[i] = q[:0]
	}
	return nil
}

func (ix *indexer) add(prop uint32, e *audit.Event) error {
	key := func(mid []byte) []byte { return append(append(u32(prop), mid...), e.ID[:]...) }
	typ := byte(e.Type)
	ix.queued[0] = append(ix.queued[0], kv{key([]byte{typ}), empty})
	roles := map[string]byte{}
	var order []string
	for _, t := range e.TargetIDs {
		if t == "" {
			continue
		}
		if _, ok := roles[t]; !ok {
			order = append(order, t)
		}
		roles[t] |= roleTarget
	}
	if e.ActorID != "" {
		if _, ok := roles[e.ActorID]; !ok {
			order = append(order, e.ActorID)
		}
		roles[e.ActorID] |= roleActor
	}
	for _, u := range order {
		n, err := ix.num(dictUser, u)
		if err != nil {
			return err
		}
		ix.queued[1] = append(ix.queued[1], kv{key(u32(n)), []byte{roles[u], typ}})
	}
	if e.ChannelID != "" {
		n, err := ix.num(dictChannel, e.ChannelID)
		if err != nil {
			return err
		}
		ix.queued[2] = append(ix.queued[2], kv{key(u32(n)), []byte{typ}})
	}
	if e.MessageID != "" && (e.Type == audit.ChatMessage || e.Type == audit.ChatMessageEdit) {
		// The entry names the message's newest record in commit order.
		b := ix.tx.Bucket(bIxMsg)
		mk := appendMsgKey(u32(prop), e.MessageID)
		if cur := b.Get(mk); len(cur) == 12 {
			if v := ix.tx.Bucket(bEvents).Get(append(u32(prop), cur...)); v != nil {
				r := reader{b: v}
				r.bytes(5)
				if seq := r.uvarint(); r.err == nil && seq > e.Seq {
					return nil
				}
			}
		}
		if err := b.Put(mk, e.ID[:]); err != nil {
			return err
		}
	}
	return nil
}

// report verifies the copy's chains and fills in each community's line.
func (sv *salvager) report() error {
	// Load the property table the copy now holds.
	if err := sv.dst.db.View(sv.dst.load); err != nil {
		return err
	}
	for _, p := range sv.dst.Properties() {
		v, err := sv.dst.Verify(sv.ctx, p.Platform, p.ID)
		if err != nil {
			return err
		}
		c := SalvagedCommunity{Platform: p.Platform, ID: p.ID, Records: v.Records, Gaps: v.Gaps}
		if ps := sv.dst.property(p.Platform, p.ID); ps != nil {
			if src := sv.props[ps.num]; src != nil && src.state != nil {
				c.Expected = src.state.count
			}
		}
		if !v.OK && (len(v.Gaps) == 0 || v.Problem != v.Gaps[0].String()) {
			c.Problem = v.Problem
		}
		sv.rep.Communities = append(sv.rep.Communities, c)
	}
	return nil
}
