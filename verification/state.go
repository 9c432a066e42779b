package verification

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// Stage is where a challenge stands. Its numeric value is stored.
type Stage uint8

// Stages.
const (
	// StageWaiting: the member joined (Discord) and has not pressed
	// Verify yet.
	StageWaiting Stage = 0
	// StageAsked: a question is shown; answers for its round count.
	StageAsked Stage = 1
	// StageDone: the result is decided and stored; its effects (role,
	// kick, messages, the record) may still be under way.
	StageDone Stage = 2
)

// Challenge is one member's pending verification, as stored.
type Challenge struct {
	Platform audit.Platform `json:"platform"`
	Property string         `json:"property"`
	User     string         `json:"user"`
	Name     string         `json:"name,omitempty"`
	Kind     string         `json:"kind"`
	// ID is random; button data carries it so that data from another
	// challenge of the same member (an earlier join) is refused.
	ID    uint64 `json:"id"`
	Stage Stage  `json:"stage"`
	// Round counts the questions shown; only the current round's buttons
	// count.
	Round       uint8 `json:"round"`
	Attempts    int   `json:"attempts"` // answers given
	MaxAttempts int   `json:"max_attempts"`
	// The current question: A + B, Options on the buttons,
	// Options[Correct] right. The button kind has one option.
	A       int   `json:"a,omitempty"`
	B       int   `json:"b,omitempty"`
	Options []int `json:"options,omitempty"`
	Correct int   `json:"correct"`

	Started  time.Time `json:"started"`
	Deadline time.Time `json:"deadline"`

	// ChannelID and MessageID locate the challenge message (Telegram);
	// JoinMessageID the join service message, deleted on failure.
	ChannelID     string `json:"channel,omitempty"`
	MessageID     string `json:"message,omitempty"`
	JoinMessageID string `json:"join_message,omitempty"`

	// Enforce is set when the member joined under verification: failing
	// removes them. A member who presses Verify without a join on record
	// (they joined before verification was on) is only refused the role.
	Enforce    bool   `json:"enforce,omitempty"`
	FailAction string `json:"fail_action"`
	RoleID     string `json:"role,omitempty"`

	Result *Result `json:"result,omitempty"`
}

// Result is how a challenge ended.
type Result struct {
	Passed bool      `json:"passed"`
	Reason string    `json:"reason,omitempty"` // audit.Reason* for failures
	At     time.Time `json:"at"`
}

// Outcome is what an answer did.
type Outcome uint8

// Outcomes of Answer.
const (
	// OutcomeStale: the answer was for an earlier question (or none is
	// shown, or the challenge already ended); nothing changed.
	OutcomeStale Outcome = iota
	// OutcomeRetry: wrong, with attempts left; ask again.
	OutcomeRetry
	// OutcomePassed: right; the challenge is done.
	OutcomePassed
	// OutcomeFailed: wrong and out of attempts; the challenge is done.
	OutcomeFailed
	// OutcomeTimedOut: the deadline had passed; the challenge is done.
	OutcomeTimedOut
)

var outcomeNames = [...]string{"stale", "retry", "passed", "failed", "timed out"}

// String returns the outcome's name for logs.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// NewChallenge starts a challenge for a member at now under cfg: waiting
// for the member to ask for a question.
func NewChallenge(p audit.Platform, property, user, name string, cfg Defaults, now time.Time, id uint64) *Challenge {
	return &Challenge{Platform: p, Property: property, User: user, Name: name, Kind: cfg.Kind, ID: id,
		MaxAttempts: cfg.MaxAttempts, Started: now, Deadline: now.Add(cfg.Timeout),
		FailAction: cfg.FailAction, RoleID: cfg.RoleID}
}

// Done reports whether the result is decided.
func (c *Challenge) Done() bool { return c.Stage == StageDone }

// Ask shows a new question: the round advances (earlier buttons become
// stale) and, for the math kind, new numbers are drawn. Attempts are not
// counted. Ask does nothing once the challenge is done.
func (c *Challenge) Ask(r *rand.Rand) {
	if c.Done() {
		return
	}
	c.Stage = StageAsked
	c.Round++
	if c.Kind != KindMath {
		c.A, c.B, c.Options, c.Correct = 0, 0, nil, 0
		return
	}
	c.A, c.B = 2+r.IntN(18), 2+r.IntN(18)
	sum := c.A + c.B
	opts := []int{sum}
	for len(opts) < 4 {
		w := sum + r.IntN(11) - 5
		if w > 0 && !slices.Contains(opts, w) {
			opts = append(opts, w)
		}
	}
	r.Shuffle(len(opts), func(i, j int) { opts[i], opts[j] = opts[j], opts[i] })
	c.Options = opts
	c.Correct = slices.Index(opts, sum)
}

// Choices returns the number of answer buttons of the current question.
func (c *Challenge) Choices() int {
	if c.Kind == KindMath {
		return len(c.Options)
	}
	return 1
}

// Answer applies the member's choice for round at now.
func (c *Challenge) Answer(round uint8, choice int, now time.Time) Outcome {
	switch {
	case c.Done():
		return OutcomeStale
	case !now.Before(c.Deadline):
		c.finish(false, audit.ReasonTimeout, now)
		return OutcomeTimedOut
	case c.Stage != StageAsked || round != c.Round || choice < 0 || choice >= c.Choices():
		return OutcomeStale
	}
	c.Attempts++
	if choice == c.Correct {
		c.finish(true, "", now)
		return OutcomePassed
	}
	if c.Attempts >= c.MaxAttempts {
		c.finish(false, audit.ReasonWrongAnswer, now)
		return OutcomeFailed
	}
	return OutcomeRetry
}

// Expire fails the challenge if its deadline has passed at now, and
// reports whether it did.
func (c *Challenge) Expire(now time.Time) bool {
	if c.Done() || now.Before(c.Deadline) {
		return false
	}
	c.finish(false, audit.ReasonTimeout, now)
	return true
}

// Leave fails the challenge because the member left, and reports whether
// it was still pending.
func (c *Challenge) Leave(now time.Time) bool {
	if c.Done() {
		return false
	}
	c.finish(false, audit.ReasonLeft, now)
	return true
}

func (c *Challenge) finish(passed bool, reason string, now time.Time) {
	c.Stage = StageDone
	c.Result = &Result{Passed: passed, Reason: reason, At: now}
}

// TimeTaken is how long the member took, up to the result.
func (c *Challenge) TimeTaken() time.Duration {
	if c.Result == nil {
		return 0
	}
	return c.Result.At.Sub(c.Started)
}
