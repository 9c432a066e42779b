package verification

import (
	"fmt"
	"time"

	"github.com/chatwarden/chatwarden/settings"
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
// every property's settings.Community.Verification overrides them field by field
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
func (d Defaults) Resolve(s settings.Community) Defaults {
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

// Keys are the verification settings admins may change from chat (/config
// set on Discord, /settings on Telegram; the channel and role also through
// /config verification).
var Keys = settings.Table{
	settings.Bool("verification.enabled", func(s *settings.Community) **bool { return &vs(s).Enabled }),
	settings.Choice("verification.kind", []string{KindButton, KindMath}, func(s *settings.Community) *string { return &vs(s).Kind }),
	settings.ID("verification.channel", func(s *settings.Community) *string { return &vs(s).ChannelID }),
	settings.ID("verification.role", func(s *settings.Community) *string { return &vs(s).RoleID }),
	settings.Seconds("verification.timeout", MinTimeout, MaxTimeout, func(s *settings.Community) *int { return &vs(s).TimeoutSeconds }),
	settings.Int("verification.max_attempts", 1, MaxMaxAttempts, func(s *settings.Community) *int { return &vs(s).MaxAttempts }),
	settings.Choice("verification.fail_action", []string{FailKick, FailBan}, func(s *settings.Community) *string { return &vs(s).FailAction }),
	settings.Bool("verification.skip_added_by_admin", func(s *settings.Community) **bool { return &vs(s).SkipAddedByAdmin }),
}

// vs is the verification section of s, created on first use.
func vs(s *settings.Community) *settings.Verification {
	if s.Verification == nil {
		s.Verification = &settings.Verification{}
	}
	return s.Verification
}
