// Package coordtest is an in-memory coord.Lease for tests of the code
// that takes part in one: every change is a compare-and-set on a
// revision, as in the JetStream bucket package cluster uses, and the test
// decides when a holder's TTL has run out (Expire) or when another
// process wins the race for the lease (Steal).
package coordtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/chatwarden/chatwarden/coord"
)

// Lease is one lease shared by the processes of a test.
type Lease struct {
	mu      sync.Mutex
	holder  string
	rev     uint64
	value   []byte
	expired bool
	steal   string // given the lease before the next commit
	current *term  // the live term, if any
	commits map[string]int
	largest int // the largest value committed
	settled map[string]settlement
}

// settlement is a slot's newest settled item and its winner.
type settlement struct {
	item   string
	winner string
}

// New returns a lease nobody holds.
func New() *Lease { return &Lease{commits: map[string]int{}, settled: map[string]settlement{}} }

// For is the lease as the process named holder sees it.
func (l *Lease) For(holder string) coord.Lease { return &view{l: l, holder: holder} }

// Expire lets another process take the lease, as when its holder stops
// renewing for the TTL (it died).
func (l *Lease) Expire() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expired = true
}

// Steal gives the lease to holder just before the current holder's next
// commit, which then fails with coord.ErrLost.
func (l *Lease) Steal(holder string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.steal = holder
}

// Holder returns who holds the lease ("" when nobody does).
func (l *Lease) Holder() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder
}

// Value returns the value kept with the lease.
func (l *Lease) Value() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.value
}

// Commits counts the successful commits of holder.
func (l *Lease) Commits(holder string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.commits[holder]
}

// Largest returns the size of the largest value ever committed.
func (l *Lease) Largest() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.largest
}

// Settled returns slot's last settled item and its winner ("" when
// none).
func (l *Lease) Settled(slot string) (item, winner string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.settled[slot]
	return s.item, s.winner
}

// give hands the lease to holder (l.mu held).
func (l *Lease) give(holder string) *term {
	if l.current != nil {
		close(l.current.lost)
	}
	l.holder, l.expired = holder, false
	l.rev++
	l.current = &term{l: l, holder: holder, rev: l.rev, lost: make(chan struct{})}
	return l.current
}

type view struct {
	l      *Lease
	holder string
}

func (v *view) Holder() string { return v.holder }

func (v *view) Peek(context.Context) ([]byte, error) { return v.l.Value(), nil }

func (v *view) Acquire(ctx context.Context) (coord.Term, error) {
	for {
		v.l.mu.Lock()
		if v.l.holder == "" || v.l.holder == v.holder || v.l.expired {
			t := v.l.give(v.holder)
			v.l.mu.Unlock()
			return t, nil
		}
		v.l.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (v *view) Settle(_ context.Context, slot, item string) (string, error) {
	v.l.mu.Lock()
	defer v.l.mu.Unlock()
	if s, ok := v.l.settled[slot]; ok && s.item == item {
		return s.winner, nil
	}
	v.l.settled[slot] = settlement{item: item, winner: v.holder}
	return v.holder, nil
}

type term struct {
	l      *Lease
	holder string
	rev    uint64
	lost   chan struct{}
}

func (t *term) Value() []byte { return t.l.Value() }

func (t *term) Lost() <-chan struct{} { return t.lost }

func (t *term) Commit(_ context.Context, value []byte) error {
	t.l.mu.Lock()
	defer t.l.mu.Unlock()
	if s := t.l.steal; s != "" && s != t.holder {
		t.l.steal = ""
		t.l.give(s) // its Acquire takes it (again)
	}
	if t.l.rev != t.rev {
		return fmt.Errorf("coordtest: revision %d, lease at %d: %w", t.rev, t.l.rev, coord.ErrLost)
	}
	t.l.rev++
	t.rev = t.l.rev
	t.l.value = append([]byte(nil), value...)
	t.l.commits[t.holder]++
	t.l.largest = max(t.l.largest, len(value))
	return nil
}

func (t *term) Release(context.Context) error {
	t.l.mu.Lock()
	defer t.l.mu.Unlock()
	if t.l.rev == t.rev {
		t.l.holder = ""
		t.l.rev++
		close(t.lost)
		t.l.current = nil
	}
	return nil
}
