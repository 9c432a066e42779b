package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// ErrDamaged is wrapped by errors about a database file whose pages bbolt
// could not read.
var ErrDamaged = errors.New("the database file is damaged")

// DamagedError is a failure to read a damaged database file: bbolt
// panics on a page it cannot make sense of, and the store's public
// methods turn that panic into this error.
type DamagedError struct {
	Path   string
	Page   int64  // the page bbolt was reading, or -1 when it did not say
	Detail string // bbolt's or the runtime's message
}

func (e *DamagedError) Error() string {
	where := ""
	if e.Page >= 0 {
		where = fmt.Sprintf(" at page %d", e.Page)
	}
	return fmt.Sprintf("database %s is damaged%s (%s): restore a backup", e.Path, where, e.Detail)
}

func (e *DamagedError) Unwrap() error { return ErrDamaged }

var pageInPanic = regexp.MustCompile(`(?i)page (?:expected to be: )?(\d+)`)

// recoverDamaged turns a panic while reading the file at path into a
// *DamagedError in *err. Deferred by every public method that reads pages.
func recoverDamaged(path string, err *error) {
	r := recover()
	if r == nil {
		return
	}
	detail := fmt.Sprint(r)
	e := &DamagedError{Path: path, Page: -1, Detail: detail}
	if m := pageInPanic.FindStringSubmatch(detail); m != nil {
		e.Page, _ = strconv.ParseInt(m[1], 10, 64)
	}

	*err = e
}

// freelistSynced reports whether the newest meta page of the file at path
// points to a freelist (bbolt then reads it at open instead of walking
// every page). It reads the two meta pages only; anything it cannot make
// sense of counts as not synced, so that preflight looks.
func freelistSynced(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // missing or unreadable: the open reports it
	}
	defer f.Close()
	// A page header is 16 bytes; the meta follows: magic, version,
	// pageSize, flags (4 bytes each), root bucket (16), freelist, pgid,
	// txid (8 each).
	const hdr, noFreelist = 16, ^uint64(0)
	var meta [hdr + 64]byte
	read := func(off int64) (freelist, txid uint64, pageSize uint32, ok bool) {
		if _, err := f.ReadAt(meta[:], off); err != nil {
			return 0, 0, 0, false
		}
		m := meta[hdr:]
		if binary.LittleEndian.Uint32(m[0:]) != 0xED0CDAED { // bbolt's magic
			return 0, 0, 0, false
		}
		return binary.LittleEndian.Uint64(m[32:]), binary.LittleEndian.Uint64(m[48:]), binary.LittleEndian.Uint32(m[8:]), true
	}
	fl0, tx0, pageSize, ok0 := read(0)
	if !ok0 || pageSize < 512 || pageSize > 1<<16 {
		return false
	}
	fl1, tx1, _, ok1 := read(int64(pageSize))
	if ok1 && tx1 > tx0 {
		return fl1 != noFreelist
	}
	return fl0 != noFreelist
}

// preflight reads the header of every page reachable from the file's
// newest tree, in this goroutine, and reports a damaged page as a
// *DamagedError. Opening a file for writing makes bbolt walk the same
// pages to rebuild its freelist in a goroutine of its own, where a
// damaged page is a panic nothing can recover: the process would die.
// A file that cannot be opened read-only here (missing, locked) is left
// to the real open to report.
func preflight(path string, opts Options) (err error) {
	db, oerr := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: opts.LockTimeout})
	if oerr != nil {
		return nil
	}
	defer db.Close()
	defer recoverDamaged(path, &err)
	return db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			_ = b.Stats() // visits every page of the bucket and its sub-buckets
			return nil
		})
	})
}
