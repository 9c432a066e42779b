package moderation

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/bot"
)

// Defaults are the operator's moderation settings from the config file;
// every property's bot.Settings override them field by field (see
// Resolve). The yaml keys are those of the config file.
type Defaults struct {
	LinkFilter       LinkFilterConfig       `yaml:"link_filter"`
	Impersonation    ImpersonationConfig    `yaml:"impersonation"`
	IntegrationGuard IntegrationGuardConfig `yaml:"integration_guard"`
	RaidGuard        RaidGuardConfig        `yaml:"raid_guard"`
}

// Link filter modes.
const (
	ModeDenylist  = "denylist"  // block listed domains
	ModeAllowlist = "allowlist" // block every domain not listed
)

// LinkFilterConfig configures the link filter.
type LinkFilterConfig struct {
	Enabled bool   `yaml:"enabled"`
	Mode    string `yaml:"mode"`
	// Denylist and Allowlist hold domains; a domain covers its subdomains.
	// The deny list applies in both modes (a denied subdomain of an
	// allowed domain is blocked).
	Denylist  []string `yaml:"denylist"`
	Allowlist []string `yaml:"allowlist"`
	// DenylistFiles are files of one domain a line (hosts-file lines,
	// URLs and # comments are understood), reloaded when they change, so
	// that public phishing-domain lists can be used. Operator only.
	DenylistFiles []string `yaml:"denylist_files"`
	BlockInvites  bool     `yaml:"block_invites"`
	ExemptAdmins  bool     `yaml:"exempt_admins"`
	// Escalation: EscalateAfter violations within EscalateWindow time the
	// member out (Discord) or restrict them (Telegram) for EscalateTimeout.
	Escalate        bool          `yaml:"escalate"`
	EscalateAfter   int           `yaml:"escalate_after"`
	EscalateWindow  time.Duration `yaml:"escalate_window"`
	EscalateTimeout time.Duration `yaml:"escalate_timeout"`

	// Per property only.
	AllowedInvites []string `yaml:"-"`
	ExemptChannels []string `yaml:"-"`
	ExemptRoles    []string `yaml:"-"`
}

// Impersonation guard actions.
const (
	ActionFlag       = "flag"       // record only
	ActionQuarantine = "quarantine" // Discord timeout, Telegram restriction
	ActionKick       = "kick"
	ActionBan        = "ban"
)

// ImpersonationConfig configures the impersonation guard.
type ImpersonationConfig struct {
	Enabled bool   `yaml:"enabled"`
	Action  string `yaml:"action"`
	// ProtectedNames are protected besides the staff's names: the brand,
	// "support", "admin" ...
	ProtectedNames []string      `yaml:"protected_names"`
	Quarantine     time.Duration `yaml:"quarantine"`
}

// IntegrationGuardConfig configures the integration guard.
type IntegrationGuardConfig struct {
	Enabled bool `yaml:"enabled"`
	// Allowlist holds the ids of bots, integrations and webhooks allowed
	// everywhere.
	Allowlist []string `yaml:"allowlist"`
	Kick      bool     `yaml:"kick"`
}

// RaidGuardConfig configures the raid guard: more than Joins joins within
// Window is a raid.
type RaidGuardConfig struct {
	Enabled bool          `yaml:"enabled"`
	Joins   int           `yaml:"joins"`
	Window  time.Duration `yaml:"window"`
}

// BuiltinDefaults returns the defaults used for keys the config file does
// not set.
func BuiltinDefaults() Defaults {
	return Defaults{
		LinkFilter: LinkFilterConfig{Enabled: true, Mode: ModeDenylist, ExemptAdmins: true,
			EscalateAfter: 3, EscalateWindow: 10 * time.Minute, EscalateTimeout: 10 * time.Minute},
		Impersonation:    ImpersonationConfig{Enabled: true, Action: ActionFlag, Quarantine: 24 * time.Hour},
		IntegrationGuard: IntegrationGuardConfig{Enabled: true},
		RaidGuard:        RaidGuardConfig{Enabled: true, Joins: 10, Window: 10 * time.Second},
	}
}

// maxTimeout is the longest Discord timeout.
const maxTimeout = 28 * 24 * time.Hour

