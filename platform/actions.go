package platform

import (
	"context"
	"errors"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// Actions is what engines and reversal buttons can do on a platform. Each
// platform implements it; every method that changes something records the
// platform-level result (CHAT_MESSAGE_DELETE, USER_BAN, USER_REMOVE,
// USER_UPDATE ...) with Cause's function type, the bot or the pressing admin
// as actor, and the reason; the engine records its own synthetic event
// (MODERATION_LINK, SECURITY_EVENT ...) itself.
type Actions interface {
	Platform() audit.Platform
	DeleteMessage(ctx context.Context, property, channel, message string, c Cause) error
	// Timeout silences a member until the given time (Discord timeout,
	// Telegram restriction); RemoveTimeout lifts it.
	Timeout(ctx context.Context, property, user string, until time.Time, c Cause) error
	RemoveTimeout(ctx context.Context, property, user string, c Cause) error
	Kick(ctx context.Context, property, user string, c Cause) error
	Ban(ctx context.Context, property, user string, c Cause) error
	Unban(ctx context.Context, property, user string, c Cause) error
	// AddRole and RemoveRole return ErrUnsupported on Telegram.
	AddRole(ctx context.Context, property, user, role string, c Cause) error
	RemoveRole(ctx context.Context, property, user, role string, c Cause) error
	// Send posts a message (with buttons) and returns its id.
	Send(ctx context.Context, property, channel string, m Message) (string, error)
}

// Cause says who decided an action and why.
type Cause struct {
	Function audit.Function // link_filter, impersonation, command, ...
	Reason   string
	// ActorID and ActorName name the admin who acted through the bot (a
	// reversal button, a command); empty when the bot acted on its own.
	ActorID, ActorName string
	// Quiet, when set (audit.QuietDetail, audit.QuietHousekeeping), is
	// recorded as the action's params.quiet: the record is kept but not
	// posted to log channels, because another record tells the action
	// (the engine's, with its action and outcome) or it is housekeeping.
	Quiet string
}

// Mark sets the record of an action from its cause's reason and quiet mark.
func (c Cause) Mark(e *audit.Event) {
	e.Params.Set(audit.ParamReason, c.Reason)
	e.Params.Set(audit.ParamQuiet, c.Quiet)
}

// Message is a platform-neutral message with optional buttons.
type Message struct {
	Text    string
	Buttons []Button
	// Mention, when set, is the one user the message may notify (a
	// verification prompt naming the newcomer). Nothing else pings.
	Mention string
	// ReplyTo is a message id to answer, if any.
	ReplyTo string
}

// Button is one inline button. Data is opaque to the platform (at most 64
// bytes, Telegram's limit) and comes back when it is pressed.
type Button struct {
	Label string
	Data  string
	Style ButtonStyle
}

// ButtonStyle hints at a button's colour where the platform has colours.
type ButtonStyle uint8

// Button styles.
const (
	StylePrimary ButtonStyle = iota
	StyleSecondary
	StyleSuccess
	StyleDanger
)

// Errors actions return; platforms wrap them with details.
var (
	ErrUnsupported = errors.New("not supported on this platform")
	ErrForbidden   = errors.New("the bot lacks the rights for this action")
	ErrTooOld      = errors.New("the message is too old to delete")
	ErrNotFound    = errors.New("no such user, message or chat")
)
