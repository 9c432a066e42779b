package store

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
)

// Query limits.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// ErrBadQuery is wrapped by errors about a query's parameters; ErrBadCursor
// by errors about its cursor (malformed, tampered, or from another query).
var (
	ErrBadQuery  = errors.New("bad query")
	ErrBadCursor = errors.New("bad cursor")
)

// Query selects records of one property (or, for the operator, of every
// property when Property is empty), newest first. Every filter that is set
// must match: Types any of the listed types, Actor the actor, Target one of
// the targets, User the actor or one of the targets.
type Query struct {
	Platform audit.Platform // required with Property; with neither, every platform
	Property string

	Types   []audit.EventType
	Actor   string
	Target  string
	User    string
	Channel string
	Since   time.Time // inclusive
	Until   time.Time // exclusive

	Limit  int    // 1..MaxLimit, 0 means DefaultLimit
	Cursor string // from Page.Older or Page.Newer
}

// Page is one page of results, newest first. Its events' text fields
// share one string per page: keeping one event keeps the page's text.
type Page struct {
	Events []*audit.Event
	Older  string // cursor of the next older page, "" when none
	Newer  string // cursor of the newer page, "" on the first page
}

// Validate checks the parameters and returns the effective limit.
func (q *Query) Validate() (int, error) {
	if q.Property != "" && !q.Platform.Valid() {
		return 0, fmt.Errorf("%w: property %q needs a platform", ErrBadQuery, q.Property)
	}
	if q.Platform != 0 && !q.Platform.Valid() {
		return 0, fmt.Errorf("%w: platform %d", ErrBadQuery, q.Platform)
	}
	for _, t := range q.Types {
		if !t.Valid() {
			return 0, fmt.Errorf("%w: event type %d", ErrBadQuery, t)
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return 0, fmt.Errorf("%w: since %s is not before until %s", ErrBadQuery,
			q.Since.Format(time.RFC3339), q.Until.Format(time.RFC3339))
	}
	switch {
	case q.Limit == 0:
		return DefaultLimit, nil
	case q.Limit < 0 || q.Limit > MaxLimit:
		return 0, fmt.Errorf("%w: limit %d is not within 1..%d", ErrBadQuery, q.Limit, MaxLimit)
	}
	return q.Limit, nil
}

// match is the exact predicate; indexes only narrow the candidates.
func (q *Query) match(e *audit.Event) bool {
	return q.matchWith(e, func(field *string, want string) bool { return *field == want })
}

// matchWith is match with the string fields compared by eq, for events
// whose strings a decoder has not set yet.
func (q *Query) matchWith(e *audit.Event, eq func(field *string, want string) bool) bool {
	if len(q.Types) > 0 && !slices.Contains(q.Types, e.Type) {
		return false
	}
	anyTarget := func(want string) bool {
		for i := range e.TargetIDs {
			if eq(&e.TargetIDs[i], want) {
				return true
			}
		}
		return false
	}
	if q.Actor != "" && !eq(&e.ActorID, q.Actor) {
		return false
	}
	if q.Target != "" && !anyTarget(q.Target) {
		return false
	}
	if q.User != "" && !eq(&e.ActorID, q.User) && !anyTarget(q.User) {
		return false
	}
	if q.Channel != "" && !eq(&e.ChannelID, q.Channel) {
		return false
	}
	if !q.Since.IsZero() && e.Time.Before(q.Since) {
		return false
	}
	if !q.Until.IsZero() && !e.Time.Before(q.Until) {
		return false
	}
	return true
}

// fingerprint binds a cursor to the query it came from.
func (q *Query) fingerprint() []byte {
	h := sha256.New()
	var b []byte
	b = append(b, byte(q.Platform))
	b = appendStr(b, q.Property)
	types := slices.Clone(q.Types)
	slices.Sort(types)
	types = slices.Compact(types)
	b = binary.AppendUvarint(b, uint64(len(types)))
	for _, t := range types {
		b = append(b, byte(t))
	}
	for _, s := range []string{q.Actor, q.Target, q.User, q.Channel} {
		b = appendStr(b, s)
	}
	for _, t := range []time.Time{q.Since, q.Until} {
		var ns int64
		if !t.IsZero() {
			ns = t.UnixNano()
		}
		b = binary.BigEndian.AppendUint64(b, uint64(ns))
	}
	h.Write(b)
	return h.Sum(nil)[:8]
}

const (
	dirOlder = 'o' // records before the id
	dirNewer = 'n' // records after the id
)

type cursorPos struct {
	dir byte
	id  audit.ID
}

func (s *Store) encodeCursor(q *Query, pos cursorPos) string {
	b := make([]byte, 0, 30)
	b = append(b, 1, pos.dir)
	b = append(b, pos.id[:]...)
	b = append(b, q.fingerprint()...)
	m := hmac.New(sha256.New, s.secret)
	m.Write(b)
	b = m.Sum(b)[:30]
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Store) decodeCursor(q *Query) (cursorPos, error) {
	var pos cursorPos
	b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil || len(b) != 30 || b[0] != 1 || (b[1] != dirOlder && b[1] != dirNewer) {
		return pos, fmt.Errorf("%w: malformed", ErrBadCursor)
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write(b[:22])
	if !hmac.Equal(m.Sum(nil)[:8], b[22:]) {
		return pos, fmt.Errorf("%w: not issued by this database", ErrBadCursor)
	}
	if !bytes.Equal(b[14:22], q.fingerprint()) {
		return pos, fmt.Errorf("%w: it belongs to a query with other filters", ErrBadCursor)
	}
	pos.dir = b[1]
	copy(pos.id[:], b[2:14])
	return pos, nil
}

// Query returns one page of matching records, newest first.
func (s *Store) Query(ctx context.Context, q Query) (_ Page, err error) {
	defer recoverDamaged(s.path, &err)
	limit, err := q.Validate()
	if err != nil {
		return Page{}, err
	}
	var pos cursorPos
	if q.Cursor != "" {
		if pos, err = s.decodeCursor(&q); err != nil {
			return Page{}, err
		}
	} else {
		pos.dir = dirOlder
	}
	desc := pos.dir == dirOlder
	var found []*audit.Event
	err = s.db.View(func(tx *bolt.Tx) error {
		var err error
		found, err = s.scan(ctx, tx, &q, pos, limit+1)
		return err
	})
	if err != nil {
		return Page{}, fmt.Errorf("query %s: %w", s.path, err)
	}
	more := len(found) > limit
	if more {
		found = found[:limit]
	}
	var page Page
	if desc {
		page.Events = found
		if more {
			page.Older = s.encodeCursor(&q, cursorPos{dirOlder, found[len(found)-1].ID})
		}
		if q.Cursor != "" && len(found) > 0 {
			page.Newer = s.encodeCursor(&q, cursorPos{dirNewer, found[0].ID})
		} else if q.Cursor != "" {
			page.Newer = s.encodeCursor(&q, cursorPos{dirNewer, decrID(pos.id)})
		}
		return page, nil
	}
	slices.Reverse(found)
	page.Events = found
	if more {
		page.Newer = s.encodeCursor(&q, cursorPos{dirNewer, found[0].ID})
	}
	if len(found) > 0 {
		page.Older = s.encodeCursor(&q, cursorPos{dirOlder, found[len(found)-1].ID})
	} else {
		page.Older = s.encodeCursor(&q, cursorPos{dirOlder, incrID(pos.id)})
	}
	return page, nil
}

// Scan calls fn for every matching record, newest first, a thousand at a
// time in separate read transactions so that memory stays bounded and
// writers are not held up. q.Limit and q.Cursor are ignored.
func (s *Store) Scan(ctx context.Context, q Query, fn func(*audit.Event) error) error {
	q.Limit, q.Cursor = MaxLimit, ""
	for {
		page, err := s.Query(ctx, q)
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			if err := fn(e); err != nil {
				return err
			}
		}
		if page.Older == "" {
			return nil
		}
		q.Cursor = page.Older
	}
}

func incrID(id audit.ID) audit.ID {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	return id
}

func decrID(id audit.ID) audit.ID {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]--
		if id[i] != 0xff {
			break
		}
	}
	return id
}

