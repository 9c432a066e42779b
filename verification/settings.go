package verification

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/bot"
)

// Challenge kinds.
const (
	KindButton = "button" // one confirmation button
	KindMath   = "math"   // a sum with four answer buttons
)

// What happens to a member who fails.
const (
	FailKick = "kick"
	FailBan  = "ban"
)

// Defaults are the operator's verification settings from the config file;
// every property's bot.Settings.Verification overrides them field by field
// (see Resolve). The yaml keys are those of the config file.
type Defaults struct {
	Enabled     bool          `yaml:"enabled"`
	Kind        string        `yaml:"kind"`
	Timeout     time.Duration `yaml:"timeout"`
	MaxAttempts int           `yaml:"max_attempts"`
	FailAction  string        `yaml:"fail_action"`
	// SkipAddedByAdmin lets members an admin added skip the challenge.
	SkipAddedByAdmin bool `yaml:"skip_added_by_admin"`

	// Per property only (Discord).
	ChannelID string `yaml:"-"`
	RoleID    string `yaml:"-"`
}

// BuiltinDefaults returns the defaults for keys the config file does not
// set. Verification is off until a property's admins turn it on.
func BuiltinDefaults() Defaults {
	return Defaults{Kind: KindButton, Timeout: 5 * time.Minute, MaxAttempts: 3, FailAction: FailKick,
		SkipAddedByAdmin: true}
}

// Limits of the settings.
const (
	MinTimeout     = 30 * time.Second
	MaxTimeout     = 24 * time.Hour
	MaxMaxAttempts = 10
)

// Validate reports the first invalid default, naming its config key.
func (d Defaults) Validate() error {
	switch {
	case d.Kind != KindButton && d.Kind != KindMath:
		return fmt.Errorf("verification.kind: %q is neither %s nor %s", d.Kind, KindButton, KindMath)
	case d.Timeout < MinTimeout || d.Timeout > MaxTimeout:
		return fmt.Errorf("verification.timeout: must be within %s..%s", MinTimeout, MaxTimeout)
	case d.MaxAttempts < 1 || d.MaxAttempts > MaxMaxAttempts:
		return fmt.Errorf("verification.max_attempts: must be within 1..%d", MaxMaxAttempts)
	case d.FailAction != FailKick && d.FailAction != FailBan:
		return fmt.Errorf("verification.fail_action: %q is neither %s nor %s", d.FailAction, FailKick, FailBan)
	}
	return nil
}

// Resolve returns the settings in force for a property: d with every field
// s sets replaced.
func (d Defaults) Resolve(s bot.Settings) Defaults {
	out := d
	o := s.Verification
	if o == nil {
		return out
	}
	if o.Enabled != nil {
		out.Enabled = *o.Enabled
	}
	if o.Kind == KindButton || o.Kind == KindMath {
		out.Kind = o.Kind
	}
	if t := time.Duration(o.TimeoutSeconds) * time.Second; t >= MinTimeout && t <= MaxTimeout {
		out.Timeout = t
	}
	if o.MaxAttempts >= 1 && o.MaxAttempts <= MaxMaxAttempts {
		out.MaxAttempts = o.MaxAttempts
	}
	if o.FailAction == FailKick || o.FailAction == FailBan {
		out.FailAction = o.FailAction
	}
	if o.SkipAddedByAdmin != nil {
		out.SkipAddedByAdmin = *o.SkipAddedByAdmin
	}
	out.ChannelID, out.RoleID = o.ChannelID, o.RoleID
	return out
}

// ErrUnknownSetting is returned for a key that is not a verification
// setting.
var ErrUnknownSetting = errors.New("unknown setting")

// ErrBadValue is wrapped by SetSetting's errors about a value; the message
// says what is allowed and is safe to show an admin.
var ErrBadValue = errors.New("bad value")

type setting struct {
	key string
	get func(v *bot.VerificationSettings) string
	set func(v *bot.VerificationSettings, s string) error
}

func isDefault(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || strings.EqualFold(s, "default")
}

func choice(key string, choices []string, field func(v *bot.VerificationSettings) *string) setting {
	return setting{key: key,
		get: func(v *bot.VerificationSettings) string { return *field(v) },
		set: func(v *bot.VerificationSettings, s string) error {
			s = strings.ToLower(strings.TrimSpace(s))
			if isDefault(s) {
				s = ""
			}
			if s != "" && !slices.Contains(choices, s) {
				return fmt.Errorf("%s: %w: %q is not one of %s", key, ErrBadValue, s, strings.Join(choices, ", "))
			}
			*field(v) = s
			return nil
		}}
}

