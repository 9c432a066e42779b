// Package moderationtest provides fakes for testing the engines
// (moderation and verification) and their wiring: a platform's Actions that
// record what a real platform would, a Directory, and a Clock that moves
// only when told.
package moderationtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/platform"
)

// Recorder is what Actions records through; *recorder.Recorder is one.
type Recorder interface {
	Record(ctx context.Context, events ...*audit.Event) error
}

// Call is one action an engine asked for.
type Call struct {
	Method                     string
	Property, Channel, Message string
	User, Role                 string
	Until                      time.Time
	Cause                      platform.Cause
	Sent                       platform.Message // Send's message
}

// Actions is a fake platform: it remembers every call and, like the real
// platforms, records the platform-level result (CHAT_MESSAGE_DELETE,
// USER_UPDATE, USER_REMOVE, USER_BAN ...) with the cause's function and the
// bot as actor. It is safe for concurrent use.
type Actions struct {
	P        audit.Platform
	Recorder Recorder // nil: record nothing
	BotID    string
	BotName  string

	mu    sync.Mutex
	calls []Call
	errs  map[string]error
	next  int
}

var _ platform.Actions = (*Actions)(nil)

// NewActions returns fake actions of platform p recording through rec.
func NewActions(p audit.Platform, rec Recorder) *Actions {
	return &Actions{P: p, Recorder: rec, BotID: "bot", BotName: "chatwarden"}
}

// Fail makes every later call of method return err (nil clears it).
func (a *Actions) Fail(method string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.errs == nil {
		a.errs = make(map[string]error)
	}
	a.errs[method] = err
}

// Calls returns the calls so far, optionally only those of the methods
// named.
func (a *Actions) Calls(methods ...string) []Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Call
	for _, c := range a.calls {
		if len(methods) == 0 || slices.Contains(methods, c.Method) {
			out = append(out, c)
		}
	}
	return out
}

func (a *Actions) call(c Call) error {
	a.mu.Lock()
	a.calls = append(a.calls, c)
	err := a.errs[c.Method]
	a.mu.Unlock()
	return err
}

func (a *Actions) record(ctx context.Context, property string, typ audit.EventType, c platform.Cause, fill func(e *audit.Event)) error {
	if a.Recorder == nil {
		return nil
	}
	e := &audit.Event{Platform: a.P, PropertyID: property, Type: typ, PlatformType: "fake_action",
		Function: c.Function, ActorType: audit.ActorBot, ActorID: a.BotID, ActorName: a.BotName}
	if !e.Function.Valid() {
		e.Function = audit.FuncCommand
	}
	if c.ActorID != "" {
		e.ActorID, e.ActorName, e.ActorType = c.ActorID, c.ActorName, audit.ActorAdmin
	}
	e.Params.Set(audit.ParamReason, c.Reason)
	fill(e)
	if err := a.Recorder.Record(ctx, e); err != nil {
		return fmt.Errorf("record %s: %w", typ, err)
	}
	return nil
}

// Platform implements platform.Actions.
func (a *Actions) Platform() audit.Platform { return a.P }

// DeleteMessage implements platform.Actions.
func (a *Actions) DeleteMessage(ctx context.Context, property, channel, message string, c platform.Cause) error {
	if err := a.call(Call{Method: "DeleteMessage", Property: property, Channel: channel, Message: message, Cause: c}); err != nil {
		return err
	}
	return a.record(ctx, property, audit.ChatMessageDelete, c, func(e *audit.Event) {
		e.ChannelID, e.MessageID = channel, message
	})
}

// Timeout implements platform.Actions.
func (a *Actions) Timeout(ctx context.Context, property, user string, until time.Time, c platform.Cause) error {
	if err := a.call(Call{Method: "Timeout", Property: property, User: user, Until: until, Cause: c}); err != nil {
		return err
	}
	return a.record(ctx, property, audit.UserUpdate, c, func(e *audit.Event) {
		e.TargetIDs = []string{user}
		e.Params.Set(audit.ParamField, "timeout")
		e.Params.Set(audit.ParamUntil, until.UTC().Format(time.RFC3339))
	})
}

// RemoveTimeout implements platform.Actions.
func (a *Actions) RemoveTimeout(ctx context.Context, property, user string, c platform.Cause) error {
	if err := a.call(Call{Method: "RemoveTimeout", Property: property, User: user, Cause: c}); err != nil {
		return err
	}
	return a.record(ctx, property, audit.UserUpdate, c, func(e *audit.Event) {
		e.TargetIDs = []string{user}
		e.Params.Set(audit.ParamField, "timeout")
	})
}

// Kick implements platform.Actions.
func (a *Actions) Kick(ctx context.Context, property, user string, c platform.Cause) error {
	if err := a.call(Call{Method: "Kick", Property: property, User: user, Cause: c}); err != nil {
		return err
	}
	return a.record(ctx, property, audit.UserRemove, c, func(e *audit.Event) {
		e.TargetIDs = []string{user}
		e.Params.Set(audit.ParamRemoval, audit.RemovalKicked)
	})
}

// Ban implements platform.Actions.
func (a *Actions) Ban(ctx context.Context, property, user string, c platform.Cause) error {
	if err := a.call(Call{Method: "Ban", Property: property, User: user, Cause: c}); err != nil {
		return err
	}
	return a.record(ctx, property, audit.UserBan, c, func(e *audit.Event) { e.TargetIDs = []string{user} })
}

