package settings

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Scope says who may set a setting.
type Scope uint8

// Scopes.
const (
	// Everywhere: the operator's default in the config file, and each
	// community's own value from chat.
	Everywhere Scope = iota
	// OperatorOnly: the config file only (files on the bot's machine).
	OperatorOnly
	// CommunityOnly: a community's admins only (their channels and roles).
	CommunityOnly
)

// A Def is one engine setting, defined once: its key, what it means, its
// built-in default and its bounds, the field of the engine's operator
// defaults D that the config file fills, and the field of a community's
// settings that its admins fill from chat. The config loader, /config set
// and /settings, the engine's resolution of a community's settings and the
// checks of README.md and config.example.yaml all read the Def.
//
// Adding a setting is one Def in the engine's Defs and the code that uses
// the field.
type Def[D any] struct {
	// Name is the key below the engine's config section
	// ("link_filter.mode"); admins type it as it is.
	Name string
	// Help is one line: what the setting does (the README's "meaning").
	Help string
	// Default is the built-in default as the config file writes it ("10m",
	// "true", "[]"); empty for a community-only setting.
	Default string
	Scope   Scope
	// List is true for a list (a YAML sequence in the config file).
	List bool

	parse func(d *D, v []string) error // the operator's value, checked
	check func(d *D) error             // the value in d is within bounds
	merge func(d *D, c *Community)     // a community's value over d's
	key   Key                          // the community's value from chat
}

// Defs are one engine's settings, in the order they are documented.
type Defs[D any] []Def[D]

// Names lists the settings' keys in order.
func (ds Defs[D]) Names() []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Name
	}
	return out
}

// Find returns the setting called name.
func (ds Defs[D]) Find(name string) (Def[D], bool) {
	i := slices.IndexFunc(ds, func(d Def[D]) bool { return d.Name == name })
	if i < 0 {
		return Def[D]{}, false
	}
	return ds[i], true
}

// Builtin returns the built-in defaults: every setting's Default parsed
// into a zero D. It panics on a Default its own Def refuses, a programming
// error that every test run finds.
func (ds Defs[D]) Builtin() D {
	var d D
	for _, def := range ds {
		if def.Scope == CommunityOnly {
			continue
		}
		var v []string
		if def.List {
			v = nil // lists default to empty
		} else {
			v = []string{def.Default}
		}
		if err := def.parse(&d, v); err != nil {
			panic(fmt.Sprintf("settings: the default of %s: %v", def.Name, err))
		}
	}
	return d
}

// SetDefault sets the operator's value of name from the config file: one
// item for a scalar, the items of a list. The error says what is allowed
// and names neither the key nor the file (the caller does).
func (ds Defs[D]) SetDefault(d *D, name string, v []string) error {
	def, ok := ds.Find(name)
	if !ok || def.Scope == CommunityOnly {
		return fmt.Errorf("%w: %q", ErrUnknown, name)
	}
	switch {
	case !def.List && len(v) == 0:
		return fmt.Errorf("%w: a value is needed", ErrBadValue)
	case !def.List && len(v) > 1:
		return fmt.Errorf("%w: a single value is expected, not a list", ErrBadValue)
	}
	return def.parse(d, v)
}

// Check reports the first operator value out of bounds, naming its key.
func (ds Defs[D]) Check(d *D) error {
	for _, def := range ds {
		if def.Scope == CommunityOnly || def.check == nil {
			continue
		}
		if err := def.check(d); err != nil {
			return fmt.Errorf("%s: %w", def.Name, err)
		}
	}
	return nil
}

// Resolve returns the settings in force for a community: d with every
// value c sets in its place, and c's lists added to d's. Lists are copied,
// so the result shares no slice with d.
func (ds Defs[D]) Resolve(d D, c Community) D {
	c = c.Clone() // the getters create the sections they read
	for _, def := range ds {
		def.merge(&d, &c)
	}
	return d
}

// Table returns the settings a community's admins may change from chat.
func (ds Defs[D]) Table() Table {
	var t Table
	for _, def := range ds {
		if def.Scope != OperatorOnly {
			t = append(t, def.key)
		}
	}
	return t
}

// OperatorOnly returns def for the config file only.
func (def Def[D]) OperatorOnly() Def[D] { def.Scope = OperatorOnly; return def }

// CommunityOnly returns def for communities only.
func (def Def[D]) CommunityOnly() Def[D] { def.Scope, def.Default = CommunityOnly, ""; return def }

// valueError is the message of a bad value, without ErrBadValue's prefix.
func valueError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadValue}, args...)...)
}

