package settings

import (
	"slices"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// Settings are one property's settings, changed by its admins through
// commands (each change recorded as SETTINGS_CHANGE). A zero field means
// "use the operator's default from the config file".
type Community struct {
	Locale        string       `json:"locale,omitempty"`
	LogChannels   []LogChannel `json:"log_channels,omitempty"`
	RetentionDays int          `json:"retention_days,omitempty"`
	// StoreContent overrides storage.store_message_content when set.
	StoreContent *bool `json:"store_content,omitempty"`

	// Engine settings (moderation and verification); nil means the
	// operator's defaults for every field of the engine.
	LinkFilter       *LinkFilter       `json:"link_filter,omitempty"`
	Impersonation    *Impersonation    `json:"impersonation,omitempty"`
	IntegrationGuard *IntegrationGuard `json:"integration_guard,omitempty"`
	RaidGuard        *RaidGuard        `json:"raid_guard,omitempty"`
	Verification     *Verification     `json:"verification,omitempty"`
}

// LinkFilterSettings override the link filter's defaults for one property.
// Nil pointers, empty strings and zero numbers mean "the default"; lists
// are added to the defaults' lists.
type LinkFilter struct {
	Enabled *bool `json:"enabled,omitempty"`
	// Mode is "denylist" (block listed domains) or "allowlist" (block every
	// domain not listed).
	Mode      string   `json:"mode,omitempty"`
	Denylist  []string `json:"denylist,omitempty"`
	Allowlist []string `json:"allowlist,omitempty"`
	// BlockInvites blocks invite links to other servers and groups.
	BlockInvites *bool `json:"block_invites,omitempty"`
	// AllowedInvites are invite codes that count as the property's own,
	// besides those the bot sees created.
	AllowedInvites []string `json:"allowed_invites,omitempty"`
	ExemptChannels []string `json:"exempt_channels,omitempty"`
	ExemptRoles    []string `json:"exempt_roles,omitempty"`
	ExemptAdmins   *bool    `json:"exempt_admins,omitempty"`
	// Lookalike blocks hosts made to look like a protected domain;
	// ProtectedDomains and BaitWords are added to the defaults'.
	Lookalike        *bool    `json:"lookalike,omitempty"`
	ProtectedDomains []string `json:"protected_domains,omitempty"`
	BaitWords        []string `json:"bait_words,omitempty"`
	// ResolveShorteners follows links on URL shorteners and judges where
	// they lead.
	ResolveShorteners *bool `json:"resolve_shorteners,omitempty"`
	// Escalate times a member out (Discord) or restricts them (Telegram)
	// after EscalateAfter violations within EscalateWindowSeconds, for
	// EscalateTimeoutSeconds.
	Escalate               *bool `json:"escalate,omitempty"`
	EscalateAfter          int   `json:"escalate_after,omitempty"`
	EscalateWindowSeconds  int   `json:"escalate_window_seconds,omitempty"`
	EscalateTimeoutSeconds int   `json:"escalate_timeout_seconds,omitempty"`
}

// ImpersonationSettings override the impersonation guard's defaults.
type Impersonation struct {
	Enabled *bool `json:"enabled,omitempty"`
	// Action is "flag", "quarantine", "kick" or "ban".
	Action string `json:"action,omitempty"`
	// ProtectedNames are added to the defaults' names and the staff's.
	ProtectedNames    []string `json:"protected_names,omitempty"`
	QuarantineSeconds int      `json:"quarantine_seconds,omitempty"`
}

// IntegrationGuardSettings override the integration guard's defaults.
type IntegrationGuard struct {
	Enabled *bool `json:"enabled,omitempty"`
	// Allowlist holds the account ids of bots and integrations (and the
	// ids of webhooks) allowed in the property, added to the defaults'.
	Allowlist []string `json:"allowlist,omitempty"`
	// Kick removes a bot account that is not allowed.
	Kick *bool `json:"kick,omitempty"`
}

// RaidGuardSettings override the raid guard's defaults: a raid is more
// than Joins joins within WindowSeconds.
type RaidGuard struct {
	Enabled       *bool `json:"enabled,omitempty"`
	Joins         int   `json:"joins,omitempty"`
	WindowSeconds int   `json:"window_seconds,omitempty"`
}

// VerificationSettings override the verification defaults.
type Verification struct {
	Enabled *bool `json:"enabled,omitempty"`
	// Kind is "button" or "math".
	Kind string `json:"kind,omitempty"`
	// ChannelID is where the Verify button is posted (Discord).
	ChannelID string `json:"channel_id,omitempty"`
	// RoleID is granted on success (Discord).
	RoleID         string `json:"role_id,omitempty"`
	TimeoutSeconds int    `json:"timeout_seconds,omitempty"`
	MaxAttempts    int    `json:"max_attempts,omitempty"`
	// FailAction is "kick" or "ban".
	FailAction string `json:"fail_action,omitempty"`
	// SkipAddedByAdmin lets members an admin added skip the challenge.
	SkipAddedByAdmin *bool `json:"skip_added_by_admin,omitempty"`
	// PromptMessageID is the posted Verify button (Discord).
	PromptMessageID string `json:"prompt_message_id,omitempty"`
}

// LogChannel routes event types to a log channel or chat.
type LogChannel struct {
	ID    string            `json:"id"`
	Types []audit.EventType `json:"types,omitempty"` // empty: every type
	// Paused says why deliveries to the channel stopped (for example the
	// bot lost access); empty when delivering.
	Paused   string    `json:"paused,omitempty"`
	PausedAt time.Time `json:"paused_at,omitzero"`
}

// Wants reports whether the channel takes events of type t.
func (l *LogChannel) Wants(t audit.EventType) bool {
	return len(l.Types) == 0 || slices.Contains(l.Types, t)
}

// LogChannel returns the route for channel id, or nil.
func (s *Community) LogChannel(id string) *LogChannel {
	for i := range s.LogChannels {
		if s.LogChannels[i].ID == id {
			return &s.LogChannels[i]
		}
	}
	return nil
}

// Clone returns a deep copy.
func (s Community) Clone() Community {
	s.LogChannels = slices.Clone(s.LogChannels)
	for i := range s.LogChannels {
		s.LogChannels[i].Types = slices.Clone(s.LogChannels[i].Types)
	}
	if s.StoreContent != nil {
		v := *s.StoreContent
		s.StoreContent = &v
	}
	if s.LinkFilter != nil {
		v := *s.LinkFilter
		v.Enabled, v.BlockInvites = cloneBool(v.Enabled), cloneBool(v.BlockInvites)
		v.ExemptAdmins, v.Escalate = cloneBool(v.ExemptAdmins), cloneBool(v.Escalate)
		v.Lookalike = cloneBool(v.Lookalike)
		v.ProtectedDomains, v.BaitWords = slices.Clone(v.ProtectedDomains), slices.Clone(v.BaitWords)
		v.Denylist, v.Allowlist = slices.Clone(v.Denylist), slices.Clone(v.Allowlist)
		v.AllowedInvites = slices.Clone(v.AllowedInvites)
		v.ExemptChannels, v.ExemptRoles = slices.Clone(v.ExemptChannels), slices.Clone(v.ExemptRoles)
		s.LinkFilter = &v
	}
	if s.Impersonation != nil {
		v := *s.Impersonation
		v.Enabled = cloneBool(v.Enabled)
		v.ProtectedNames = slices.Clone(v.ProtectedNames)
		s.Impersonation = &v
	}
	if s.IntegrationGuard != nil {
		v := *s.IntegrationGuard
		v.Enabled, v.Kick = cloneBool(v.Enabled), cloneBool(v.Kick)
		v.Allowlist = slices.Clone(v.Allowlist)
		s.IntegrationGuard = &v
	}
	if s.RaidGuard != nil {
		v := *s.RaidGuard
		v.Enabled = cloneBool(v.Enabled)
		s.RaidGuard = &v
	}
	if s.Verification != nil {
		v := *s.Verification
		v.Enabled, v.SkipAddedByAdmin = cloneBool(v.Enabled), cloneBool(v.SkipAddedByAdmin)
		s.Verification = &v
	}
	return s
}

func cloneBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}
