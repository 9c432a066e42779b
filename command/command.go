// Package command holds the platform-neutral cores of chatwarden's chat
// commands: parsing a search, running it scoped to the caller's property,
// and changing a property's settings with a SETTINGS_CHANGE record. Each
// platform's handler is a thin adapter that reads its own command syntax,
// checks the caller's permission, and renders the result.
package command

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// ErrBadArgument is wrapped by errors about a command's arguments; the
// message names the argument and is safe to show the caller.
var ErrBadArgument = errors.New("bad argument")

func bad(arg, format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrBadArgument, arg, fmt.Sprintf(format, a...))
}

// Explain turns a command's error into a sentence for the chat: a bad
// argument's message without the error chain before it ("bad argument:
// chat: chatwarden cannot see …" reads "Chatwarden cannot see …."), a
// setting's key kept where it names what was wrong. Other errors are not
// for the caller: fallback is returned, and the caller logs err.
func Explain(err error, fallback string) string {
	if err == nil || !errors.Is(err, ErrBadArgument) {
		return fallback
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ErrBadArgument.Error()+": "); i >= 0 {
		msg = msg[i+len(ErrBadArgument.Error())+2:]
	}
	if arg, rest, ok := strings.Cut(msg, ": "); ok && rest != "" && !strings.ContainsAny(arg, " ._") {
		// A plain argument name: the rest says it, or reads on from it.
		msg = rest
		if strings.HasPrefix(rest, `"`) {
			msg = arg + ": " + rest // what was typed, and where
		}
		for _, verb := range []string{"must ", "is ", "has "} {
			if strings.HasPrefix(rest, verb) {
				msg = arg + " " + rest
			}
		}
		msg = upperFirst(msg)
	}
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return fallback
	}
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") && !strings.HasSuffix(msg, "!") {
		msg += "."
	}
	return msg
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError || !unicode.IsLower(r) {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// Search is a search as a member typed it.
type Search struct {
	Types   string // comma-separated types or presets
	User    string
	Channel string
	Since   string // "24h", "7d", RFC 3339 or a date
	Until   string
	Limit   int // 0: 10
}

// Scope is where a command runs: one property. Every query a command
// makes is built from it, never from the caller's input.
type Scope struct {
	Platform audit.Platform
	Property string
}

// Query turns a search into a store query scoped to one property.
func (s Search) Query(scope Scope, now time.Time) (store.Query, error) {
	q := store.Query{Platform: scope.Platform, Property: scope.Property, User: s.User, Channel: s.Channel, Limit: s.Limit}
	if q.Limit == 0 {
		q.Limit = 10
	}
	if q.Limit < 1 || q.Limit > store.MaxLimit {
		return q, bad("limit", "must be within 1..%d", store.MaxLimit)
	}
	types, err := ParseTypes(s.Types)
	if err != nil {
		return q, err
	}
	q.Types = types
	if q.Since, err = ParseTime(s.Since, now); err != nil {
		return q, bad("since", "%v", err)
	}
	if q.Until, err = ParseTime(s.Until, now); err != nil {
		return q, bad("until", "%v", err)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, bad("since", "must be before until")
	}
	return q, nil
}

// ParseTypes reads comma-separated event types or presets (all, the
// categories members, messages, moderation, server, and roles,
// permissions, voice, automod: audit.Preset); empty means every type.
func ParseTypes(s string) ([]audit.EventType, error) {
	var out []audit.EventType
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if preset, ok := audit.Preset(strings.ToLower(name)); ok {
			if preset == nil {
				return nil, nil
			}
			out = append(out, preset...)
			continue
		}
		t, err := audit.ParseEventType(name)
		if err != nil {
			return nil, bad("type", "%q is not an event type or preset", name)
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ParseTime reads "24h", "7d" (that long ago), a date, or RFC 3339.
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 36500 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (24h, 7d) nor a time (2026-11-01 or RFC 3339)", s)
}

// Admin is the member changing settings.
type Admin struct {
	ID, Name string
}

// Settings changes a property's settings and records each change.
type Settings struct {
	Store    *store.Store
	Router   *logchannel.Router
	Recorder *recorder.Recorder
	// ChannelName, when set, names a log channel as the platform shows it
	// (a Telegram chat's title, a Discord channel's #name), so that the
	// record of a log channel's change names it; "" when unknown.
	ChannelName func(channel string) string
}

// change applies fn, publishes the new settings to the router and records
// SETTINGS_CHANGE with the old and new value of the setting.
func (c *Settings) change(ctx context.Context, scope Scope, admin Admin, setting string,
	fn func(*settings.Community) error, value func(settings.Community) string, marks ...func(*audit.Event)) (settings.Community, error) {
	old, updated, err := c.Store.UpdateSettings(ctx, scope.Platform, scope.Property, fn)
	if err != nil {
		return old, err
	}
	if c.Router != nil {
		c.Router.Update(scope.Platform, scope.Property, updated)
	}
	e := &audit.Event{Platform: scope.Platform, PropertyID: scope.Property, Type: audit.SettingsChange,
		PlatformType: "command", Function: audit.FuncCommand, ActorType: audit.ActorAdmin,
		ActorID: admin.ID, ActorName: admin.Name}
	e.Params.Set(audit.ParamSetting, setting)
	e.Params.Set(audit.ParamOldValue, value(old))
	e.Params.Set(audit.ParamNewValue, value(updated))
	for _, mark := range marks {
		mark(e)
	}
	if err := c.Recorder.Record(ctx, e); err != nil {
		return updated, fmt.Errorf("record the settings change: %w", err)
	}
	return updated, nil
}

// SetLogChannel routes types (a list or presets; empty: all) to a channel
// and resumes it if it was paused.
func (c *Settings) SetLogChannel(ctx context.Context, scope Scope, admin Admin, channel, types string) (settings.Community, error) {
	ts, err := ParseTypes(types)
	if err != nil {
		return settings.Community{}, err
	}
	if channel == "" {
		return settings.Community{}, bad("channel", "is required")
	}
	return c.change(ctx, scope, admin, "log_channel:"+channel, func(s *settings.Community) error {
		if lc := s.LogChannel(channel); lc != nil {
			lc.Types, lc.Paused, lc.PausedAt = ts, "", time.Time{}
			return nil
		}
		if len(s.LogChannels) >= 10 {
			return bad("channel", "at most 10 log channels per community")
		}
		s.LogChannels = append(s.LogChannels, settings.LogChannel{ID: channel, Types: ts})
		return nil
	}, func(s settings.Community) string { return describeChannel(s.LogChannel(channel)) }, c.nameLogChannel(channel))
}

// nameLogChannel marks a log channel's SETTINGS_CHANGE with its name.
func (c *Settings) nameLogChannel(channel string) func(*audit.Event) {
	return func(e *audit.Event) {
		if c.ChannelName != nil {
			e.Params.Set(audit.ParamLogChannelName, c.ChannelName(channel))
		}
	}
}

// RemoveLogChannel stops routing to a channel.
func (c *Settings) RemoveLogChannel(ctx context.Context, scope Scope, admin Admin, channel string) (settings.Community, error) {
	return c.change(ctx, scope, admin, "log_channel:"+channel, func(s *settings.Community) error {
		i := slices.IndexFunc(s.LogChannels, func(l settings.LogChannel) bool { return l.ID == channel })
		if i < 0 {
			return bad("channel", "is not a log channel")
		}
		s.LogChannels = slices.Delete(s.LogChannels, i, i+1)
		return nil
	}, func(s settings.Community) string { return describeChannel(s.LogChannel(channel)) }, c.nameLogChannel(channel))
}

// SetLocale sets the language of the property's log entries.
func (c *Settings) SetLocale(ctx context.Context, scope Scope, admin Admin, locale string) (settings.Community, error) {
	if !logentry.ValidLocale(locale) {
		return settings.Community{}, bad("locale", "must be one of %s", strings.Join(logentry.Locales(), ", "))
	}
	return c.change(ctx, scope, admin, "locale", func(s *settings.Community) error {
		s.Locale = locale
		return nil
	}, func(s settings.Community) string { return s.Locale })
}

func describeChannel(lc *settings.LogChannel) string {
	if lc == nil {
		return ""
	}
	if len(lc.Types) == 0 {
		return "all"
	}
	names := make([]string, len(lc.Types))
	for i, t := range lc.Types {
		names[i] = t.String()
	}
	return strings.Join(names, ",")
}

// Show describes a property's settings for /config show and /settings.
func Show(s settings.Community, defaultLocale string) []string {
	locale := s.Locale
	if locale == "" {
		locale = defaultLocale + " (default)"
	}
	out := []string{"locale: " + locale}
	if len(s.LogChannels) == 0 {
		out = append(out, "log channels: none")
	}
	for _, lc := range s.LogChannels {
		line := fmt.Sprintf("log channel %s: %s", lc.ID, describeChannel(&lc))
		if lc.Paused != "" {
			line += " — PAUSED: " + lc.Paused
		}
		out = append(out, line)
	}
	if s.RetentionDays > 0 {
		out = append(out, fmt.Sprintf("retention: %d days", s.RetentionDays))
	}
	return out
}

// Pages keeps the state of paged results (the filters and cursors behind
// Older/Newer buttons) in the store under a short random id, so that a
// button's data stays short and carries nothing the presser could alter to
// reach another property.
type Pages struct {
	Store *store.Store
	// Now is the time source for the buttons' age (time.Now when nil).
	Now func() time.Time
}

// Why Pages.Load refuses a press. Their texts are for logs; PageRefusal
// says each to the presser as a sentence.
var (
	ErrPageExpired    = errors.New("page state expired or unknown")
	ErrPageUnreadable = errors.New("page state unreadable")
	ErrPageElsewhere  = errors.New("page state of another community")
	ErrPageNotYours   = errors.New("page state of another member")
)

// PageRefusal says to the presser, as a sentence without error chains, why
// an Older/Newer button did not work (an error of Pages.Load); fallback
// for anything else.
func PageRefusal(err error, fallback string) string {
	switch {
	case errors.Is(err, ErrPageExpired), errors.Is(err, ErrPageUnreadable):
		return "These results have expired; run the search again."
	case errors.Is(err, ErrPageElsewhere):
		return "These results belong to another community."
	case errors.Is(err, ErrPageNotYours):
		return "Only the member who searched can page through these results."
	}
	return fallback
}

func (p *Pages) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// PageState is what a pager button refers to.
type PageState struct {
	Scope   Scope       `json:"scope"`
	Invoker string      `json:"invoker"`
	Query   store.Query `json:"query"`
	Created time.Time   `json:"created"`
}

const nsPages = "command/pages"

// PageTTL is how long Older/Newer buttons keep working.
const PageTTL = 24 * time.Hour

// Save stores a page state and returns its id.
func (p *Pages) Save(st PageState) (string, error) {
	var raw [9]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("save page state: id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	st.Created = p.now()
	v, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("save page state: %w", err)
	}
	if err := p.Store.Put(nsPages, []byte(id), v); err != nil {
		return "", fmt.Errorf("save page state: %w", err)
	}
	return id, nil
}

// Load returns a page state if it exists, is fresh, belongs to scope and
// was created by presser. Its errors wrap ErrPageExpired,
// ErrPageUnreadable, ErrPageElsewhere or ErrPageNotYours (PageRefusal).
func (p *Pages) Load(id string, scope Scope, presser string) (PageState, error) {
	var st PageState
	v, err := p.Store.GetKV(nsPages, []byte(id))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return st, fmt.Errorf("load page %q: %w", id, ErrPageExpired)
	case err != nil:
		return st, fmt.Errorf("load page %q: %w", id, err)
	}
	if err := json.Unmarshal(v, &st); err != nil {
		return st, fmt.Errorf("load page %q: %w: %w", id, ErrPageUnreadable, err)
	}
	switch {
	case st.Scope != scope:
		return st, fmt.Errorf("load page %q: %w", id, ErrPageElsewhere)
	case st.Invoker != presser:
		return st, fmt.Errorf("load page %q: %w", id, ErrPageNotYours)
	case p.now().Sub(st.Created) > PageTTL:
		return st, fmt.Errorf("load page %q: %w", id, ErrPageExpired)
	}
	return st, nil
}
