package verification

import (
	"fmt"
	"strconv"
	"time"

	"github.com/chatwarden/chatwarden/platform"
)

// The member-facing texts. They are English only for now; the log
// entries the records produce are translated by bot's formats.
const (
	textPrompt       = "Press Verify to get access to this server."
	textVerifyLabel  = "Verify"
	textHumanLabel   = "I'm human"
	textPassed       = "You're verified. Welcome!"
	textWrongFailed  = "Wrong answer. Verification failed."
	textTimedOut     = "Time's up: verification failed."
	textNotYours     = "This challenge is for someone else."
	textEnded        = "This challenge has ended."
	textStale        = "That question was replaced: answer the newest one."
	textInvalid      = "This button is not valid."
	textOff          = "Verification is not enabled here."
	textJoinFirst    = "The challenge is posted when you join."
	textTrouble      = "Something went wrong; please try again in a moment."
	textAlreadyAsked = "Your challenge is waiting in the chat."
)

// question is the text of a challenge's current question.
func question(c *Challenge) string {
	if c.Kind == KindMath {
		return fmt.Sprintf("What is %d + %d?", c.A, c.B)
	}
	return "Press the button to confirm you're human."
}

// left describes the time left before the deadline.
func left(c *Challenge, now time.Time) string {
	d := c.Deadline.Sub(now).Round(time.Second)
	if d < time.Second {
		d = time.Second
	}
	return d.String()
}

// groupPrompt is the Telegram challenge message naming the member.
func groupPrompt(c *Challenge, now time.Time) string {
	name := c.Name
	if name == "" {
		name = "newcomer"
	}
	return fmt.Sprintf("Welcome, %s! Answer within %s to take part. %s", name, left(c, now), question(c))
}

// privatePrompt is the Discord ephemeral challenge.
func privatePrompt(c *Challenge, now time.Time) string {
	return fmt.Sprintf("Answer within %s to get access. %s", left(c, now), question(c))
}

// retryPrompt follows a wrong answer.
func retryPrompt(c *Challenge, now time.Time, group bool) string {
	n := c.MaxAttempts - c.Attempts
	attempts := strconv.Itoa(n) + " attempts"
	if n == 1 {
		attempts = "1 attempt"
	}
	p := privatePrompt(c, now)
	if group {
		p = groupPrompt(c, now)
	}
	return fmt.Sprintf("Wrong answer, %s left. %s", attempts, p)
}

// buttons are the answer buttons of the current question.
func (e *Engine) buttons(c *Challenge) []platform.Button {
	if c.Kind != KindMath {
		return []platform.Button{{Label: textHumanLabel, Data: e.sign.answerData(c, 0), Style: platform.StyleSuccess}}
	}
	out := make([]platform.Button, len(c.Options))
	for i, o := range c.Options {
		out[i] = platform.Button{Label: strconv.Itoa(o), Data: e.sign.answerData(c, i), Style: platform.StyleSecondary}
	}
	return out
}
