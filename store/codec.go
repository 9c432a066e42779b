package store

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/chatwarden/chatwarden/audit"
)

// Record value layout (version 1):
//
//	version(1) type(1) function(1) actor_type(1) flags(1)
//	uvarint seq, uvarint seq-prev_seq (= seq when first of its chain)
//	uvarint platform-type code (0: string follows)
//	id actor_id, uvarint n, n × id target, id channel, id message
//	hash(32)
//	flags&redacted: digest(32)
//	else: nonce(8), str actor_name, uvarint n, n × (str key, str value),
//	      str content, uvarint n, n × (str name, str url, uvarint size, str hash)
//
// str is uvarint length + bytes; id is a tagged varint for decimal numbers,
// else a tagged str (see appendID). The personal part (names, params, content,
// attachments) enters the chain only through its digest,
// SHA-256(nonce, personal part), so erasing it keeps the chain verifiable;
// the random nonce is erased with it, so the digest left behind cannot be
// used to confirm a guess of what was erased.
const (
	recordVersion = 1
	flagRedacted  = 1
	nonceLen      = 8
	hashLen       = sha256.Size
)

var errCorrupt = errors.New("corrupt record")

// platformTypes interns the common platform type names. Codes are stored on
// disk: append only.
var platformTypes = []string{
	"", // 0: literal follows
	"GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE", "GUILD_MEMBER_UPDATE",
	"GUILD_BAN_ADD", "GUILD_BAN_REMOVE", "MESSAGE_CREATE", "MESSAGE_UPDATE",
	"MESSAGE_DELETE", "MESSAGE_DELETE_BULK", "CHANNEL_CREATE", "CHANNEL_DELETE",
	"THREAD_CREATE", "THREAD_DELETE", "GUILD_UPDATE", "INVITE_CREATE",
	"INVITE_DELETE", "GUILD_AUDIT_LOG_ENTRY_CREATE", "INTERACTION_CREATE",
	"chat_member", "new_chat_members", "left_chat_member", "message",
	"channel_post", "edited_message", "forum_topic_created", "new_chat_title",
	"new_chat_photo", "delete_chat_photo", "callback_query", "my_chat_member",
	"chat_join_request", "migrate_to_chat_id", "edited_channel_post",
}

var platformTypeCode = func() map[string]uint64 {
	m := make(map[string]uint64, len(platformTypes))
	for i, s := range platformTypes[1:] {
		m[s] = uint64(i + 1)
	}
	return m
}()

// record is a decoded stored record plus what the chain needs.
type record struct {
	ev      audit.Event
	prevSeq uint64
	nonce   [nonceLen]byte
	digest  [hashLen]byte // personal digest when redacted
}

// Id tags: platform ids are mostly decimal numbers (snowflakes, Telegram
// user and chat ids), stored as varints, about half the size of the text.
const (
	idText     = 0
	idPositive = 1
	idNegative = 2
)

