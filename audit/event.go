package audit

import (
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Event is one audit record: something that happened on a platform, or an
// action chatwarden took. Handlers and engines fill in what happened; the
// store assigns ID, Seq and Hash when the event is committed.
type Event struct {
	ID   ID     `json:"id"`
	Seq  uint64 `json:"seq,omitempty"`  // commit order across the whole store
	Hash Digest `json:"hash,omitempty"` // SHA-256 chaining this record to the previous one of its property

	Time       time.Time `json:"time"` // when the platform says it happened, else when received
	Platform   Platform  `json:"platform"`
	PropertyID string    `json:"property_id"` // guild id or chat id

	Type         EventType `json:"event_type"`
	PlatformType string    `json:"platform_type"` // e.g. GUILD_MEMBER_ADD, chat_member
	Function     Function  `json:"function_type"`

	ActorID   string    `json:"actor_id,omitempty"`
	ActorName string    `json:"actor_name,omitempty"`
	ActorType ActorType `json:"actor_type"`
	TargetIDs []string  `json:"target_ids,omitempty"`

	ChannelID string `json:"channel_id,omitempty"`
	MessageID string `json:"message_id,omitempty"`

	Params      Params       `json:"params,omitempty"`
	Content     string       `json:"content,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`

	// Redacted is set on records whose personal data (names, content,
	// attachments, params) was erased; the chain still verifies.
	Redacted bool `json:"redacted,omitempty"`

	// Withheld is message text that the property does not store (see
	// LogRouter.ContentPolicy): it is never written to the store, the
	// outbox or an export, but the engines reading the committed event in
	// memory (the link filter) still see it.
	Withheld string `json:"-"`
}

// Attachment is a file attached to a message.
type Attachment struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
	Size int64  `json:"size,omitempty"`
	Hash string `json:"hash,omitempty"`
}

// Validation limits. Longer values are cut (with Cut's marker) by Normalize,
// never rejected: an event is never lost for being large.
const (
	MaxIDLen       = 128
	MaxNameLen     = 256
	MaxContentLen  = 16 << 10
	MaxParamLen    = 2 << 10
	MaxParams      = 64
	MaxTargets     = 100
	MaxAttachments = 32
)

// ErrInvalidEvent is wrapped by Validate's errors.
var ErrInvalidEvent = errors.New("invalid event")

// Validate reports whether e can be recorded: it must name a valid platform,
// property, event type, function and actor type. Validate does not look at
// sizes; Normalize makes oversized fields fit.
func (e *Event) Validate() error {
	switch {
	case !e.Platform.Valid():
		return fmt.Errorf("%w: platform %d", ErrInvalidEvent, e.Platform)
	case e.PropertyID == "":
		return fmt.Errorf("%w: empty property id", ErrInvalidEvent)
	case !e.Type.Valid():
		return fmt.Errorf("%w: event type %d", ErrInvalidEvent, e.Type)
	case !e.Function.Valid():
		return fmt.Errorf("%w: function type %d", ErrInvalidEvent, e.Function)
	case !e.ActorType.Valid():
		return fmt.Errorf("%w: actor type %d of %s", ErrInvalidEvent, e.ActorType, e.Type)
	}
	return nil
}