// Validate reports the first invalid default, naming its config key.
func (d Defaults) Validate() error {
	lf, im, rg := d.LinkFilter, d.Impersonation, d.RaidGuard
	switch {
	case lf.Mode != ModeDenylist && lf.Mode != ModeAllowlist:
		return fmt.Errorf("link_filter.mode: %q is neither %s nor %s", lf.Mode, ModeDenylist, ModeAllowlist)
	case lf.EscalateAfter < 1:
		return errors.New("link_filter.escalate_after: must be at least 1")
	case lf.EscalateWindow <= 0 || lf.EscalateWindow > escalateWindowMax:
		return errors.New("link_filter.escalate_window: must be within 1s..7 days")
	case lf.EscalateTimeout <= 0 || lf.EscalateTimeout > maxTimeout:
		return errors.New("link_filter.escalate_timeout: must be within 1s..28 days")
	case !validAction(im.Action):
		return fmt.Errorf("impersonation.action: %q is not one of flag, quarantine, kick, ban", im.Action)
	case im.Quarantine <= 0 || im.Quarantine > maxTimeout:
		return errors.New("impersonation.quarantine: must be within 1s..28 days")
	case rg.Joins < 1:
		return errors.New("raid_guard.joins: must be at least 1")
	case rg.Window <= 0:
		return errors.New("raid_guard.window: must be positive")
	}
	return nil
}

func validAction(a string) bool {
	return a == ActionFlag || a == ActionQuarantine || a == ActionKick || a == ActionBan
}

// Resolve returns the settings in force for a property: d with every field
// s sets replaced, and s's lists added to d's.
func (d Defaults) Resolve(s bot.Settings) Defaults {
	out := d
	lf := &out.LinkFilter
	lf.Denylist, lf.Allowlist = slices.Clone(lf.Denylist), slices.Clone(lf.Allowlist)
	lf.DenylistFiles = slices.Clone(lf.DenylistFiles)
	lf.AllowedInvites, lf.ExemptChannels, lf.ExemptRoles = nil, nil, nil
	if o := s.LinkFilter; o != nil {
		setBool(&lf.Enabled, o.Enabled)
		if o.Mode == ModeDenylist || o.Mode == ModeAllowlist {
			lf.Mode = o.Mode
		}
		lf.Denylist = append(lf.Denylist, o.Denylist...)
		lf.Allowlist = append(lf.Allowlist, o.Allowlist...)
		setBool(&lf.BlockInvites, o.BlockInvites)
		lf.AllowedInvites = slices.Clone(o.AllowedInvites)
		lf.ExemptChannels = slices.Clone(o.ExemptChannels)
		lf.ExemptRoles = slices.Clone(o.ExemptRoles)
		setBool(&lf.ExemptAdmins, o.ExemptAdmins)
		setBool(&lf.Escalate, o.Escalate)
		setInt(&lf.EscalateAfter, o.EscalateAfter)
		setSeconds(&lf.EscalateWindow, o.EscalateWindowSeconds)
		setSeconds(&lf.EscalateTimeout, o.EscalateTimeoutSeconds)
	}
	im := &out.Impersonation
	im.ProtectedNames = slices.Clone(im.ProtectedNames)
	if o := s.Impersonation; o != nil {
		setBool(&im.Enabled, o.Enabled)
		if validAction(o.Action) {
			im.Action = o.Action
		}
		im.ProtectedNames = append(im.ProtectedNames, o.ProtectedNames...)
		setSeconds(&im.Quarantine, o.QuarantineSeconds)
	}
	ig := &out.IntegrationGuard
	ig.Allowlist = slices.Clone(ig.Allowlist)
	if o := s.IntegrationGuard; o != nil {
		setBool(&ig.Enabled, o.Enabled)
		ig.Allowlist = append(ig.Allowlist, o.Allowlist...)
		setBool(&ig.Kick, o.Kick)
	}
	rg := &out.RaidGuard
	if o := s.RaidGuard; o != nil {
		setBool(&rg.Enabled, o.Enabled)
		setInt(&rg.Joins, o.Joins)
		setSeconds(&rg.Window, o.WindowSeconds)
	}
	return out
}

func setBool(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}

func setInt(dst *int, v int) {
	if v > 0 {
		*dst = v
	}
}