// scan collects up to n matches in the cursor's direction.
func (s *Store) scan(ctx context.Context, tx *bolt.Tx, q *Query, pos cursorPos, n int) ([]*audit.Event, error) {
	desc := pos.dir == dirOlder
	lo, hi := audit.ID{}, audit.ID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if !q.Since.IsZero() {
		lo = audit.MakeID(q.Since, 0)
		binary.BigEndian.PutUint32(lo[8:], 0)
	}
	if !q.Until.IsZero() {
		hi = audit.MakeID(q.Until, 0) // exclusive
	}
	if q.Cursor != "" {
		if desc && bytes.Compare(pos.id[:], hi[:]) < 0 {
			hi = pos.id
		}
		if !desc {
			if next := incrID(pos.id); bytes.Compare(next[:], lo[:]) > 0 {
				lo = next
			}
		}
	}
	m, err := s.plan(tx, q, lo, hi, desc)
	if err != nil || m == nil {
		return nil, err
	}
	// One cursor fetches every record (a Get makes a new cursor each
	// time), and one decoder decodes them all (see decoder).
	evC := tx.Bucket(bEvents).Cursor()
	var d decoder
	d.expect(n)
	defer d.release()
	out := make([]*audit.Event, 0, min(n, decodeChunk))
	var key [16]byte
	for checked := 0; m.Len() > 0 && len(out) < n; checked++ {
		if checked&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		sp := m.top()
		k, v := sp.k, sp.v
		prop := binary.BigEndian.Uint32(k)
		if sp.hint(q, v) {
			rec := v
			if sp.kind != kindEvents {
				copy(key[:], k[:4])
				copy(key[4:], k[len(k)-12:])
				if fk, fv := evC.Seek(key[:]); bytes.Equal(fk, key[:]) {
					rec = fv
				} else {
					rec = nil
				}
			}
			if rec != nil {
				mk := d.mark()
				e := d.event()
				if err := s.decodeInto(&d, prop, k[len(k)-12:], rec, e); err != nil {
					return nil, err
				}
				if q.matchWith(e, func(f *string, want string) bool { return d.equal(mk, f, want) }) {
					out = append(out, e)
				} else {
					d.undo(mk, e)
				}
			}
		}
		m.advance()
	}
	return out, nil
}

