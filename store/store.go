package store

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
)

var (
	bMeta     = []byte("meta")
	bEvents   = []byte("ev")
	bIxType   = []byte("ixtype")
	bIxUser   = []byte("ixuser")
	bIxChan   = []byte("ixchan")
	bIxMsg    = []byte("ixmsg")
	bProps    = []byte("props")
	bPropNum  = []byte("propnum")
	bDict     = []byte("dict")
	bBridge   = []byte("bridge")
	bOutbox   = []byte("outbox")
	bSettings = []byte("settings")
	bCursors  = []byte("cursors")
	bKV       = []byte("kv")

	allBuckets = [][]byte{bMeta, bEvents, bIxType, bIxUser, bIxChan, bIxMsg,
		bProps, bPropNum, bDict, bBridge, bOutbox, bSettings, bCursors, bKV}

	kSchema   = []byte("schema")
	kSeq      = []byte("seq")
	kPropSeq  = []byte("propseq")
	kSecret   = []byte("secret")
	fillRatio = 0.9
)

// Dictionary kinds.
const (
	dictUser    = 'u'
	dictChannel = 'c'
)

// ErrLocked is returned by Open when another process holds the database.
var ErrLocked = errors.New("database is in use by another process (is chatwarden already running?)")

// ErrNotFound is returned for missing records and keys.
var ErrNotFound = errors.New("not found")

// Options tunes Open. The zero value is the production setting.
type Options struct {
	// LockTimeout bounds the wait for another process's lock (default 1s).
	LockTimeout time.Duration
	// ReadOnly opens the file with a shared lock; writes fail.
	ReadOnly bool
	// NoSync skips fsync: for tests and benchmarks of everything but
	// durability. Never in production.
	NoSync bool

	// noFreelistSync writes the file as releases before the synced
	// freelist did (tests of the upgrade only).
	noFreelistSync bool
}

// Store is an open audit database. It is safe for concurrent use; writes of
// events go through Append (one writer at a time), queries run in parallel
// read transactions.
type Store struct {
	db     *bolt.DB
	path   string
	secret []byte // keys cursor MACs

	appendMu sync.Mutex // serialises Append so the caches below stay exact
	seq      uint64     // last commit sequence; under appendMu
	hasher   *chainHasher
	writer   *appendTx // Append's reused state; under appendMu
	seals    sealBufs  // Seal's buffers, back from committed batches
	counts   counts    // outbox depth and counted KV keys, for gauges

	cacheMu  sync.RWMutex
	propByID map[propKey]*propState
	propByNo map[uint32]propKey
	dict     map[string]uint32 // kind+string -> number
}

type propKey struct {
	platform audit.Platform
	id       string
}

// propState is a property's number and chain head. A state published in
// the cache is never changed: writers publish a new one (copy on write), so
// readers may keep the pointer without a lock.
type propState struct {
	num     uint32
	lastSeq uint64
	head    [hashLen]byte
	count   uint64
}

// migrations[i] upgrades schema i to i+1. Append only.
var migrations = []func(tx *bolt.Tx) error{
	0: func(tx *bolt.Tx) error { return nil }, // empty file -> schema 1: buckets
}

// SchemaVersion is the schema this code writes.
var SchemaVersion = uint32(len(migrations))

// Open opens (creating if needed) the database at path. If another process
// holds it, Open fails within opts.LockTimeout with ErrLocked.
func Open(path string, opts Options) (_ *Store, err error) {
	defer recoverDamaged(path, &err)
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
	}
	// The freelist is written at every commit (NoFreelistSync false) so
	// that opening costs the same whatever the file's size: without it
	// bbolt reads every page of the file to rebuild the freelist at each
	// read-write open (about 0.5 s per million records). A file written
	// without a synced freelist (releases before this one) is scanned once,
	// by bbolt itself, on its first read-write open here, which then
	// commits the freelist; nothing else in the file changes.
	// A file without a synced freelist makes bbolt walk every page in a
	// goroutine of its own at this open; preflight walks them first here,
	// where a damaged page is an error, not a crash.
	if !opts.ReadOnly && !freelistSynced(path) {
		if err := preflight(path, opts); err != nil {
			return nil, err
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        opts.LockTimeout,
		ReadOnly:       opts.ReadOnly,
		NoSync:         opts.NoSync,
		NoFreelistSync: opts.noFreelistSync,
		FreelistType:   bolt.FreelistMapType,
		// Map 1 GiB of address space from the start (no memory is used
		// until pages are read): each time bbolt must grow its mapping
		// during a commit it first copies every key and value of the
		// transaction's dirty nodes out of the old one.
		InitialMmapSize: initialMmapSize(opts.ReadOnly),
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{
		db:       db,
		path:     path,
		hasher:   newChainHasher(),
		propByID: make(map[propKey]*propState),
		propByNo: make(map[uint32]propKey),
		dict:     make(map[string]uint32),
	}
	if !opts.ReadOnly && !s.current() {
		if err := db.Update(s.migrate); err != nil {
			db.Close()
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if err := s.load(tx); err != nil {
			return err
		}
		return s.restoreCounts(tx)
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

func initialMmapSize(readOnly bool) int {
	if readOnly || strconv.IntSize < 64 {
		return 0
	}
	return 1 << 30
}

// current reports whether the file has every bucket, the current schema
// and its secret, so that opening it needs no write transaction (which
// would cost a commit and its fsyncs at every start).
func (s *Store) current() bool {
	ok := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				return nil
			}
		}
		meta := tx.Bucket(bMeta)
		v := meta.Get(kSchema)
		ok = len(v) == 4 && binary.BigEndian.Uint32(v) == SchemaVersion && meta.Get(kSecret) != nil
		return nil
	})
	return ok
}