func setSeconds(dst *time.Duration, v int) {
	if v > 0 {
		*dst = time.Duration(v) * time.Second
	}
}

// ErrUnknownSetting is returned by SetSetting and GetSetting for a key
// that is not a moderation setting.
var ErrUnknownSetting = errors.New("unknown setting")

// ErrBadValue is wrapped by SetSetting's errors about a value; the message
// says what is allowed and is safe to show an admin.
var ErrBadValue = errors.New("bad value")

// setting is one admin-settable key.
type setting struct {
	key string
	get func(s *bot.Settings) string
	set func(s *bot.Settings, v string) error
}

func lfs(s *bot.Settings) *bot.LinkFilterSettings {
	if s.LinkFilter == nil {
		s.LinkFilter = &bot.LinkFilterSettings{}
	}
	return s.LinkFilter
}

func ims(s *bot.Settings) *bot.ImpersonationSettings {
	if s.Impersonation == nil {
		s.Impersonation = &bot.ImpersonationSettings{}
	}
	return s.Impersonation
}

func igs(s *bot.Settings) *bot.IntegrationGuardSettings {
	if s.IntegrationGuard == nil {
		s.IntegrationGuard = &bot.IntegrationGuardSettings{}
	}
	return s.IntegrationGuard
}

func rgs(s *bot.Settings) *bot.RaidGuardSettings {
	if s.RaidGuard == nil {
		s.RaidGuard = &bot.RaidGuardSettings{}
	}
	return s.RaidGuard
}

// Getters run on view's copy, so reading never adds a section to s.
func boolSetting(key string, field func(s *bot.Settings) **bool) setting {
	return setting{key: key,
		get: func(s *bot.Settings) string { return FormatBool(*field(s)) },
		set: func(s *bot.Settings, v string) error {
			b, err := ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			*field(s) = b
			return nil
		}}
}

func intSetting(key string, lo, hi int, field func(s *bot.Settings) *int) setting {
	return setting{key: key,
		get: func(s *bot.Settings) string { return formatInt(*field(s)) },
		set: func(s *bot.Settings, v string) error {
			n, err := parseInt(v, lo, hi)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			*field(s) = n
			return nil
		}}
}

func secondsSetting(key string, lo, hi time.Duration, field func(s *bot.Settings) *int) setting {
	return setting{key: key,
		get: func(s *bot.Settings) string { return FormatSeconds(*field(s)) },
		set: func(s *bot.Settings, v string) error {
			n, err := ParseSeconds(v, lo, hi)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			*field(s) = n
			return nil
		}}
}

func listSetting(key string, field func(s *bot.Settings) *[]string) setting {
	return setting{key: key,
		get: func(s *bot.Settings) string { return strings.Join(*field(s), ",") },
		set: func(s *bot.Settings, v string) error {
			*field(s) = ParseList(v)
			return nil
		}}
}

func choiceSetting(key string, choices []string, field func(s *bot.Settings) *string) setting {
	return setting{key: key,
		get: func(s *bot.Settings) string { return *field(s) },
		set: func(s *bot.Settings, v string) error {
			v = strings.ToLower(strings.TrimSpace(v))
			if v == "default" {
				v = ""
			}
			if v != "" && !slices.Contains(choices, v) {
				return fmt.Errorf("%s: %w: %q is not one of %s", key, ErrBadValue, v, strings.Join(choices, ", "))
			}
			*field(s) = v
			return nil
		}}
}

// view returns a settings copy whose engine sections exist, for getters.
func view(s bot.Settings) *bot.Settings {
	c := s.Clone()
	lfs(&c)
	ims(&c)
	igs(&c)
	rgs(&c)
	return &c
}

