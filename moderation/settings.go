package moderation

import (
	"time"

	"github.com/chatwarden/chatwarden/settings"
)

// Defaults are the moderation settings in force: the operator's defaults
// from the config file (BuiltinDefaults for keys it does not set), and a
// community's after Resolve. Each field is filled through its Def in
// Settings.
type Defaults struct {
	LinkFilter       LinkFilterConfig
	Impersonation    ImpersonationConfig
	IntegrationGuard IntegrationGuardConfig
	RaidGuard        RaidGuardConfig
}

// Link filter modes.
const (
	ModeDenylist  = "denylist"  // block listed domains
	ModeAllowlist = "allowlist" // block every domain not listed
)

// LinkFilterConfig configures the link filter.
type LinkFilterConfig struct {
	Enabled bool
	Mode    string
	// Denylist and Allowlist hold domains; a domain covers its subdomains.
	// The deny list applies in both modes (a denied subdomain of an
	// allowed domain is blocked).
	Denylist  []string
	Allowlist []string
	// DenylistFiles are files of one domain a line (hosts-file lines,
	// URLs and # comments are understood), reloaded when they change, so
	// that public phishing-domain lists can be used. Operator only.
	DenylistFiles []string
	BlockInvites  bool
	ExemptAdmins  bool
	// Lookalike blocks hosts made to look like a protected domain (see
	// Lookalike): the built-in brands plus ProtectedDomains, which are
	// themselves never matched, with DefaultBaitWords plus BaitWords as
	// the words that give a brand's name away.
	Lookalike        bool
	ProtectedDomains []string
	BaitWords        []string
	// ResolveShorteners follows links on known URL shorteners (see
	// IsShortener) and judges where they lead by the same rules.
	ResolveShorteners bool
	// Escalation: EscalateAfter violations within EscalateWindow time the
	// member out (Discord) or restrict them (Telegram) for EscalateTimeout.
	Escalate        bool
	EscalateAfter   int
	EscalateWindow  time.Duration
	EscalateTimeout time.Duration

	// Per community only.
	AllowedInvites []string
	ExemptChannels []string
	ExemptRoles    []string
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
	Enabled bool
	Action  string
	// ProtectedNames are protected besides the staff's names: the brand,
	// "support", "admin" ...
	ProtectedNames []string
	Quarantine     time.Duration
}

// IntegrationGuardConfig configures the integration guard.
type IntegrationGuardConfig struct {
	Enabled bool
	// Allowlist holds the ids of bots, integrations and webhooks allowed
	// everywhere.
	Allowlist []string
	Kick      bool
}

// RaidGuardConfig configures the raid guard: more than Joins joins within
// Window is a raid.
type RaidGuardConfig struct {
	Enabled bool
	Joins   int
	Window  time.Duration
}

// maxTimeout is the longest Discord timeout.
const maxTimeout = 28 * 24 * time.Hour

