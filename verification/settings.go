package verification

import (
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

// Defaults are the verification settings in force: the operator's
// defaults from the config file (BuiltinDefaults for keys it does not
// set), and a community's after Resolve. Each field is filled through its
// Def in Settings.
type Defaults struct {
	Enabled     bool
	Kind        string
	Timeout     time.Duration
	MaxAttempts int
	FailAction  string
	// SkipAddedByAdmin lets members an admin added skip the challenge.
	SkipAddedByAdmin bool

	// Per community only (Discord).
	ChannelID string
	RoleID    string
}

// Limits of the settings.
const (
	MinTimeout     = 30 * time.Second
	MaxTimeout     = 24 * time.Hour
	MaxMaxAttempts = 10
)

// Settings are the verification settings, each defined once: the config
// file's verification section, /config set and /settings and the README's
// reference all come from here.
var Settings = settings.Defs[Defaults]{
	settings.BoolDef("verification.enabled", false, "make newcomers verify",
		func(d *Defaults) *bool { return &d.Enabled }, func(s *settings.Community) **bool { return &vs(s).Enabled }),
	settings.ChoiceDef("verification.kind", []string{KindButton, KindMath}, KindButton, "`button` or `math`",
		func(d *Defaults) *string { return &d.Kind }, func(s *settings.Community) *string { return &vs(s).Kind }),
	settings.IDDef("verification.channel", "where the Verify button is posted (Discord)",
		func(d *Defaults) *string { return &d.ChannelID }, func(s *settings.Community) *string { return &vs(s).ChannelID }),
	settings.IDDef("verification.role", "the role granted on success (Discord)",
		func(d *Defaults) *string { return &d.RoleID }, func(s *settings.Community) *string { return &vs(s).RoleID }),
	settings.DurationDef("verification.timeout", MinTimeout, MaxTimeout, 5*time.Minute, "time to pass, 30s–24h",
		func(d *Defaults) *time.Duration { return &d.Timeout }, func(s *settings.Community) *int { return &vs(s).TimeoutSeconds }),
	settings.IntDef("verification.max_attempts", 1, MaxMaxAttempts, 3, "wrong answers allowed, 1–10",
		func(d *Defaults) *int { return &d.MaxAttempts }, func(s *settings.Community) *int { return &vs(s).MaxAttempts }),
	settings.ChoiceDef("verification.fail_action", []string{FailKick, FailBan}, FailKick, "`kick` or `ban` on failure or timeout",
		func(d *Defaults) *string { return &d.FailAction }, func(s *settings.Community) *string { return &vs(s).FailAction }),
	settings.BoolDef("verification.skip_added_by_admin", true, "Telegram: members an admin added skip it",
		func(d *Defaults) *bool { return &d.SkipAddedByAdmin }, func(s *settings.Community) **bool { return &vs(s).SkipAddedByAdmin }),
}

// Keys are the verification settings admins may change from chat (/config
// set on Discord, /settings on Telegram; the channel and role also through
// /config verification).
var Keys = Settings.Table()

// BuiltinDefaults returns the defaults for keys the config file does not
// set. Verification is off until a community's admins turn it on.
func BuiltinDefaults() Defaults { return Settings.Builtin() }

// Validate reports the first invalid default, naming its key.
func (d Defaults) Validate() error { return Settings.Check(&d) }

// Resolve returns the settings in force for a community: d with every
// field s sets replaced.
func (d Defaults) Resolve(s settings.Community) Defaults { return Settings.Resolve(d, s) }

// vs is the verification section of s, created on first use.
func vs(s *settings.Community) *settings.Verification {
	if s.Verification == nil {
		s.Verification = &settings.Verification{}
	}
	return s.Verification
}