// Unban implements platform.Actions.
func (a *Actions) Unban(ctx context.Context, property, user string, c platform.Cause) error {
	if err := a.call(Call{Method: "Unban", Property: property, User: user, Cause: c}); err != nil {
		return err
	}
	return a.record(ctx, property, audit.UserBanRemove, c, func(e *audit.Event) { e.TargetIDs = []string{user} })
}

// AddRole implements platform.Actions; on Telegram it returns ErrUnsupported.
func (a *Actions) AddRole(ctx context.Context, property, user, role string, c platform.Cause) error {
	return a.role(ctx, "AddRole", property, user, role, c)
}

// RemoveRole implements platform.Actions; on Telegram it returns ErrUnsupported.
func (a *Actions) RemoveRole(ctx context.Context, property, user, role string, c platform.Cause) error {
	return a.role(ctx, "RemoveRole", property, user, role, c)
}

func (a *Actions) role(ctx context.Context, method, property, user, role string, c platform.Cause) error {
	if a.P == audit.Telegram {
		return fmt.Errorf("telegram roles: %w", platform.ErrUnsupported)
	}
	if err := a.call(Call{Method: method, Property: property, User: user, Role: role, Cause: c}); err != nil {
		return err
	}
	return a.record(ctx, property, audit.UserUpdate, c, func(e *audit.Event) {
		e.TargetIDs = []string{user}
		e.Params.Set(audit.ParamField, "roles")
		if method == "AddRole" {
			e.Params.Set(audit.ParamRolesAdded, role)
		} else {
			e.Params.Set(audit.ParamRolesRemoved, role)
		}
	})
}

// Send implements platform.Actions: it records nothing (the bot's own posts are
// not audit events) and returns ids "m1", "m2" ...
func (a *Actions) Send(ctx context.Context, property, channel string, m platform.Message) (string, error) {
	if err := a.call(Call{Method: "Send", Property: property, Channel: channel, Sent: m}); err != nil {
		return "", err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next++
	id := fmt.Sprintf("m%d", a.next)
	a.calls[len(a.calls)-1].Message = id
	return id, nil
}

// Directory is a fake moderation.Directory (which also serves as a
// verification directory). Set its fields before use, or use the methods
// while engines run.
type Directory struct {
	SelfID, SelfName string

	mu      sync.Mutex
	staff   map[string][]moderation.Member // by property
	admins  map[string]bool                // property + "/" + user
	roles   map[string][]string            // property + "/" + user
	invites map[string][]string            // by property
	names   map[string][]string            // property + "/" + user
}

var (
	_ moderation.Directory    = (*Directory)(nil)
	_ moderation.RoleLister   = (*Directory)(nil)
	_ moderation.InviteLister = (*Directory)(nil)
	_ moderation.NameLister   = (*Directory)(nil)
)

// NewDirectory returns an empty directory whose bot is "bot"/"chatwarden".
func NewDirectory() *Directory {
	return &Directory{SelfID: "bot", SelfName: "chatwarden", staff: map[string][]moderation.Member{},
		admins: map[string]bool{}, roles: map[string][]string{}, invites: map[string][]string{}, names: map[string][]string{}}
}

// AddStaff adds a staff member (who is also an admin) to property.
func (d *Directory) AddStaff(property, id string, names ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.staff[property] = append(d.staff[property], moderation.Member{ID: id, Names: names})
	d.admins[property+"/"+id] = true
}

// SetAdmin makes user an admin of property (or not).
func (d *Directory) SetAdmin(property, user string, admin bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.admins[property+"/"+user] = admin
}

// SetRoles sets a member's roles.
func (d *Directory) SetRoles(property, user string, roles ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.roles[property+"/"+user] = roles
}

// SetInvites sets the property's own invite codes.
func (d *Directory) SetInvites(property string, codes ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.invites[property] = codes
}

// Self implements moderation.Directory.
func (d *Directory) Self() (string, string) { return d.SelfID, d.SelfName }

// Staff implements moderation.Directory.
func (d *Directory) Staff(_ context.Context, property string) ([]moderation.Member, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.staff[property]), nil
}

// IsAdmin implements moderation.Directory.
func (d *Directory) IsAdmin(_ context.Context, property, user string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.admins[property+"/"+user], nil
}

// MemberRoles implements moderation.RoleLister.
func (d *Directory) MemberRoles(_ context.Context, property, user string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.roles[property+"/"+user]), nil
}

// SetNames sets every name of a member, the displayed one last.
func (d *Directory) SetNames(property, user string, names ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.names[property+"/"+user] = names
}

// MemberNames implements moderation.NameLister.
func (d *Directory) MemberNames(_ context.Context, property, user string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.names[property+"/"+user]), nil
}

// Invites implements moderation.InviteLister.
func (d *Directory) Invites(_ context.Context, property string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.invites[property]), nil
}

// Clock is a clock that moves only when Advance is called. It implements
// clock.Clock.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// At returns a channel that receives once the clock reaches t.
func (c *Clock) At(t time.Time) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !c.now.Before(t) {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{t, ch})
	return ch
}

// Advance moves the clock forward by d, waking the waiters it passes.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !c.now.Before(w.at) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	clear(c.waiters[len(kept):])
	c.waiters = kept
}