// appendID writes an id string: a number in its canonical decimal form as
// a tagged varint, anything else as tagged text. It decodes to the same
// string either way.
func appendID(b []byte, s string) []byte {
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	if n, err := strconv.ParseUint(digits, 10, 64); err == nil && digits != "" &&
		(digits == "0" || digits[0] != '0') && !(neg && n == 0) {
		tag := byte(idPositive)
		if neg {
			tag = idNegative
		}
		return binary.AppendUvarint(append(b, tag), n)
	}
	return appendStr(append(b, idText), s)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendPersonal writes the personal part of e.
func appendPersonal(b []byte, e *audit.Event) []byte {
	b = appendStr(b, e.ActorName)
	b = binary.AppendUvarint(b, uint64(len(e.Params)))
	if len(e.Params) > 0 {
		var keys [8]string // most events have a few params: no allocation
		for _, k := range appendSortedKeys(keys[:0], e.Params) {
			b = appendStr(b, k)
			b = appendStr(b, e.Params[k])
		}
	}
	b = appendStr(b, e.Content)
	b = binary.AppendUvarint(b, uint64(len(e.Attachments)))
	for _, a := range e.Attachments {
		b = appendStr(b, a.Name)
		b = appendStr(b, a.URL)
		b = binary.AppendUvarint(b, uint64(max(a.Size, 0)))
		b = appendStr(b, a.Hash)
	}
	return b
}

// appendSortedKeys appends p's keys to keys, sorted.
func appendSortedKeys(keys []string, p audit.Params) []string {
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// encodeRecord appends the stored form of r (whose ev.Hash is set) to b.
// personal is the encoded personal part when not redacted.
func encodeRecord(b []byte, r *record, personal []byte) []byte {
	e := &r.ev
	flags := byte(0)
	if e.Redacted {
		flags |= flagRedacted
	}
	b = append(b, recordVersion, byte(e.Type), byte(e.Function), byte(e.ActorType), flags)
	b = binary.AppendUvarint(b, e.Seq)
	b = binary.AppendUvarint(b, e.Seq-r.prevSeq)
	if code, ok := platformTypeCode[e.PlatformType]; ok {
		b = binary.AppendUvarint(b, code)
	} else {
		b = binary.AppendUvarint(b, 0)
		b = appendStr(b, e.PlatformType)
	}
	b = appendID(b, e.ActorID)
	b = binary.AppendUvarint(b, uint64(len(e.TargetIDs)))
	for _, t := range e.TargetIDs {
		b = appendID(b, t)
	}
	b = appendID(b, e.ChannelID)
	b = appendID(b, e.MessageID)
	b = append(b, e.Hash...)
	if e.Redacted {
		return append(b, r.digest[:]...)
	}
	b = append(b, r.nonce[:]...)
	return append(b, personal...)
}

// reader decodes the stored form without panicking on corrupt input.
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return ""
	}
	return string(r.bytes(int(n)))
}

// count reads a collection length, refusing counts the remaining bytes
// cannot hold (each element takes at least one byte).
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return 0
	}
	return int(n)
}

// decodeRecord decodes a stored record. Identity (ID, Platform, PropertyID,
// Time) comes from the key and is set by the caller.
func decodeRecord(v []byte, out *record) error {
	var d decoder
	err := d.decode(v, &out.ev, out)
	d.finish()
	return err
}

// decoder decodes records for one answer with a handful of allocations
// instead of several per record: the text of every record it decodes goes
// into one buffer that finish turns into a single string, which the
// events' string fields then share (strings are immutable, so sharing is
// safe); events, hashes and target lists are carved from chunks.
type decoder struct {
	buf    []byte   // text of the strings decoded since the last finish
	fix    []strFix // where each of them goes
	events []audit.Event
	hashes []byte
	strs   []string
	rec    []byte // the record being decoded, copied out of bbolt's pages

	// the property of the last record decoded
	propNum uint32
	prop    propKey
	propSet bool
}

// strFix says where a decoded string goes. The text of one answer stays
// far below 2 GiB (MaxLimit records of at most a few hundred KiB), so
// offsets fit in int32s.
type strFix struct {
	dst      *string
	off, end int32
}

// Sizes a decoder expects per record, to allocate once instead of growing.
const (
	decodeChunk   = 64  // events per allocation
	decodeText    = 192 // bytes of text (ids in decimal, name, content)
	decodeStrings = 6   // strings set (ids, name, content)
)

// expect sizes the decoder for n records (at most a chunk's worth: more
// are allocated as they come).
func (d *decoder) expect(n int) {
	n = min(n, decodeChunk)
	if sc, ok := decodeScratch.Get().(*scratch); ok {
		d.buf, d.fix, d.rec = sc.buf[:0], sc.fix[:0], sc.rec[:0]
	}
	if cap(d.buf) < n*decodeText {
		d.buf = make([]byte, 0, n*decodeText)
	}
	if cap(d.fix) < n*decodeStrings {
		d.fix = make([]strFix, 0, n*decodeStrings)
	}
	d.events = make([]audit.Event, 0, n)
}

// release finishes and hands the decoder's buffers, which nothing returned
// refers to (finish copies the text into the string), to the next query.
func (d *decoder) release() {
	d.finish()
	if cap(d.buf) <= 1<<20 {
		decodeScratch.Put(&scratch{d.buf, d.fix, d.rec})
	}
	d.buf, d.fix, d.rec = nil, nil, nil
}