// Settings are the moderation settings, each defined once: the config
// file's moderation section, /config set and /settings (without the
// "moderation." prefix) and the README's reference all come from here.
var Settings = settings.Defs[Defaults]{
	settings.BoolDef("link_filter.enabled", true, "remove messages with blocked links",
		func(d *Defaults) *bool { return &d.LinkFilter.Enabled }, func(s *settings.Community) **bool { return &lfs(s).Enabled }),
	settings.ChoiceDef("link_filter.mode", []string{ModeDenylist, ModeAllowlist}, ModeDenylist,
		"`denylist` blocks listed domains; `allowlist` blocks every other domain",
		func(d *Defaults) *string { return &d.LinkFilter.Mode }, func(s *settings.Community) *string { return &lfs(s).Mode }),
	settings.ListDef("link_filter.denylist", "blocked domains (a domain covers its subdomains)",
		func(d *Defaults) *[]string { return &d.LinkFilter.Denylist }, func(s *settings.Community) *[]string { return &lfs(s).Denylist }),
	settings.ListDef("link_filter.allowlist", "allowed domains in allowlist mode",
		func(d *Defaults) *[]string { return &d.LinkFilter.Allowlist }, func(s *settings.Community) *[]string { return &lfs(s).Allowlist }),
	settings.ListDef("link_filter.denylist_files", "files of one domain a line, reloaded when they change",
		func(d *Defaults) *[]string { return &d.LinkFilter.DenylistFiles }, nil),
	settings.BoolDef("link_filter.block_invites", false, "block invites to other servers and groups",
		func(d *Defaults) *bool { return &d.LinkFilter.BlockInvites }, func(s *settings.Community) **bool { return &lfs(s).BlockInvites }),
	settings.ListDef("link_filter.allowed_invites", "invite codes that count as the community's own",
		func(d *Defaults) *[]string { return &d.LinkFilter.AllowedInvites }, func(s *settings.Community) *[]string { return &lfs(s).AllowedInvites }).CommunityOnly(),
	settings.ListDef("link_filter.exempt_channels", "channels whose links are never removed",
		func(d *Defaults) *[]string { return &d.LinkFilter.ExemptChannels }, func(s *settings.Community) *[]string { return &lfs(s).ExemptChannels }).CommunityOnly(),
	settings.ListDef("link_filter.exempt_roles", "roles whose members' links are never removed",
		func(d *Defaults) *[]string { return &d.LinkFilter.ExemptRoles }, func(s *settings.Community) *[]string { return &lfs(s).ExemptRoles }).CommunityOnly(),
	settings.BoolDef("link_filter.exempt_admins", true, "never remove administrators' links",
		func(d *Defaults) *bool { return &d.LinkFilter.ExemptAdmins }, func(s *settings.Community) **bool { return &lfs(s).ExemptAdmins }),
	settings.BoolDef("link_filter.lookalike", true, "block hosts made to look like a protected domain (Discord, Steam, Telegram built in)",
		func(d *Defaults) *bool { return &d.LinkFilter.Lookalike }, func(s *settings.Community) **bool { return &lfs(s).Lookalike }),
	settings.ListDef("link_filter.protected_domains", "more protected domains, never matched themselves",
		func(d *Defaults) *[]string { return &d.LinkFilter.ProtectedDomains }, func(s *settings.Community) *[]string { return &lfs(s).ProtectedDomains }),
	settings.ListDef("link_filter.bait_words", "words that give a brand's name away in a host, added to the built-in ones (gift, nitro, free, promo, login, verify, airdrop, drop, claim)",
		func(d *Defaults) *[]string { return &d.LinkFilter.BaitWords }, func(s *settings.Community) *[]string { return &lfs(s).BaitWords }),
	settings.BoolDef("link_filter.resolve_shorteners", false, "follow links on URL shorteners (bit.ly, t.co ...; at most 5 redirects, 3 s) and judge where they lead",
		func(d *Defaults) *bool { return &d.LinkFilter.ResolveShorteners }, func(s *settings.Community) **bool { return &lfs(s).ResolveShorteners }),
	settings.BoolDef("link_filter.escalate", false, "time out / restrict repeat offenders",
		func(d *Defaults) *bool { return &d.LinkFilter.Escalate }, func(s *settings.Community) **bool { return &lfs(s).Escalate }),
	settings.IntDef("link_filter.escalate_after", 1, 100, 3, "removed links that trigger it",
		func(d *Defaults) *int { return &d.LinkFilter.EscalateAfter }, func(s *settings.Community) *int { return &lfs(s).EscalateAfter }),
	settings.DurationDef("link_filter.escalate_window", time.Second, escalateWindowMax, 10*time.Minute, "within this time",
		func(d *Defaults) *time.Duration { return &d.LinkFilter.EscalateWindow }, func(s *settings.Community) *int { return &lfs(s).EscalateWindowSeconds }),
	settings.DurationDef("link_filter.escalate_timeout", time.Second, maxTimeout, 10*time.Minute, "for this long",
		func(d *Defaults) *time.Duration { return &d.LinkFilter.EscalateTimeout }, func(s *settings.Community) *int { return &lfs(s).EscalateTimeoutSeconds }),
	settings.BoolDef("impersonation.enabled", true, "flag names that look like the staff's or a protected name",
		func(d *Defaults) *bool { return &d.Impersonation.Enabled }, func(s *settings.Community) **bool { return &ims(s).Enabled }),
	settings.ChoiceDef("impersonation.action", []string{ActionFlag, ActionQuarantine, ActionKick, ActionBan}, ActionFlag,
		"`flag`, `quarantine` (timeout / restriction), `kick` or `ban`",
		func(d *Defaults) *string { return &d.Impersonation.Action }, func(s *settings.Community) *string { return &ims(s).Action }),
	settings.ListDef("impersonation.protected_names", "names protected besides the staff's",
		func(d *Defaults) *[]string { return &d.Impersonation.ProtectedNames }, func(s *settings.Community) *[]string { return &ims(s).ProtectedNames }),
	settings.DurationDef("impersonation.quarantine", time.Second, maxTimeout, 24*time.Hour, "how long a quarantine lasts (at most 28 days)",
		func(d *Defaults) *time.Duration { return &d.Impersonation.Quarantine }, func(s *settings.Community) *int { return &ims(s).QuarantineSeconds }),
	settings.BoolDef("integration_guard.enabled", true, "alert on bots, webhooks and integrations not on the allowlist",
		func(d *Defaults) *bool { return &d.IntegrationGuard.Enabled }, func(s *settings.Community) **bool { return &igs(s).Enabled }),
	settings.ListDef("integration_guard.allowlist", "ids allowed everywhere",
		func(d *Defaults) *[]string { return &d.IntegrationGuard.Allowlist }, func(s *settings.Community) *[]string { return &igs(s).Allowlist }),
	settings.BoolDef("integration_guard.kick", false, "kick an unapproved bot",
		func(d *Defaults) *bool { return &d.IntegrationGuard.Kick }, func(s *settings.Community) **bool { return &igs(s).Kick }),
	settings.BoolDef("raid_guard.enabled", true, "summarise join raids in log channels",
		func(d *Defaults) *bool { return &d.RaidGuard.Enabled }, func(s *settings.Community) **bool { return &rgs(s).Enabled }),
	settings.IntDef("raid_guard.joins", 1, 100000, 10, "more joins than this ...",
		func(d *Defaults) *int { return &d.RaidGuard.Joins }, func(s *settings.Community) *int { return &rgs(s).Joins }),
	settings.DurationDef("raid_guard.window", time.Second, 24*time.Hour, 10*time.Second, "... within this time is a raid",
		func(d *Defaults) *time.Duration { return &d.RaidGuard.Window }, func(s *settings.Community) *int { return &rgs(s).WindowSeconds }),
}

// Keys are the moderation settings admins may change from chat (/config
// set on Discord, /settings on Telegram). Lists replace the community's
// list; an empty value clears it.
var Keys = Settings.Table()

// BuiltinDefaults returns the defaults used for keys the config file does
// not set.
func BuiltinDefaults() Defaults { return Settings.Builtin() }

// Validate reports the first invalid default, naming its key.
func (d Defaults) Validate() error { return Settings.Check(&d) }

// Resolve returns the settings in force for a community: d with every
// field s sets replaced, and s's lists added to d's.
func (d Defaults) Resolve(s settings.Community) Defaults { return Settings.Resolve(d, s) }

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