// BoolDef is an on/off setting.
func BoolDef[D any](name string, def bool, help string, op func(*D) *bool, over func(*Community) **bool) Def[D] {
	return Def[D]{Name: name, Help: help, Default: strconv.FormatBool(def),
		parse: func(d *D, v []string) error {
			b, err := ParseBool(v[0])
			if err != nil || b == nil {
				return valueError("%q is not true or false", v[0])
			}
			*op(d) = *b
			return nil
		},
		merge: func(d *D, c *Community) {
			if b := *over(c); b != nil {
				*op(d) = *b
			}
		},
		key: Bool(name, over)}
}

// IntDef is a whole number within lo..hi (lo ≥ 1: a community's 0 is the
// operator's value).
func IntDef[D any](name string, lo, hi, def int, help string, op func(*D) *int, over func(*Community) *int) Def[D] {
	in := func(n int) bool { return n >= lo && n <= hi }
	return Def[D]{Name: name, Help: help, Default: strconv.Itoa(def),
		parse: func(d *D, v []string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v[0]))
			if err != nil || !in(n) {
				return valueError("%q is not a whole number within %d..%d", v[0], lo, hi)
			}
			*op(d) = n
			return nil
		},
		check: func(d *D) error {
			if !in(*op(d)) {
				return valueError("%d is not within %d..%d", *op(d), lo, hi)
			}
			return nil
		},
		merge: func(d *D, c *Community) {
			if n := *over(c); in(n) {
				*op(d) = n
			}
		},
		key: Int(name, lo, hi, over)}
}

// DurationDef is a duration within lo..hi; a community's value is kept as
// whole seconds (see ParseSeconds for what may be written).
func DurationDef[D any](name string, lo, hi, def time.Duration, help string, op func(*D) *time.Duration, over func(*Community) *int) Def[D] {
	in := func(t time.Duration) bool { return t >= lo && t <= hi }
	return Def[D]{Name: name, Help: help, Default: compactDuration(def),
		parse: func(d *D, v []string) error {
			n, err := ParseSeconds(v[0], lo, hi)
			if err != nil {
				return err
			}
			if n == 0 {
				return valueError("a duration within %s..%s is needed", lo, hi)
			}
			*op(d) = time.Duration(n) * time.Second
			return nil
		},
		check: func(d *D) error {
			if !in(*op(d)) {
				return valueError("%s is not within %s..%s", *op(d), lo, hi)
			}
			return nil
		},
		merge: func(d *D, c *Community) {
			if t := time.Duration(*over(c)) * time.Second; t > 0 && in(t) {
				*op(d) = t
			}
		},
		key: Seconds(name, lo, hi, over)}
}

// ChoiceDef is one of choices.
func ChoiceDef[D any](name string, choices []string, def, help string, op func(*D) *string, over func(*Community) *string) Def[D] {
	return Def[D]{Name: name, Help: help, Default: def,
		parse: func(d *D, v []string) error {
			s := strings.ToLower(strings.TrimSpace(v[0]))
			if !slices.Contains(choices, s) {
				return valueError("%q is not one of %s", v[0], strings.Join(choices, ", "))
			}
			*op(d) = s
			return nil
		},
		check: func(d *D) error {
			if !slices.Contains(choices, *op(d)) {
				return valueError("%q is not one of %s", *op(d), strings.Join(choices, ", "))
			}
			return nil
		},
		merge: func(d *D, c *Community) {
			if s := *over(c); slices.Contains(choices, s) {
				*op(d) = s
			}
		},
		key: Choice(name, choices, over)}
}

// ListDef is a list: the operator's items apply everywhere, and a
// community's own items are added to them. With no community field (over
// nil) it is for the operator only.
func ListDef[D any](name, help string, op func(*D) *[]string, over func(*Community) *[]string) Def[D] {
	def := Def[D]{Name: name, Help: help, Default: "[]", List: true,
		parse: func(d *D, v []string) error {
			var items []string
			for _, s := range v {
				if s = strings.TrimSpace(s); s != "" && !slices.Contains(items, s) {
					items = append(items, s)
				}
			}
			*op(d) = items
			return nil
		},
		merge: func(d *D, c *Community) {
			var own []string
			if over != nil {
				own = *over(c)
			}
			*op(d) = append(slices.Clone(*op(d)), own...)
		}}
	if over == nil {
		def.Scope = OperatorOnly
	} else {
		def.key = List(name, over)
	}
	return def
}

// IDDef is a platform id a community sets (a channel, a role); it has no
// operator default.
func IDDef[D any](name, help string, op func(*D) *string, over func(*Community) *string) Def[D] {
	return Def[D]{Name: name, Help: help, Scope: CommunityOnly,
		merge: func(d *D, c *Community) {
			if v := *over(c); v != "" {
				*op(d) = v
			}
		},
		key: ID(name, over)}
}

// compactDuration writes d as the config file would: "10m", "24h", "1h30m".
func compactDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