// migrate creates the buckets and runs pending migrations.
func (s *Store) migrate(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bMeta)
	var have uint32
	if v := meta.Get(kSchema); len(v) == 4 {
		have = binary.BigEndian.Uint32(v)
	}
	if have > SchemaVersion {
		return fmt.Errorf("schema version %d is newer than this chatwarden (%d): upgrade chatwarden", have, SchemaVersion)
	}
	for v := have; v < SchemaVersion; v++ {
		if err := migrations[v](tx); err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
		}
	}
	if err := meta.Put(kSchema, binary.BigEndian.AppendUint32(nil, SchemaVersion)); err != nil {
		return err
	}
	if meta.Get(kSecret) == nil {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return fmt.Errorf("generate secret: %w", err)
		}
		return meta.Put(kSecret, secret)
	}
	return nil
}

// load reads the metadata and property table into memory.
func (s *Store) load(tx *bolt.Tx) error {
	meta := tx.Bucket(bMeta)
	if meta == nil {
		return errors.New("not a chatwarden database (no meta bucket)")
	}
	if v := meta.Get(kSchema); len(v) != 4 || binary.BigEndian.Uint32(v) != SchemaVersion {
		return fmt.Errorf("schema version mismatch: open it once read-write to migrate")
	}
	s.secret = append([]byte(nil), meta.Get(kSecret)...)
	if v := meta.Get(kSeq); len(v) == 8 {
		s.seq = binary.BigEndian.Uint64(v)
	}
	return tx.Bucket(bProps).ForEach(func(k, v []byte) error {
		key, ps, err := decodeProp(k, v)
		if err != nil {
			return err
		}
		s.propByID[key] = ps
		s.propByNo[ps.num] = key
		return nil
	})
}

func propKeyBytes(p audit.Platform, id string) []byte {
	return append([]byte{byte(p)}, id...)
}

func decodeProp(k, v []byte) (propKey, *propState, error) {
	if len(k) < 2 || len(v) < 4+hashLen {
		return propKey{}, nil, fmt.Errorf("%w: property entry", errCorrupt)
	}
	ps := &propState{num: binary.BigEndian.Uint32(v)}
	r := reader{b: v[4:]}
	ps.lastSeq = r.uvarint()
	copy(ps.head[:], r.bytes(hashLen))
	ps.count = r.uvarint()
	if r.err != nil {
		return propKey{}, nil, fmt.Errorf("property entry: %w", r.err)
	}
	return propKey{audit.Platform(k[0]), string(k[1:])}, ps, nil
}

func encodeProp(ps *propState) []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 48), ps.num)
	b = binary.AppendUvarint(b, ps.lastSeq)
	b = append(b, ps.head[:]...)
	return binary.AppendUvarint(b, ps.count)
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// Property is a property the store has records of.
type Property struct {
	Platform audit.Platform
	ID       string
	Count    uint64 // records currently stored
}

// Properties lists every property with records, in number order.
func (s *Store) Properties() []Property {
	s.cacheMu.RLock()
	defer s.cacheMu.RUnlock()
	out := make([]Property, 0, len(s.propByNo))
	for num := uint32(1); int(num) <= len(s.propByNo); num++ {
		if k, ok := s.propByNo[num]; ok {
			out = append(out, Property{k.platform, k.id, s.propByID[k].count})
		}
	}
	return out
}

// property returns the cached state of a property, or nil.
func (s *Store) property(p audit.Platform, id string) *propState {
	s.cacheMu.RLock()
	defer s.cacheMu.RUnlock()
	return s.propByID[propKey{p, id}]
}

// propertyByNum returns the identity of property number num.
func (s *Store) propertyByNum(num uint32) (propKey, bool) {
	s.cacheMu.RLock()
	defer s.cacheMu.RUnlock()
	k, ok := s.propByNo[num]
	return k, ok
}

// propertyIn is propertyByNum for a reader of tx: a property created by
// a commit that tx sees, whose cache entry Append has not published yet
// (it does once the commit has returned), is read from the file.
func (s *Store) propertyIn(tx *bolt.Tx, num uint32) (propKey, bool) {
	if k, ok := s.propertyByNum(num); ok {
		return k, true
	}
	v := tx.Bucket(bPropNum).Get(u32(num))
	if len(v) < 2 {
		return propKey{}, false
	}
	return propKey{platform: audit.Platform(v[0]), id: string(v[1:])}, true
}

// dictLookup returns the number of a user or channel id within tx, or 0.
func dictLookup(tx *bolt.Tx, kind byte, id string) uint32 {
	if id == "" {
		return 0
	}
	k := make([]byte, 0, 1+len(id))
	k = append(append(k, kind), id...)
	if v := tx.Bucket(bDict).Get(k); len(v) == 4 {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func u32(n uint32) []byte { return binary.BigEndian.AppendUint32(make([]byte, 0, 4), n) }
