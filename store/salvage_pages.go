package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"strings"
)

// Reading a damaged bbolt file without bbolt. bbolt trusts its pages: a
// damaged one makes it panic, or read past the page through its memory
// map. Salvage reads the file with ReadAt instead, one page at a time
// into its own buffers, and checks every header, offset and length before
// it uses them, so that a damaged page is one more entry in the report.
//
// The format (go.etcd.io/bbolt, file format version 2), little endian:
//
//	page header (16): id u64, flags u16, count u16, overflow u32
//	meta (pages 0 and 1, after the header): magic u32, version u32,
//	  page size u32, flags u32, root bucket (root page u64, sequence u64),
//	  freelist page u64, high water mark u64, txid u64, checksum u64
//	  (FNV-64a of the fields before it)
//	branch element (16): key offset u32 (from the element), key size u32, child page u64
//	leaf element (16): flags u32 (1: a bucket), key offset u32, key size u32, value size u32
//	bucket value: root page u64, sequence u64, and when root is 0 the
//	  bucket's one leaf page, inline
//	freelist: count page ids (u64); a count of 0xFFFF means the real
//	  count is the first u64
//
// A page with overflow n spans n+1 pages.
const (
	pageHeaderSize  = 16
	pageElementSize = 16
	pageBranch      = 0x01
	pageLeaf        = 0x02
	pageMeta        = 0x04
	pageFreelist    = 0x10
	leafBucket      = 0x01
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	noFreelistPage  = ^uint64(0)
	maxTreeDepth    = 64 // far deeper than any real tree: a loop
	// maxPageSpan bounds what one page with its overflow may span, so that
	// a damaged overflow count cannot make Salvage read a whole large file
	// into memory: records are at most a few hundred KiB, and the
	// freelist of a file of 8 million free pages fits.
	maxPageSpan = 64 << 20
)

// DamagedPage is a page Salvage could not read, and what was in it.
type DamagedPage struct {
	Page uint64
	// Bucket is the bucket it belongs to ("" for the root, "kv/ns"
	// nested), or what else it is: "(meta)", "(freelist)", "(end)" (the
	// file is shorter than its meta page says).
	Bucket  string
	Problem string
}

// What a damaged page is when it is not a bucket's.
const (
	pageIsMeta     = "(meta)"
	pageIsFreelist = "(freelist)"
	pageIsEnd      = "(end)"
)

func (d DamagedPage) String() string {
	in := "bucket " + d.Bucket
	switch d.Bucket {
	case "":
		in = "the root bucket"
	case pageIsMeta:
		in = "a meta page"
	case pageIsFreelist:
		in = "the freelist"
	case pageIsEnd:
		in = "the end of the file"
	}
	return fmt.Sprintf("page %d (%s): %s", d.Page, in, d.Problem)
}

// rawFile is a bbolt file read page by page.
type rawFile struct {
	f        io.ReaderAt
	path     string
	size     int64
	pageSize int
	meta     rawMeta
	// newerLost: a meta page is damaged and may have been the newer;
	// the file is read as of the commit before.
	newerLost bool
}

type rawMeta struct {
	page                         int // 0 or 1
	pageSize                     uint32
	root, rootSeq, freelist, hwm uint64
	txid                         uint64
}

// errNoMeta: neither meta page holds a valid meta.
var errNoMeta = errors.New("neither meta page (0, 1) is readable")

