package cluster

import (
	"context"
	"time"
)

// retry paces a loop that outlives NATS outages (publisher, consumer,
// token sync and mirror): no wait before the first attempt or after a
// success, then 1s doubling up to 30s while attempts fail.
type retry struct{ wait time.Duration }

// pause waits out the current delay; false when ctx ended first.
func (r *retry) pause(ctx context.Context) bool {
	if r.wait == 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(r.wait):
		return true
	}
}

// failed lengthens the delay and reports whether this is the first
// failure since a success: the one worth a warning.
func (r *retry) failed() (first bool) {
	first = r.wait == 0
	r.wait = min(max(2*r.wait, time.Second), 30*time.Second)
	return first
}

// succeeded ends the delay and reports whether failures preceded it.
func (r *retry) succeeded() (recovered bool) {
	recovered = r.wait > 0
	r.wait = 0
	return recovered
}