type scratch struct {
	buf []byte
	fix []strFix
	rec []byte
}

var decodeScratch sync.Pool

// mark and undo drop what was decoded after mark, for a record that turns
// out not to be wanted, so that a scan refusing many records does not
// fill chunks with them.
type decodeMark struct {
	buf, fix int
	events   []audit.Event
	hashes   []byte
	strs     []string
}

func (d *decoder) mark() decodeMark {
	return decodeMark{len(d.buf), len(d.fix), d.events, d.hashes, d.strs}
}

// undo drops everything decoded since m, including e (the event it was
// decoding, which must have come from event() after mark). A chunk
// allocated since m is dropped too; the old one is filled up again.
func (d *decoder) undo(m decodeMark, e *audit.Event) {
	*e = audit.Event{}
	clear(d.fix[m.fix:])
	d.buf, d.fix = d.buf[:m.buf], d.fix[:m.fix]
	d.events, d.hashes, d.strs = m.events, m.hashes, m.strs
}

// equal reports whether the string decoded since mark for *field (or the
// one already set there) is want, without making it a string.
func (d *decoder) equal(m decodeMark, field *string, want string) bool {
	for _, f := range d.fix[m.fix:] {
		if f.dst == field {
			return string(d.buf[f.off:f.end]) == want
		}
	}
	return *field == want
}

// finish sets every string decoded since the last finish.
func (d *decoder) finish() {
	if len(d.fix) > 0 {
		s := string(d.buf)
		for _, f := range d.fix {
			*f.dst = s[f.off:f.end]
		}
	}
	clear(d.fix)
	d.buf, d.fix = d.buf[:0], d.fix[:0]
}

// event returns a zeroed Event that stays valid after the decoder is gone.
func (d *decoder) event() *audit.Event {
	if len(d.events) == cap(d.events) {
		d.events = make([]audit.Event, 0, decodeChunk)
	}
	d.events = d.events[:len(d.events)+1]
	return &d.events[len(d.events)-1]
}

func (d *decoder) hash(b []byte) []byte {
	if cap(d.hashes)-len(d.hashes) < len(b) {
		d.hashes = make([]byte, 0, max(decodeChunk*hashLen, len(b)))
	}
	d.hashes = append(d.hashes, b...)
	return d.hashes[len(d.hashes)-len(b) : len(d.hashes) : len(d.hashes)]
}

func (d *decoder) strings(n int) []string {
	if cap(d.strs)-len(d.strs) < n {
		d.strs = make([]string, 0, max(decodeChunk, n))
	}
	d.strs = d.strs[:len(d.strs)+n]
	return d.strs[len(d.strs)-n : len(d.strs) : len(d.strs)]
}

// text queues b as the value of *dst.
func (d *decoder) text(dst *string, b []byte) {
	if len(b) == 0 {
		*dst = ""
		return
	}
	d.buf = append(d.buf, b...)
	d.fix = append(d.fix, strFix{dst, int32(len(d.buf) - len(b)), int32(len(d.buf))})
}

func (d *decoder) str(r *reader, dst *string) {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return
	}
	d.text(dst, r.bytes(int(n)))
}

// id reads an id written by appendID.
func (d *decoder) id(r *reader, dst *string) {
	switch r.byte() {
	case idText:
		d.str(r, dst)
		return
	case idPositive:
		n := r.uvarint()
		off := len(d.buf)
		d.buf = strconv.AppendUint(d.buf, n, 10)
		d.fix = append(d.fix, strFix{dst, int32(off), int32(len(d.buf))})
		return
	case idNegative:
		n := r.uvarint()
		off := len(d.buf)
		d.buf = strconv.AppendUint(append(d.buf, '-'), n, 10)
		d.fix = append(d.fix, strFix{dst, int32(off), int32(len(d.buf))})
		return
	}
	r.err = errCorrupt
}