func flag(key string, field func(v *bot.VerificationSettings) **bool) setting {
	return setting{key: key,
		get: func(v *bot.VerificationSettings) string {
			switch b := *field(v); {
			case b == nil:
				return ""
			case *b:
				return "on"
			}
			return "off"
		},
		set: func(v *bot.VerificationSettings, s string) error {
			t, f := true, false
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "", "default":
				*field(v) = nil
			case "on", "true", "yes", "1", "enable", "enabled":
				*field(v) = &t
			case "off", "false", "no", "0", "disable", "disabled":
				*field(v) = &f
			default:
				return fmt.Errorf("%s: %w: %q is not on or off", key, ErrBadValue, s)
			}
			return nil
		}}
}

func id(key string, field func(v *bot.VerificationSettings) *string) setting {
	return setting{key: key,
		get: func(v *bot.VerificationSettings) string { return *field(v) },
		set: func(v *bot.VerificationSettings, s string) error {
			s = strings.TrimSpace(s)
			if isDefault(s) {
				s = ""
			}
			// Accept Discord's mention forms <#id> and <@&id>.
			s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(s, "<#"), "<@&"), "<"), ">")
			if len(s) > bot.MaxIDLen || strings.ContainsAny(s, " \t\n") {
				return fmt.Errorf("%s: %w: %q is not an id", key, ErrBadValue, s)
			}
			*field(v) = s
			return nil
		}}
}

var settings = []setting{
	flag("verification.enabled", func(v *bot.VerificationSettings) **bool { return &v.Enabled }),
	choice("verification.kind", []string{KindButton, KindMath}, func(v *bot.VerificationSettings) *string { return &v.Kind }),
	id("verification.channel", func(v *bot.VerificationSettings) *string { return &v.ChannelID }),
	id("verification.role", func(v *bot.VerificationSettings) *string { return &v.RoleID }),
	{key: "verification.timeout",
		get: func(v *bot.VerificationSettings) string {
			if v.TimeoutSeconds == 0 {
				return ""
			}
			return (time.Duration(v.TimeoutSeconds) * time.Second).String()
		},
		set: func(v *bot.VerificationSettings, s string) error {
			if isDefault(s) {
				v.TimeoutSeconds = 0
				return nil
			}
			s = strings.TrimSpace(s)
			d, err := time.ParseDuration(s)
			if n, aerr := strconv.Atoi(s); aerr == nil {
				d, err = time.Duration(n)*time.Second, nil
			}
			if err != nil || d < MinTimeout || d > MaxTimeout {
				return fmt.Errorf("verification.timeout: %w: %q is not a duration within %s..%s", ErrBadValue, s, MinTimeout, MaxTimeout)
			}
			v.TimeoutSeconds = int(d / time.Second)
			return nil
		}},
	{key: "verification.max_attempts",
		get: func(v *bot.VerificationSettings) string {
			if v.MaxAttempts == 0 {
				return ""
			}
			return strconv.Itoa(v.MaxAttempts)
		},
		set: func(v *bot.VerificationSettings, s string) error {
			if isDefault(s) {
				v.MaxAttempts = 0
				return nil
			}
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 || n > MaxMaxAttempts {
				return fmt.Errorf("verification.max_attempts: %w: %q is not within 1..%d", ErrBadValue, s, MaxMaxAttempts)
			}
			v.MaxAttempts = n
			return nil
		}},
	choice("verification.fail_action", []string{FailKick, FailBan}, func(v *bot.VerificationSettings) *string { return &v.FailAction }),
	flag("verification.skip_added_by_admin", func(v *bot.VerificationSettings) **bool { return &v.SkipAddedByAdmin }),
}

// SettingKeys lists the verification settings admins may change.
func SettingKeys() []string {
	out := make([]string, len(settings))
	for i, s := range settings {
		out[i] = s.key
	}
	return out
}

func find(key string) (setting, error) {
	key = strings.ToLower(strings.TrimSpace(key))
	for _, s := range settings {
		if s.key == key {
			return s, nil
		}
	}
	return setting{}, fmt.Errorf("%w: %q", ErrUnknownSetting, key)
}

// GetSetting returns the property's own value of key ("" when it uses the
// default).
func GetSetting(s bot.Settings, key string) (string, error) {
	st, err := find(key)
	if err != nil {
		return "", err
	}
	v := bot.VerificationSettings{}
	if s.Verification != nil {
		v = *s.Verification
	}
	return st.get(&v), nil
}

// SetSetting sets the property's value of key from what an admin typed
// (on/off, a duration like 5m, a number, kind and action names, channel
// and role ids or mentions); "default" or "" returns it to the operator's
// default. Commands call it inside store.UpdateSettings and record the
// SETTINGS_CHANGE.
func SetSetting(s *bot.Settings, key, value string) error {
	st, err := find(key)
	if err != nil {
		return err
	}
	if s.Verification == nil {
		s.Verification = &bot.VerificationSettings{}
	}
	return st.set(s.Verification, value)
}