// decodeEvent builds an Event from a key's property number and id and the
// stored record.
func (s *Store) decodeEvent(prop uint32, id []byte, rec []byte) (*audit.Event, error) {
	var d decoder
	e := d.event()
	err := s.decodeInto(&d, prop, id, rec, e)
	d.finish()
	if err != nil {
		return nil, err
	}
	return e, nil
}

// decodeEventIn is decodeEvent for a reader of tx, which may see a
// property whose cache entry is not published yet (propertyIn).
func (s *Store) decodeEventIn(tx *bolt.Tx, prop uint32, id []byte, rec []byte) (*audit.Event, error) {
	pk, ok := s.propertyIn(tx, prop)
	if !ok {
		return nil, fmt.Errorf("record %x: %w: unknown property %d", id, errCorrupt, prop)
	}
	var d decoder
	d.propNum, d.prop, d.propSet = prop, pk, true
	e := d.event()
	err := s.decodeInto(&d, prop, id, rec, e)
	d.finish()
	if err != nil {
		return nil, err
	}
	return e, nil
}

// decodeInto is decodeEvent into e with d, whose finish sets e's strings.
func (s *Store) decodeInto(d *decoder, prop uint32, id []byte, rec []byte, e *audit.Event) error {
	// Decode from a copy: one copy pulls the record's cache lines in
	// together, where decoding in place waits for each in turn.
	d.rec = append(d.rec[:0], rec...)
	var r record
	if err := d.decode(d.rec, e, &r); err != nil {
		return fmt.Errorf("record %x: %w", id, err)
	}
	if !d.propSet || d.propNum != prop { // a page is mostly of one property
		pk, ok := s.propertyByNum(prop)
		if !ok {
			return fmt.Errorf("record %x: %w: unknown property %d", id, errCorrupt, prop)
		}
		d.propNum, d.prop, d.propSet = prop, pk, true
	}
	pk := d.prop
	copy(e.ID[:], id)
	e.Time = e.ID.Time()
	e.Platform = pk.platform
	e.PropertyID = pk.id
	return nil
}