// decode decodes a stored record into e (whose strings are set by finish)
// and the chain fields of out.
func (d *decoder) decode(v []byte, e *audit.Event, out *record) error {
	r := reader{b: v}
	if r.byte() != recordVersion {
		return fmt.Errorf("%w: unknown version", errCorrupt)
	}
	e.Type = audit.EventType(r.byte())
	e.Function = audit.Function(r.byte())
	e.ActorType = audit.ActorType(r.byte())
	flags := r.byte()
	e.Seq = r.uvarint()
	delta := r.uvarint()
	if delta > e.Seq {
		return fmt.Errorf("%w: bad chain link", errCorrupt)
	}
	out.prevSeq = e.Seq - delta
	if code := r.uvarint(); code == 0 {
		d.str(&r, &e.PlatformType)
	} else if code < uint64(len(platformTypes)) {
		e.PlatformType = platformTypes[code]
	} else {
		return fmt.Errorf("%w: platform type code %d", errCorrupt, code)
	}
	d.id(&r, &e.ActorID)
	if n := r.count(); n > 0 {
		e.TargetIDs = d.strings(n)
		for i := range e.TargetIDs {
			d.id(&r, &e.TargetIDs[i])
		}
	}
	d.id(&r, &e.ChannelID)
	d.id(&r, &e.MessageID)
	if h := r.bytes(hashLen); h != nil {
		e.Hash = d.hash(h)
	}
	e.Redacted = flags&flagRedacted != 0
	if e.Redacted {
		copy(out.digest[:], r.bytes(hashLen))
		return r.err
	}
	copy(out.nonce[:], r.bytes(nonceLen))
	d.str(&r, &e.ActorName)
	if n := r.count(); n > 0 {
		e.Params = make(audit.Params, n)
		for range n {
			k := r.str()
			e.Params[k] = r.str()
		}
	}
	d.str(&r, &e.Content)
	if n := r.count(); n > 0 {
		e.Attachments = make([]audit.Attachment, n)
		for i := range e.Attachments {
			a := &e.Attachments[i]
			d.str(&r, &a.Name)
			d.str(&r, &a.URL)
			a.Size = int64(r.uvarint())
			d.str(&r, &a.Hash)
		}
	}
	if r.err == nil && len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(r.b))
	}
	return r.err
}

// peekType returns the event type of a stored record without decoding it.
func peekType(v []byte) audit.EventType {
	if len(v) < 2 {
		return 0
	}
	return audit.EventType(v[1])
}

// chainHasher computes record hashes; reuse one per goroutine.
type chainHasher struct {
	h   hash.Hash
	buf []byte
	sum [hashLen]byte
}

func newChainHasher() *chainHasher { return &chainHasher{h: sha256.New()} }

// personalDigest returns SHA-256(nonce, personal).
func (c *chainHasher) personalDigest(nonce []byte, personal []byte) [hashLen]byte {
	c.h.Reset()
	c.h.Write(nonce)
	c.h.Write(personal)
	c.h.Sum(c.sum[:0])
	return c.sum
}

// recordHash returns SHA-256(prev, canonical(r)). The canonical form binds
// the record to its property, id and chain position.
func (c *chainHasher) recordHash(prev []byte, r *record, digest *[hashLen]byte) [hashLen]byte {
	e := &r.ev
	b := c.buf[:0]
	b = append(b, "chatwarden/record/v1"...)
	b = append(b, byte(e.Platform))
	b = appendStr(b, e.PropertyID)
	b = append(b, e.ID[:]...)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, r.prevSeq)
	b = append(b, byte(e.Type), byte(e.Function), byte(e.ActorType))
	b = appendStr(b, e.PlatformType)
	b = appendStr(b, e.ActorID)
	b = binary.AppendUvarint(b, uint64(len(e.TargetIDs)))
	for _, t := range e.TargetIDs {
		b = appendStr(b, t)
	}
	b = appendStr(b, e.ChannelID)
	b = appendStr(b, e.MessageID)
	b = append(b, digest[:]...)
	c.buf = b
	c.h.Reset()
	c.h.Write(prev)
	c.h.Write(b)
	// Into the hasher's own array: a local one would escape through the
	// hash.Hash interface, one allocation per record.
	c.h.Sum(c.sum[:0])
	return c.sum
}
