package moderation

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chatwarden/chatwarden/settings"
)

// Defaults are the operator's moderation settings from the config file;
// every property's settings.Community override them field by field (see
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
	// Lookalike blocks hosts made to look like a protected domain (see
	// Lookalike): the built-in brands plus ProtectedDomains, which are
	// themselves never matched, with BaitWords (DefaultBaitWords when
	// empty) as the words that give a brand's name away.
	Lookalike        bool     `yaml:"lookalike"`
	ProtectedDomains []string `yaml:"protected_domains"`
	BaitWords        []string `yaml:"bait_words"`
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
		LinkFilter: LinkFilterConfig{Enabled: true, Mode: ModeDenylist, ExemptAdmins: true, Lookalike: true,
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
func (d Defaults) Resolve(s settings.Community) Defaults {
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
		setBool(&lf.Lookalike, o.Lookalike)
		lf.ProtectedDomains = append(slices.Clone(lf.ProtectedDomains), o.ProtectedDomains...)
		if len(o.BaitWords) > 0 {
			lf.BaitWords = append(slices.Clone(lf.BaitWords), o.BaitWords...)
			if len(lf.BaitWords) == len(o.BaitWords) {
				lf.BaitWords = append(slices.Clone(DefaultBaitWords), o.BaitWords...) // added to the built-in words
			}
		}
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

// Keys are the moderation settings admins may change from chat (/config
// set on Discord, /settings on Telegram). Lists replace the property's
// list; an empty value clears it.
var Keys = settings.Table{
	settings.Bool("link_filter.enabled", func(s *settings.Community) **bool { return &lfs(s).Enabled }),
	settings.Choice("link_filter.mode", []string{ModeDenylist, ModeAllowlist}, func(s *settings.Community) *string { return &lfs(s).Mode }),
	settings.List("link_filter.denylist", func(s *settings.Community) *[]string { return &lfs(s).Denylist }),
	settings.List("link_filter.allowlist", func(s *settings.Community) *[]string { return &lfs(s).Allowlist }),
	settings.Bool("link_filter.block_invites", func(s *settings.Community) **bool { return &lfs(s).BlockInvites }),
	settings.List("link_filter.allowed_invites", func(s *settings.Community) *[]string { return &lfs(s).AllowedInvites }),
	settings.List("link_filter.exempt_channels", func(s *settings.Community) *[]string { return &lfs(s).ExemptChannels }),
	settings.List("link_filter.exempt_roles", func(s *settings.Community) *[]string { return &lfs(s).ExemptRoles }),
	settings.Bool("link_filter.exempt_admins", func(s *settings.Community) **bool { return &lfs(s).ExemptAdmins }),
	settings.Bool("link_filter.lookalike", func(s *settings.Community) **bool { return &lfs(s).Lookalike }),
	settings.List("link_filter.protected_domains", func(s *settings.Community) *[]string { return &lfs(s).ProtectedDomains }),
	settings.List("link_filter.bait_words", func(s *settings.Community) *[]string { return &lfs(s).BaitWords }),
	settings.Bool("link_filter.escalate", func(s *settings.Community) **bool { return &lfs(s).Escalate }),
	settings.Int("link_filter.escalate_after", 1, 100, func(s *settings.Community) *int { return &lfs(s).EscalateAfter }),
	settings.Seconds("link_filter.escalate_window", time.Second, escalateWindowMax, func(s *settings.Community) *int { return &lfs(s).EscalateWindowSeconds }),
	settings.Seconds("link_filter.escalate_timeout", time.Second, maxTimeout, func(s *settings.Community) *int { return &lfs(s).EscalateTimeoutSeconds }),
	settings.Bool("impersonation.enabled", func(s *settings.Community) **bool { return &ims(s).Enabled }),
	settings.Choice("impersonation.action", []string{ActionFlag, ActionQuarantine, ActionKick, ActionBan}, func(s *settings.Community) *string { return &ims(s).Action }),
	settings.List("impersonation.protected_names", func(s *settings.Community) *[]string { return &ims(s).ProtectedNames }),
	settings.Seconds("impersonation.quarantine", time.Second, maxTimeout, func(s *settings.Community) *int { return &ims(s).QuarantineSeconds }),
	settings.Bool("integration_guard.enabled", func(s *settings.Community) **bool { return &igs(s).Enabled }),
	settings.List("integration_guard.allowlist", func(s *settings.Community) *[]string { return &igs(s).Allowlist }),
	settings.Bool("integration_guard.kick", func(s *settings.Community) **bool { return &igs(s).Kick }),
	settings.Bool("raid_guard.enabled", func(s *settings.Community) **bool { return &rgs(s).Enabled }),
	settings.Int("raid_guard.joins", 1, 100000, func(s *settings.Community) *int { return &rgs(s).Joins }),
	settings.Seconds("raid_guard.window", time.Second, 24*time.Hour, func(s *settings.Community) *int { return &rgs(s).WindowSeconds }),
}

// The sections of settings.Community the keys write, created on first use.

func lfs(s *settings.Community) *settings.LinkFilter {
	if s.LinkFilter == nil {
		s.LinkFilter = &settings.LinkFilter{}
	}
	return s.LinkFilter
}

func ims(s *settings.Community) *settings.Impersonation {
	if s.Impersonation == nil {
		s.Impersonation = &settings.Impersonation{}
	}
	return s.Impersonation
}

func igs(s *settings.Community) *settings.IntegrationGuard {
	if s.IntegrationGuard == nil {
		s.IntegrationGuard = &settings.IntegrationGuard{}
	}
	return s.IntegrationGuard
}

func rgs(s *settings.Community) *settings.RaidGuard {
	if s.RaidGuard == nil {
		s.RaidGuard = &settings.RaidGuard{}
	}
	return s.RaidGuard
}