// openRaw reads the meta pages of the file and picks the newest valid
// one. problems lists a meta page it had to pass over.
func openRaw(f *os.File, path string) (_ *rawFile, problems []DamagedPage, _ error) {
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	rf := &rawFile{f: f, path: path, size: st.Size()}
	// Page 0 says the page size; if it is damaged, page 1 sits at one of
	// the sizes bbolt uses (a power of two from 512 to 64 KiB) and says
	// it too.
	m0, err0 := rf.readMeta(0, 0)
	var m1 rawMeta
	err1 := errNoMeta
	if err0 == nil {
		m1, err1 = rf.readMeta(1, int64(m0.pageSize))
	} else {
		for ps := int64(512); ps <= 1<<16 && err1 != nil; ps *= 2 {
			if m, err := rf.readMeta(1, ps); err == nil && int64(m.pageSize) == ps {
				m1, err1 = m, nil
			}
		}
	}
	switch {
	case err0 != nil && err1 != nil:
		return nil, nil, fmt.Errorf("%w: page 0: %v; page 1: %v", errNoMeta, err0, err1)
	case err0 != nil:
		rf.meta = m1
		problems = append(problems, DamagedPage{Page: 0, Bucket: pageIsMeta, Problem: err0.Error()})
	case err1 != nil:
		rf.meta = m0
		problems = append(problems, DamagedPage{Page: 1, Bucket: pageIsMeta, Problem: err1.Error()})
	case m1.txid > m0.txid:
		rf.meta = m1
	default:
		rf.meta = m0
	}
	rf.pageSize = int(rf.meta.pageSize)
	if len(problems) > 0 {
		// Whether the damaged meta was the newer one: its txid, if that
		// field is intact, is one more than the one used (less: older).
		var b [8]byte
		damaged := 1 - rf.meta.page
		if _, err := rf.f.ReadAt(b[:], int64(damaged*rf.pageSize)+pageHeaderSize+48); err != nil ||
			binary.LittleEndian.Uint64(b[:]) != rf.meta.txid-1 {
			rf.newerLost = true
		}
	}
	if pages := uint64(rf.size / int64(rf.pageSize)); rf.meta.hwm > pages {
		problems = append(problems, DamagedPage{Page: pages, Bucket: pageIsEnd, Problem: fmt.Sprintf("the file ends after %d pages, its meta page says %d", pages, rf.meta.hwm)})
		rf.meta.hwm = pages
	}
	return rf, problems, nil
}

// readMeta reads and checks the meta page n at off.
func (rf *rawFile) readMeta(n int, off int64) (rawMeta, error) {
	var b [pageHeaderSize + 64]byte
	if _, err := rf.f.ReadAt(b[:], off); err != nil {
		return rawMeta{}, fmt.Errorf("cannot read it: %w", err)
	}
	le := binary.LittleEndian
	m := b[pageHeaderSize:]
	switch {
	case le.Uint16(b[8:]) != pageMeta:
		return rawMeta{}, fmt.Errorf("not a meta page (flags %#x)", le.Uint16(b[8:]))
	case le.Uint32(m[0:]) != boltMagic:
		return rawMeta{}, errors.New("no bbolt magic number")
	case le.Uint32(m[4:]) != boltVersion:
		return rawMeta{}, fmt.Errorf("file format version %d, not %d", le.Uint32(m[4:]), boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:]) {
		return rawMeta{}, errors.New("its checksum does not match")
	}
	rm := rawMeta{page: n, pageSize: le.Uint32(m[8:]), root: le.Uint64(m[16:]), rootSeq: le.Uint64(m[24:]),
		freelist: le.Uint64(m[32:]), hwm: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}
	switch {
	case rm.pageSize < 512 || rm.pageSize > 1<<16 || rm.pageSize&(rm.pageSize-1) != 0:
		return rawMeta{}, fmt.Errorf("page size %d", rm.pageSize)
	case rm.root < 2 || rm.root >= rm.hwm:
		return rawMeta{}, fmt.Errorf("root page %d outside the %d pages in use", rm.root, rm.hwm)
	case rm.freelist != noFreelistPage && (rm.freelist < 2 || rm.freelist >= rm.hwm):
		return rawMeta{}, fmt.Errorf("freelist page %d outside the %d pages in use", rm.freelist, rm.hwm)
	}
	return rm, nil
}

// page reads page id with its overflow pages and checks that its header
// names it and has one of the wanted flags, and that its count of
// elements fits.
func (rf *rawFile) page(id uint64, flags ...uint16) ([]byte, error) {
	return rf.pageBelow(id, rf.meta.hwm, flags...)
}

