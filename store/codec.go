package store

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strconv"
	"strings"

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

func (r *reader) id() string {
	switch r.byte() {
	case idText:
		return r.str()
	case idPositive:
		return strconv.FormatUint(r.uvarint(), 10)
	case idNegative:
		return "-" + strconv.FormatUint(r.uvarint(), 10)
	}
	r.err = errCorrupt
	return ""
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
		for _, k := range sortedKeys(e.Params) {
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

func sortedKeys(p audit.Params) []string {
	if len(p) == 1 {
		for k := range p {
			return []string{k}
		}
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
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
	r := reader{b: v}
	if r.byte() != recordVersion {
		return fmt.Errorf("%w: unknown version", errCorrupt)
	}
	e := &out.ev
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
		e.PlatformType = r.str()
	} else if code < uint64(len(platformTypes)) {
		e.PlatformType = platformTypes[code]
	} else {
		return fmt.Errorf("%w: platform type code %d", errCorrupt, code)
	}
	e.ActorID = r.id()
	if n := r.count(); n > 0 {
		e.TargetIDs = make([]string, n)
		for i := range e.TargetIDs {
			e.TargetIDs[i] = r.id()
		}
	}
	e.ChannelID = r.id()
	e.MessageID = r.id()
	e.Hash = append([]byte(nil), r.bytes(hashLen)...)
	e.Redacted = flags&flagRedacted != 0
	if e.Redacted {
		copy(out.digest[:], r.bytes(hashLen))
		return r.err
	}
	copy(out.nonce[:], r.bytes(nonceLen))
	e.ActorName = r.str()
	if n := r.count(); n > 0 {
		e.Params = make(audit.Params, n)
		for range n {
			k := r.str()
			e.Params[k] = r.str()
		}
	}
	e.Content = r.str()
	if n := r.count(); n > 0 {
		e.Attachments = make([]audit.Attachment, n)
		for i := range e.Attachments {
			a := &e.Attachments[i]
			a.Name = r.str()
			a.URL = r.str()
			a.Size = int64(r.uvarint())
			a.Hash = r.str()
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
