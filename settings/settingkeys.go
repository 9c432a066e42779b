package settings

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// ErrUnknownSetting is returned for a key no SettingTable holds.
var ErrUnknown = errors.New("unknown setting")

// ErrBadValue is wrapped by the errors about a value an admin typed; the
// message says what is allowed and is safe to show them.
var ErrBadValue = errors.New("bad value")

// A SettingKey is one per-property setting an admin may change from chat
// ("link_filter.mode", "verification.timeout"): how to show its value in
// the form an admin types it, and how to set it from what they typed.
// "default" (or an empty value) returns a key to the operator's default,
// which every key shows as "".
type Key struct {
	Name string
	get  func(s *Community) string
	set  func(s *Community, v string) error
}

// NewSettingKey makes a key from its own getter and setter. The getter may
// create the sections it reads: it runs on a copy.
func NewKey(name string, get func(s *Community) string, set func(s *Community, v string) error) Key {
	return Key{Name: name, get: get, set: set}
}

// SettingTable is the keys one part of the bot (an engine, the privacy
// settings) lets admins change.
type Table []Key

// Names lists the table's keys in order.
func (t Table) Names() []string {
	out := make([]string, len(t))
	for i, k := range t {
		out[i] = k.Name
	}
	return out
}

// Has reports whether the table holds name (already lower-cased and
// trimmed).
func (t Table) Has(name string) bool {
	return slices.ContainsFunc(t, func(k Key) bool { return k.Name == name })
}

func (t Table) find(name string) (Key, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, k := range t {
		if k.Name == name {
			return k, nil
		}
	}
	return Key{}, fmt.Errorf("%w: %q", ErrUnknown, name)
}

// Get returns the property's own value of name, "" when it follows the
// operator's default. It never changes s.
func (t Table) Get(s Community, name string) (string, error) {
	k, err := t.find(name)
	if err != nil {
		return "", err
	}
	c := s.Clone()
	return k.get(&c), nil
}

// Set sets the property's value of name from what an admin typed. Errors
// about the value wrap ErrBadValue and name the key.
func (t Table) Set(s *Community, name, value string) error {
	k, err := t.find(name)
	if err != nil {
		return err
	}
	if err := k.set(s, value); err != nil {
		return fmt.Errorf("%s: %w", k.Name, err)
	}
	return nil
}

// isDefault reports whether an admin asked for the operator's default.
func isDefault(v string) bool {
	v = strings.TrimSpace(v)
	return v == "" || strings.EqualFold(v, "default")
}

// BoolSetting is an on/off key; unset (nil) follows the default.
func Bool(name string, field func(s *Community) **bool) Key {
	return NewKey(name,
		func(s *Community) string { return FormatBool(*field(s)) },
		func(s *Community, v string) error {
			b, err := ParseBool(v)
			if err == nil {
				*field(s) = b
			}
			return err
		})
}

// IntSetting is a whole number within lo..hi (lo ≥ 1: 0 is the default).
func Int(name string, lo, hi int, field func(s *Community) *int) Key {
	return NewKey(name,
		func(s *Community) string { return formatInt(*field(s)) },
		func(s *Community, v string) error {
			if isDefault(v) {
				*field(s) = 0
				return nil
			}
			v = strings.TrimSpace(v)
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				return fmt.Errorf("%w: %q is not a whole number within %d..%d", ErrBadValue, v, lo, hi)
			}
			*field(s) = n
			return nil
		})
}

// SecondsSetting is a duration within lo..hi kept as whole seconds (see
// ParseSeconds for what an admin may type).
func Seconds(name string, lo, hi time.Duration, field func(s *Community) *int) Key {
	return NewKey(name,
		func(s *Community) string { return FormatSeconds(*field(s)) },
		func(s *Community, v string) error {
			n, err := ParseSeconds(v, lo, hi)
			if err == nil {
				*field(s) = n
			}
			return err
		})
}

// ListSetting is a comma- or line-separated list that replaces the
// property's list (see ParseList).
func List(name string, field func(s *Community) *[]string) Key {
	return NewKey(name,
		func(s *Community) string { return strings.Join(*field(s), ",") },
		func(s *Community, v string) error {
			*field(s) = ParseList(v)
			return nil
		})
}

// ChoiceSetting is one of choices, matched without regard to case.
func Choice(name string, choices []string, field func(s *Community) *string) Key {
	return NewKey(name,
		func(s *Community) string { return *field(s) },
		func(s *Community, v string) error {
			v = strings.ToLower(strings.TrimSpace(v))
			if isDefault(v) {
				v = ""
			}
			if v != "" && !slices.Contains(choices, v) {
				return fmt.Errorf("%w: %q is not one of %s", ErrBadValue, v, strings.Join(choices, ", "))
			}
			*field(s) = v
			return nil
		})
}

// IDSetting is a platform id (a channel or a role), also accepted in
// Discord's mention forms <#id> and <@&id>.
func ID(name string, field func(s *Community) *string) Key {
	return NewKey(name,
		func(s *Community) string { return *field(s) },
		func(s *Community, v string) error {
			v = strings.TrimSpace(v)
			if isDefault(v) {
				v = ""
			}
			if inner, ok := strings.CutPrefix(v, "<"); ok {
				inner = strings.TrimPrefix(strings.TrimPrefix(inner, "#"), "@&")
				if inner, ok = strings.CutSuffix(inner, ">"); ok {
					v = inner
				}
			}
			if len(v) > audit.MaxIDLen || strings.ContainsAny(v, " \t\r\n<>") {
				return fmt.Errorf("%w: %q is not an id", ErrBadValue, v)
			}
			*field(s) = v
			return nil
		})
}

// ParseBool reads on/off, true/false, yes/no, 1/0, enable(d)/disable(d);
// "default" or "" is nil.
func ParseBool(v string) (*bool, error) {
	t, f := true, false
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "default":
		return nil, nil
	case "on", "true", "yes", "1", "enable", "enabled":
		return &t, nil
	case "off", "false", "no", "0", "disable", "disabled":
		return &f, nil
	}
	return nil, fmt.Errorf("%w: %q is not on or off", ErrBadValue, v)
}

// FormatBool writes a *bool as ParseBool reads it ("" for nil).
func FormatBool(b *bool) string {
	switch {
	case b == nil:
		return ""
	case *b:
		return "on"
	}
	return "off"
}

func formatInt(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// ParseSeconds reads a duration ("90s", "10m", "2h", "7d", or a number of
// seconds) within lo..hi and returns whole seconds; "default" or "" is 0.
func ParseSeconds(v string, lo, hi time.Duration) (int, error) {
	if isDefault(v) {
		return 0, nil
	}
	v = strings.TrimSpace(v)
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%w: %q is not a duration (write it like 90s, 10m, 2h or 7d)", ErrBadValue, v)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, fmt.Errorf("%w: %q is not a duration (write it like 90s, 10m, 2h or 7d)", ErrBadValue, v)
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("%w: %s is not within %s..%s", ErrBadValue, d, lo, hi)
	}
	return int(d / time.Second), nil
}

// FormatSeconds writes seconds as a duration ("" for 0).
func FormatSeconds(n int) string {
	if n == 0 {
		return ""
	}
	return (time.Duration(n) * time.Second).String()
}

// ParseList splits a comma- or line-separated list, trimming blanks and
// dropping empty items and duplicates; "default" or "" is nil.
func ParseList(v string) []string {
	if strings.EqualFold(strings.TrimSpace(v), "default") {
		return nil
	}
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' }) {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