// pageBelow is page for a page anywhere below limit (the pages in use, or
// the whole file).
func (rf *rawFile) pageBelow(id, limit uint64, flags ...uint16) ([]byte, error) {
	if id < 2 || id >= limit {
		return nil, fmt.Errorf("page %d is outside the %d pages in use", id, limit)
	}
	ps := int64(rf.pageSize)
	var hdr [pageHeaderSize]byte
	if _, err := rf.f.ReadAt(hdr[:], int64(id)*ps); err != nil {
		return nil, fmt.Errorf("cannot read it: %w", err)
	}
	le := binary.LittleEndian
	if got := le.Uint64(hdr[0:]); got != id {
		return nil, fmt.Errorf("its header names page %d", got)
	}
	f := le.Uint16(hdr[8:])
	if !containsFlag(flags, f) {
		return nil, fmt.Errorf("unexpected page type (flags %#x)", f)
	}
	overflow := uint64(le.Uint32(hdr[12:]))
	if overflow >= limit-id {
		return nil, fmt.Errorf("its %d overflow pages run past the %d pages in use", overflow, limit)
	}
	if (1+overflow)*uint64(ps) > maxPageSpan {
		return nil, fmt.Errorf("its %d overflow pages are more than any value chatwarden writes", overflow)
	}
	buf := make([]byte, int64(1+overflow)*ps)
	if _, err := rf.f.ReadAt(buf, int64(id)*ps); err != nil {
		return nil, fmt.Errorf("cannot read it: %w", err)
	}
	if f == pageBranch || f == pageLeaf {
		if n := int(le.Uint16(hdr[10:])); pageHeaderSize+n*pageElementSize > len(buf) {
			return nil, fmt.Errorf("its %d elements do not fit in it", n)
		}
	}
	return buf, nil
}

func containsFlag(flags []uint16, f uint16) bool {
	for _, w := range flags {
		if w == f {
			return true
		}
	}
	return false
}

func pageFlags(p []byte) uint16    { return binary.LittleEndian.Uint16(p[8:]) }
func pageCount(p []byte) int       { return int(binary.LittleEndian.Uint16(p[10:])) }
func pageOverflow(p []byte) uint64 { return uint64(binary.LittleEndian.Uint32(p[12:])) }

// leafElem is one element of a leaf page.
type leafElem struct {
	bucket bool
	k, v   []byte
}

// leafElements returns the elements of the leaf page p (a whole page or
// an inline bucket's), checking that each lies inside p and that the keys
// are in strictly increasing order, as bbolt keeps them.
func leafElements(p []byte) ([]leafElem, error) {
	if len(p) < pageHeaderSize {
		return nil, errors.New("shorter than a page header")
	}
	if f := pageFlags(p); f != pageLeaf {
		return nil, fmt.Errorf("not a leaf page (flags %#x)", f)
	}
	n := pageCount(p)
	if pageHeaderSize+n*pageElementSize > len(p) {
		return nil, fmt.Errorf("its %d elements do not fit in it", n)
	}
	le := binary.LittleEndian
	out := make([]leafElem, 0, n)
	for i := range n {
		at := pageHeaderSize + i*pageElementSize
		e := p[at : at+pageElementSize]
		flags, pos, ks, vs := le.Uint32(e[0:]), uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
		start := uint64(at) + pos
		if flags&^leafBucket != 0 || ks == 0 || start+ks+vs > uint64(len(p)) {
			return nil, fmt.Errorf("element %d is malformed or lies outside the page", i)
		}
		el := leafElem{bucket: flags&leafBucket != 0, k: p[start : start+ks : start+ks], v: p[start+ks : start+ks+vs : start+ks+vs]}
		if i > 0 && bytes.Compare(out[i-1].k, el.k) >= 0 {
			return nil, fmt.Errorf("element %d is out of key order", i)
		}
		out = append(out, el)
	}
	return out, nil
}

// branchElements returns the children of the branch page p, checked as
// leafElements checks a leaf's elements.
func (rf *rawFile) branchElements(p []byte) ([]uint64, error) {
	n := pageCount(p)
	if n == 0 {
		return nil, errors.New("a branch page without children")
	}
	le := binary.LittleEndian
	out := make([]uint64, 0, n)
	var prev []byte
	for i := range n {
		at := pageHeaderSize + i*pageElementSize
		e := p[at : at+pageElementSize]
		pos, ks, child := uint64(le.Uint32(e[0:])), uint64(le.Uint32(e[4:])), le.Uint64(e[8:])
		start := uint64(at) + pos
		if ks == 0 || start+ks > uint64(len(p)) {
			return nil, fmt.Errorf("element %d lies outside the page", i)
		}
		k := p[start : start+ks]
		if i > 0 && bytes.Compare(prev, k) >= 0 {
			return nil, fmt.Errorf("element %d is out of key order", i)
		}
		if child < 2 || child >= rf.meta.hwm {
			return nil, fmt.Errorf("element %d points to page %d, outside the %d pages in use", i, child, rf.meta.hwm)
		}
		prev = k
		out = append(out, child)
	}
	return out, nil
}