// Span kinds.
const (
	kindEvents = iota
	kindType
	kindUser
	kindChan
)

// span walks the keys prefix+id with lo <= id < hi in one direction.
type span struct {
	c      *bolt.Cursor
	kind   int
	prefix []byte
	lo, hi []byte // full keys
	desc   bool
	k, v   []byte
	role   byte // for kindUser: which roles count
}

func newSpan(b *bolt.Bucket, kind int, prefix []byte, lo, hi audit.ID, desc bool) *span {
	sp := &span{c: b.Cursor(), kind: kind, prefix: prefix, desc: desc,
		lo: append(slices.Clip(prefix), lo[:]...), hi: append(slices.Clip(prefix), hi[:]...)}
	if desc {
		k, v := sp.c.Seek(sp.hi)
		if k == nil {
			k, v = sp.c.Last()
		} else {
			k, v = sp.c.Prev()
		}
		sp.set(k, v)
	} else {
		sp.set(sp.c.Seek(sp.lo))
	}
	return sp
}

func (sp *span) set(k, v []byte) {
	if k == nil || len(k) != len(sp.prefix)+12 || !bytes.HasPrefix(k, sp.prefix) ||
		(sp.desc && bytes.Compare(k, sp.lo) < 0) || (!sp.desc && bytes.Compare(k, sp.hi) >= 0) {
		sp.k, sp.v = nil, nil
		return
	}
	sp.k, sp.v = k, v
}

func (sp *span) next() {
	if sp.desc {
		sp.set(sp.c.Prev())
	} else {
		sp.set(sp.c.Next())
	}
}

func (sp *span) id() []byte { return sp.k[len(sp.k)-12:] }

// hint applies the cheap checks the index value allows.
func (sp *span) hint(q *Query, v []byte) bool {
	var typ audit.EventType
	switch sp.kind {
	case kindEvents:
		typ = peekType(v)
	case kindType:
		return true // the span is for one wanted type
	case kindUser:
		if len(v) < 2 || v[0]&sp.role == 0 {
			return false
		}
		typ = audit.EventType(v[1])
	default:
		if len(v) < 1 {
			return false
		}
		typ = audit.EventType(v[0])
	}
	return len(q.Types) == 0 || slices.Contains(q.Types, typ)
}

// merger yields the spans' entries in id order.
type merger struct {
	spans []*span
	desc  bool
}

func (m *merger) Len() int { return len(m.spans) }
func (m *merger) Less(i, j int) bool {
	c := bytes.Compare(m.spans[i].id(), m.spans[j].id())
	if m.desc {
		return c > 0
	}
	return c < 0
}
func (m *merger) Swap(i, j int) { m.spans[i], m.spans[j] = m.spans[j], m.spans[i] }
func (m *merger) Push(x any)    { m.spans = append(m.spans, x.(*span)) }
func (m *merger) Pop() any {
	sp := m.spans[len(m.spans)-1]
	m.spans = m.spans[:len(m.spans)-1]
	return sp
}
func (m *merger) top() *span { return m.spans[0] }
func (m *merger) advance() {
	m.spans[0].next()
	if m.spans[0].k == nil {
		heap.Pop(m)
	} else {
		heap.Fix(m, 0)
	}
}