// Normalize makes e fit the stored limits: times in UTC (the zero time
// becomes now), over-long strings cut with a marker, surplus targets,
// params and attachments dropped with a note in params.
func (e *Event) Normalize(now time.Time) {
	if e.Time.IsZero() || e.Time.Before(minTime) {
		e.Time = now
	}
	e.Time = e.Time.UTC()
	e.PropertyID = Cut(e.PropertyID, MaxIDLen)
	e.PlatformType = Cut(e.PlatformType, MaxNameLen)
	e.ActorID = Cut(e.ActorID, MaxIDLen)
	e.ActorName = Cut(e.ActorName, MaxNameLen)
	e.ChannelID = Cut(e.ChannelID, MaxIDLen)
	e.MessageID = Cut(e.MessageID, MaxIDLen)
	e.Content = Cut(e.Content, MaxContentLen)
	if len(e.TargetIDs) > MaxTargets {
		e.Params.Set(ParamTruncatedTargets, fmt.Sprint(len(e.TargetIDs)))
		e.TargetIDs = e.TargetIDs[:MaxTargets]
	}
	for i, t := range e.TargetIDs {
		e.TargetIDs[i] = Cut(t, MaxIDLen)
	}
	if len(e.Attachments) > MaxAttachments {
		e.Params.Set(ParamTruncatedAttachments, fmt.Sprint(len(e.Attachments)))
		e.Attachments = e.Attachments[:MaxAttachments]
	}
	for i := range e.Attachments {
		a := &e.Attachments[i]
		a.Name = Cut(a.Name, MaxNameLen)
		a.URL = Cut(a.URL, MaxParamLen)
		a.Hash = Cut(a.Hash, MaxNameLen)
	}
	if len(e.Params) > 0 {
		for k, v := range e.Params {
			if len(k) > MaxNameLen {
				delete(e.Params, k)
				k = Cut(k, MaxNameLen)
			}
			e.Params[k] = Cut(v, MaxParamLen)
		}
		if len(e.Params) > MaxParams {
			e.Params = e.Params.trimmed(MaxParams)
		}
	}
}

// minTime is the earliest time an event may carry; IDs encode nanoseconds
// since the Unix epoch as an unsigned number.
var minTime = time.Unix(0, 0)

// Subjects returns every user the event concerns: the actor and the targets.
func (e *Event) Subjects() []string {
	out := make([]string, 0, 1+len(e.TargetIDs))
	if e.ActorID != "" {
		out = append(out, e.ActorID)
	}
	return append(out, e.TargetIDs...)
}

// Target returns the first target, or "".
func (e *Event) Target() string {
	if len(e.TargetIDs) > 0 {
		return e.TargetIDs[0]
	}
	return ""
}

// ID identifies a record. It sorts by the record's time: the first 8 bytes
// are nanoseconds since the Unix epoch (big endian), the last 4 the low bits
// of the store's commit sequence, so two records of the same nanosecond
// still differ.
type ID [12]byte

// idEncoding keeps the byte order: base32 "hex" sorts like the bytes.
var idEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// MakeID returns the ID for a record at t with commit sequence seq.
func MakeID(t time.Time, seq uint64) ID {
	var id ID
	binary.BigEndian.PutUint64(id[:8], uint64(t.UnixNano()))
	binary.BigEndian.PutUint32(id[8:], uint32(seq))
	return id
}

// Time returns the time encoded in id.
func (id ID) Time() time.Time { return time.Unix(0, int64(binary.BigEndian.Uint64(id[:8]))).UTC() }

// IsZero reports whether id is unset.
func (id ID) IsZero() bool { return id == ID{} }

// String returns the 20-character sortable text form.
func (id ID) String() string { return idEncoding.EncodeToString(id[:]) }

// ParseID parses the text form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 20 {
		return id, fmt.Errorf("bad record id %q: want 20 characters", s)
	}
	n, err := idEncoding.Decode(id[:], []byte(s))
	if err != nil || n != len(id) {
		return id, fmt.Errorf("bad record id %q", s)
	}
	return id, nil
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = ID{}
		return nil
	}
	v, err := ParseID(string(b))
	*id = v
	return err
}

// SeqLow returns the sequence bits of id.
func (id ID) SeqLow() uint32 { return binary.BigEndian.Uint32(id[8:]) }

// Bytes returns id as a byte slice.
func (id ID) Bytes() []byte { return id[:] }

// Digest is a hash; its text form is lowercase hex.
type Digest []byte

// String returns the hex form.
func (d Digest) String() string { return hex.EncodeToString(d) }

// MarshalText implements encoding.TextMarshaler.
func (d Digest) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(d)), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Digest) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	if err != nil {
		return fmt.Errorf("bad digest: %w", err)
	}
	*d = v
	return nil
}
