// Package clock is the time source of the engines' timers (verification
// deadlines, raid windows, escalation): the system clock in the bot, a
// clock that moves only when told in tests (moderationtest.Clock).
package clock

import "time"

// Clock tells the time.
type Clock interface {
	Now() time.Time
	// At returns a channel that receives once the clock reaches t, at once
	// if it already has.
	At(t time.Time) <-chan time.Time
}

// System is the system clock.
var System Clock = system{}

type system struct{}

func (system) Now() time.Time                  { return time.Now() }
func (system) At(t time.Time) <-chan time.Time { return time.After(time.Until(t)) }
