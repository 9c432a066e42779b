package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// Erasure on a replica. A shard that erases a user (Erase) records
// DATA_RETENTION with action ERASE and the user as its one target, and
// publishes that record like any other. When a replica stores such a
// record it does what the shard did: it removes the personal part of
// every record of that user in that property, of every origin, whose id
// is less than the erasure's (the records the shard's erasure reached;
// ids grow with time), deletes the user's per-user state, and scrubs the
// freed pages once the transaction committed. It remembers the erasure
// in nsErased, so that a record of the user that arrives later with an
// earlier id (a retried publish, a record of another origin, a stream
// read again from its start) is stored without its personal part, the
// way a record whose text the message could not carry is: ids, types,
// times, digests and hashes stay, and the chains still verify. Records
// held for their predecessor are held without it too.

// nsErased is the KV namespace of the erasures a replica applied:
// erasedKey(platform, property, user) -> the id (12 bytes) of the newest
// erasure record.
const nsErased = "replica/erased"

// erasedKey is platform(1) uvarint(len(property)) property user.
func erasedKey(p audit.Platform, property, user string) []byte {
	b := binary.AppendUvarint([]byte{byte(p)}, uint64(len(property)))
	return append(append(b, property...), user...)
}

// ErasedUser returns the erasure a record names: the user of a
// DATA_RETENTION record with action ERASE, and whether it is one.
func ErasedUser(e *audit.Event) (string, bool) {
	if e == nil || e.Type != audit.DataRetention || e.Redacted || e.Params.Get(audit.ParamAction) != audit.RetentionErase ||
		len(e.TargetIDs) != 1 || e.TargetIDs[0] == "" {
		return "", false
	}
	return e.TargetIDs[0], true
}

// replicaErasure is an erasure record stored in this transaction.
type replicaErasure struct {
	p              audit.Platform
	property, user string
	id             audit.ID
}

// erasedBefore reports whether an erasure of one of e's users (actor or
// targets) in its property came after e.
func (r *replicaTx) erasedBefore(e *audit.Event) bool {
	check := func(user string) bool {
		if user == "" {
			return false
		}
		v := r.erased.Get(erasedKey(e.Platform, e.PropertyID, user))
		return len(v) == len(e.ID) && bytes.Compare(e.ID[:], v) < 0
	}
	if check(e.ActorID) {
		return true
	}
	for _, t := range e.TargetIDs {
		if check(t) {
			return true
		}
	}
	return false
}

// dropErased removes the personal part of a record (not yet stored or
// held) of an erased user that the erasure reached.
func (r *replicaTx) dropErased(rec *recorder.Replica, res *recorder.ReplicaResult) {
	if rec.Event.Redacted || !r.erasedBefore(rec.Event) {
		return
	}
	redact(rec.Event)
	rec.Nonce = nil
	res.Erased++
}

// noteErasure remembers an erasure record just stored.
func (r *replicaTx) noteErasure(e *audit.Event) error {
	user, ok := ErasedUser(e)
	if !ok {
		return nil
	}
	k := erasedKey(e.Platform, e.PropertyID, user)
	if v := r.erased.Get(k); len(v) == len(e.ID) && bytes.Compare(v, e.ID[:]) >= 0 {
		return nil // a later erasure of the user is known
	}
	if err := r.erased.Put(k, bytes.Clone(e.ID[:])); err != nil {
		return fmt.Errorf("remember the erasure %s: %w", e.ID, err)
	}
	r.erasures = append(r.erasures, replicaErasure{e.Platform, e.PropertyID, user, e.ID})
	return nil
}

// applyErasures, once the transaction's records are written, erases the
// users whose erasure records it stored: their records, the records held
// for a predecessor, their per-user state and, in res.Stored, the events
// handed to subscribers.
func (r *replicaTx) applyErasures(ctx context.Context, tx *bolt.Tx, res *recorder.ReplicaResult) error {
	w := r.w
	for _, er := range r.erasures {
		ps, err := w.property(er.p, er.property)
		if err != nil {
			return err
		}
		n, _, _, err := eraseUserRecords(ctx, tx, ps.num, er.user, nil, &er.id, 0)
		if err != nil {
			return fmt.Errorf("apply the erasure %s of %s %s: %w", er.id, er.p, er.property, err)
		}
		res.Erased += n
		if err := r.eraseHeld(er, res); err != nil {
			return fmt.Errorf("apply the erasure %s of %s %s to held records: %w", er.id, er.p, er.property, err)
		}
		if err := w.s.eraseUserStateTx(tx, er.p, er.property, er.user, &w.deltas); err != nil {
			return fmt.Errorf("apply the erasure %s of %s %s: %w", er.id, er.p, er.property, err)
		}
		for _, e := range res.Stored {
			if !e.Redacted && e.Platform == er.p && e.PropertyID == er.property && bytes.Compare(e.ID[:], er.id[:]) < 0 && hasUser(e, er.user) {
				redact(e)
			}
		}
	}
	return nil
}

// eraseHeld removes the erased user's personal part from the records
// held for their predecessor.
func (r *replicaTx) eraseHeld(er replicaErasure, res *recorder.ReplicaResult) error {
	type change struct{ k, v []byte }
	var changes []change
	c := r.held.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if bytes.Equal(k, kHeldCount) {
			continue
		}
		var h heldRecord
		if err := json.Unmarshal(v, &h); err != nil {
			return fmt.Errorf("held record: %w: %w", errCorrupt, err)
		}
		e := h.Event
		if e == nil || e.Redacted || e.Platform != er.p || e.PropertyID != er.property ||
			bytes.Compare(e.ID[:], er.id[:]) >= 0 || !hasUser(e, er.user) {
			continue
		}
		redact(e)
		h.Nonce = nil
		nv, err := json.Marshal(h)
		if err != nil {
			return fmt.Errorf("held record %s: %w", e.ID, err)
		}
		changes = append(changes, change{bytes.Clone(k), nv})
	}
	for _, ch := range changes {
		if err := r.held.Put(ch.k, ch.v); err != nil {
			return err
		}
		res.Erased++
	}
	return nil
}

// hasUser reports whether user is e's actor or one of its targets.
func hasUser(e *audit.Event, user string) bool {
	if e.ActorID == user {
		return true
	}
	for _, t := range e.TargetIDs {
		if t == user {
			return true
		}
	}
	return false
}

// Erasures lists the erasures a replica applied: per property and user,
// the id of the newest erasure record (for tests and the doctor).
func (s *Store) Erasures() (map[string]audit.ID, error) {
	out := map[string]audit.ID{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bKV).Bucket([]byte(nsErased))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) < 2 || len(v) != len(audit.ID{}) {
				return fmt.Errorf("%s: %w: entry %x", nsErased, errCorrupt, k)
			}
			n, w := binary.Uvarint(k[1:])
			if w <= 0 || uint64(len(k)-1-w) < n {
				return fmt.Errorf("%s: %w: entry %x", nsErased, errCorrupt, k)
			}
			prop := string(k[1+w : 1+w+int(n)])
			user := string(k[1+w+int(n):])
			var id audit.ID
			copy(id[:], v)
			out[fmt.Sprintf("%s:%s/%s", audit.Platform(k[0]), prop, user)] = id
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("erasures of %s: %w", s.path, err)
	}
	return out, nil
}

// Redact drops an event's personal part (names, params, content,
// attachments) as Erase does: its hash and digest still verify. For
// copies of a record made elsewhere (the cluster's erased copies in the
// stream).
func Redact(e *audit.Event) { redact(e) }