// freelist reads the free page ids the meta names. ok is false when the
// file has no freelist or it cannot be read.
func (rf *rawFile) freelist() (ids map[uint64]bool, pages []uint64, problem *DamagedPage) {
	id := rf.meta.freelist
	if id == noFreelistPage {
		return nil, nil, nil
	}
	p, err := rf.page(id, pageFreelist)
	if err != nil {
		return nil, nil, &DamagedPage{Page: id, Bucket: pageIsFreelist, Problem: err.Error()}
	}
	le := binary.LittleEndian
	start, n := pageHeaderSize, uint64(pageCount(p))
	if n == 0xFFFF {
		if len(p) < pageHeaderSize+8 {
			return nil, nil, &DamagedPage{Page: id, Bucket: pageIsFreelist, Problem: "truncated"}
		}
		n, start = le.Uint64(p[pageHeaderSize:]), pageHeaderSize+8
	}
	if n > uint64(len(p)-start)/8 {
		return nil, nil, &DamagedPage{Page: id, Bucket: pageIsFreelist, Problem: fmt.Sprintf("%d ids do not fit in it", n)}
	}
	ids = make(map[uint64]bool, n)
	for i := range n {
		f := le.Uint64(p[start+int(i)*8:])
		if f < 2 || f >= rf.meta.hwm {
			return nil, nil, &DamagedPage{Page: id, Bucket: pageIsFreelist, Problem: fmt.Sprintf("it lists page %d, outside the %d pages in use", f, rf.meta.hwm)}
		}
		ids[f] = true
	}
	for i := range 1 + pageOverflow(p) {
		pages = append(pages, id+i)
	}
	return ids, pages, nil
}

// treeWalker visits every leaf element of every bucket reachable from
// the meta's root, reading each page once and skipping (and reporting)
// any page it cannot read with everything below it.
type treeWalker struct {
	ctx     context.Context
	rf      *rawFile
	seen    map[uint64]bool // pages reached, with their overflow pages
	damaged []DamagedPage
	stack   []uint64 // the pages from the root to the one being read
	// visit is called for each element that is not a bucket: path is
	// the bucket names from the root, page the leaf page (0: inline).
	visit func(path []string, k, v []byte, page uint64) error
}

func (w *treeWalker) walk() error {
	return w.tree(nil, w.rf.meta.root, 0)
}

func (w *treeWalker) damage(path []string, page uint64, problem string) {
	w.damaged = append(w.damaged, DamagedPage{Page: page, Bucket: strings.Join(path, "/"), Problem: problem})
}

func (w *treeWalker) tree(path []string, id uint64, depth int) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if depth > maxTreeDepth {
		w.damage(path, id, "the tree is deeper than any bbolt tree: a loop")
		return nil
	}
	if w.seen[id] {
		w.damage(path, id, "reached twice: a loop or a shared page")
		return nil
	}
	p, err := w.rf.page(id, pageBranch, pageLeaf)
	if err != nil {
		w.damage(path, id, err.Error())
		return nil
	}
	for i := range 1 + pageOverflow(p) {
		w.seen[id+i] = true
	}
	w.stack = append(w.stack, id)
	defer func() { w.stack = w.stack[:len(w.stack)-1] }()
	if pageFlags(p) == pageBranch {
		children, err := w.rf.branchElements(p)
		if err != nil {
			w.damage(path, id, err.Error())
			return nil
		}
		for _, c := range children {
			if err := w.tree(path, c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return w.leaf(path, p, id, depth)
}

func (w *treeWalker) leaf(path []string, p []byte, id uint64, depth int) error {
	elems, err := leafElements(p)
	if err != nil {
		w.damage(path, id, err.Error())
		return nil
	}
	for _, e := range elems {
		if !e.bucket {
			if err := w.visit(path, e.k, e.v, id); err != nil {
				return err
			}
			continue
		}
		sub := append(path[:len(path):len(path)], string(e.k))
		if len(e.v) < 16 {
			w.damage(sub, id, "its bucket header is cut short")
			continue
		}
		root := binary.LittleEndian.Uint64(e.v)
		if root != 0 {
			if err := w.tree(sub, root, depth+1); err != nil {
				return err
			}
			continue
		}
		if depth > maxTreeDepth {
			w.damage(sub, id, "buckets nested deeper than any real file: a loop")
			continue
		}
		if err := w.leaf(sub, e.v[16:], id, depth+1); err != nil { // inline
			return err
		}
	}
	return nil
}