var settings = []setting{
	boolSetting("link_filter.enabled", func(s *bot.Settings) **bool { return &lfs(s).Enabled }),
	choiceSetting("link_filter.mode", []string{ModeDenylist, ModeAllowlist}, func(s *bot.Settings) *string { return &lfs(s).Mode }),
	listSetting("link_filter.denylist", func(s *bot.Settings) *[]string { return &lfs(s).Denylist }),
	listSetting("link_filter.allowlist", func(s *bot.Settings) *[]string { return &lfs(s).Allowlist }),
	boolSetting("link_filter.block_invites", func(s *bot.Settings) **bool { return &lfs(s).BlockInvites }),
	listSetting("link_filter.allowed_invites", func(s *bot.Settings) *[]string { return &lfs(s).AllowedInvites }),
	listSetting("link_filter.exempt_channels", func(s *bot.Settings) *[]string { return &lfs(s).ExemptChannels }),
	listSetting("link_filter.exempt_roles", func(s *bot.Settings) *[]string { return &lfs(s).ExemptRoles }),
	boolSetting("link_filter.exempt_admins", func(s *bot.Settings) **bool { return &lfs(s).ExemptAdmins }),
	boolSetting("link_filter.escalate", func(s *bot.Settings) **bool { return &lfs(s).Escalate }),
	intSetting("link_filter.escalate_after", 1, 100, func(s *bot.Settings) *int { return &lfs(s).EscalateAfter }),
	secondsSetting("link_filter.escalate_window", time.Second, escalateWindowMax, func(s *bot.Settings) *int { return &lfs(s).EscalateWindowSeconds }),
	secondsSetting("link_filter.escalate_timeout", time.Second, maxTimeout, func(s *bot.Settings) *int { return &lfs(s).EscalateTimeoutSeconds }),
	boolSetting("impersonation.enabled", func(s *bot.Settings) **bool { return &ims(s).Enabled }),
	choiceSetting("impersonation.action", []string{ActionFlag, ActionQuarantine, ActionKick, ActionBan}, func(s *bot.Settings) *string { return &ims(s).Action }),
	listSetting("impersonation.protected_names", func(s *bot.Settings) *[]string { return &ims(s).ProtectedNames }),
	secondsSetting("impersonation.quarantine", time.Second, maxTimeout, func(s *bot.Settings) *int { return &ims(s).QuarantineSeconds }),
	boolSetting("integration_guard.enabled", func(s *bot.Settings) **bool { return &igs(s).Enabled }),
	listSetting("integration_guard.allowlist", func(s *bot.Settings) *[]string { return &igs(s).Allowlist }),
	boolSetting("integration_guard.kick", func(s *bot.Settings) **bool { return &igs(s).Kick }),
	boolSetting("raid_guard.enabled", func(s *bot.Settings) **bool { return &rgs(s).Enabled }),
	intSetting("raid_guard.joins", 1, 100000, func(s *bot.Settings) *int { return &rgs(s).Joins }),
	secondsSetting("raid_guard.window", time.Second, 24*time.Hour, func(s *bot.Settings) *int { return &rgs(s).WindowSeconds }),
}

// SettingKeys lists the moderation settings admins may change, as dotted
// keys ("link_filter.mode").
func SettingKeys() []string {
	out := make([]string, len(settings))
	for i, s := range settings {
		out[i] = s.key
	}
	return out
}

func findSetting(key string) (setting, error) {
	key = strings.ToLower(strings.TrimSpace(key))
	for _, s := range settings {
		if s.key == key {
			return s, nil
		}
	}
	return setting{}, fmt.Errorf("%w: %q", ErrUnknownSetting, key)
}

// GetSetting returns the property's own value of key ("" when it uses the
// default), in the form SetSetting takes.
func GetSetting(s bot.Settings, key string) (string, error) {
	st, err := findSetting(key)
	if err != nil {
		return "", err
	}
	return st.get(view(s)), nil
}

// SetSetting sets the property's value of key from what an admin typed:
// booleans on/off, true/false, yes/no; durations like 90s, 10m, 2h;
// lists comma-separated (replacing the property's list; an empty value
// clears it); choices by name. "default" (or an empty value) returns a
// key to the operator's default. Commands call it inside
// store.UpdateSettings and record the SETTINGS_CHANGE.
func SetSetting(s *bot.Settings, key, value string) error {
	st, err := findSetting(key)
	if err != nil {
		return err
	}
	return st.set(s, value)
}

// ParseBool reads on/off, true/false, yes/no, 1/0; "default" or "" is nil.
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

func parseInt(v string, lo, hi int) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" || strings.EqualFold(v, "default") {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %q is not a whole number within %d..%d", ErrBadValue, v, lo, hi)
	}
	return n, nil
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
	v = strings.TrimSpace(v)
	if v == "" || strings.EqualFold(v, "default") {
		return 0, nil
	}
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