// plan picks the narrowest index for q and opens its spans in every
// property the query covers. It returns nil when nothing can match.
func (s *Store) plan(tx *bolt.Tx, q *Query, lo, hi audit.ID, desc bool) (*merger, error) {
	var props []uint32
	if q.Property != "" {
		ps := s.property(q.Platform, q.Property)
		if ps == nil {
			return nil, nil
		}
		props = []uint32{ps.num}
	} else {
		for _, p := range s.Properties() {
			if q.Platform == 0 || p.Platform == q.Platform {
				props = append(props, s.property(p.Platform, p.ID).num)
			}
		}
	}
	m := &merger{desc: desc}
	add := func(b []byte, kind int, prop uint32, mid []byte, role byte) {
		prefix := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(mid)), prop)
		prefix = append(prefix, mid...)
		sp := newSpan(tx.Bucket(b), kind, prefix, lo, hi, desc)
		sp.role = role
		if sp.k != nil {
			m.spans = append(m.spans, sp)
		}
	}
	user, role := q.User, byte(roleActor|roleTarget)
	switch {
	case q.Actor != "":
		user, role = q.Actor, roleActor
	case q.Target != "":
		user, role = q.Target, roleTarget
	}
	switch {
	case user != "":
		n := dictLookup(tx, dictUser, user)
		if n == 0 {
			return nil, nil
		}
		for _, p := range props {
			add(bIxUser, kindUser, p, u32(n), role)
		}
	case q.Channel != "":
		n := dictLookup(tx, dictChannel, q.Channel)
		if n == 0 {
			return nil, nil
		}
		for _, p := range props {
			add(bIxChan, kindChan, p, u32(n), 0)
		}
	case len(q.Types) > 0:
		types := slices.Clone(q.Types)
		slices.Sort(types)
		for _, t := range slices.Compact(types) {
			for _, p := range props {
				add(bIxType, kindType, p, []byte{byte(t)}, 0)
			}
		}
	default:
		for _, p := range props {
			add(bEvents, kindEvents, p, nil, 0)
		}
	}
	heap.Init(m)
	return m, nil
}

// Get returns one record of a property.
func (s *Store) Get(ctx context.Context, p audit.Platform, property string, id audit.ID) (_ *audit.Event, err error) {
	defer recoverDamaged(s.path, &err)
	ps := s.property(p, property)
	if ps == nil {
		return nil, fmt.Errorf("get %s: %w", id, ErrNotFound)
	}
	var e *audit.Event
	err = s.db.View(func(tx *bolt.Tx) error {
		key := append(u32(ps.num), id[:]...)
		v := tx.Bucket(bEvents).Get(key)
		if v == nil {
			return ErrNotFound
		}
		var err error
		e, err = s.decodeEvent(ps.num, id[:], v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", id, err)
	}
	return e, nil
}

// FindMessage returns the newest CHAT_MESSAGE or CHAT_MESSAGE_EDIT record of
// a message, so that a later edit or deletion can show what it said. It
// returns ErrNotFound when the store never saw the message.
func (s *Store) FindMessage(ctx context.Context, p audit.Platform, property, messageID string) (_ *audit.Event, err error) {
	defer recoverDamaged(s.path, &err)
	ps := s.property(p, property)
	if ps == nil || messageID == "" {
		return nil, fmt.Errorf("find message %s: %w", messageID, ErrNotFound)
	}
	var found *audit.Event
	err = s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bIxMsg).Get(append(u32(ps.num), msgKey(messageID)...))
		if len(id) != 12 {
			return ErrNotFound
		}
		rec := tx.Bucket(bEvents).Get(append(u32(ps.num), id...))
		if rec == nil {
			return ErrNotFound
		}
		var err error
		found, err = s.decodeEvent(ps.num, id, rec)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find message %s: %w", messageID, err)
	}
	return found, nil
}

var maxID = audit.ID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Counts returns the number of records of each type in [since, until) for
// one property, or every property when property is "".
func (s *Store) Counts(ctx context.Context, p audit.Platform, property string, since, until time.Time) (map[audit.EventType]int, error) {
	q := Query{Platform: p, Property: property, Since: since, Until: until}
	if _, err := q.Validate(); err != nil {
		return nil, err
	}
	lo, hi := audit.ID{}, maxID
	if !since.IsZero() {
		lo = audit.MakeID(since, 0)
	}
	if !until.IsZero() {
		hi = audit.MakeID(until, 0)
	}
	counts := make(map[audit.EventType]int)
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, t := range audit.EventTypes() {
			q.Types = []audit.EventType{t}
			m, err := s.plan(tx, &q, lo, hi, false)
			if err != nil || m == nil {
				return err
			}
			for _, sp := range m.spans {
				for n := 0; sp.k != nil; sp.next() {
					if n++; n&4095 == 0 && ctx.Err() != nil {
						return ctx.Err()
					}
					counts[t]++
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count %s: %w", property, err)
	}
	return counts, nil
}
