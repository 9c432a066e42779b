package audit

import (
	"sort"
	"unicode/utf8"
)

// Params holds event-specific details: snake_case keys, enum values in
// CAPITALS.
type Params map[string]string

// Set sets key to value, allocating the map when needed. An empty value
// deletes the key.
func (p *Params) Set(key, value string) {
	if value == "" {
		delete(*p, key)
		return
	}
	if *p == nil {
		*p = make(Params, 4)
	}
	(*p)[key] = value
}

// Get returns the value of key, or "".
func (p Params) Get(key string) string { return p[key] }

// Keys returns the keys in sorted order.
func (p Params) Keys() []string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// trimmed keeps the first n keys in sorted order.
func (p Params) trimmed(n int) Params {
	keys := p.Keys()
	out := make(Params, n+1)
	for _, k := range keys[:n-1] {
		out[k] = p[k]
	}
	out[ParamTruncatedParams] = utf8Itoa(len(keys))
	return out
}

func utf8Itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// Well-known param keys.
const (
	ParamAttachmentStatus = "attachment_status" // AttachmentStatus
	ParamRemoval          = "removal"           // Removal
	ParamKind             = "kind"              // SecurityKind
	ParamMatchedName      = "matched_name"
	ParamNameSkeleton     = "name_skeleton"
	ParamMatchedSkeleton  = "matched_skeleton"
	ParamURL              = "url"
	ParamDomain           = "domain"
	ParamMatched          = "matched" // what decided a link filter verdict: list entry, imitated brand, invite code
	ParamRule             = "rule"
	ParamMode             = "mode"
	ParamReason           = "reason"
	ParamOldValue         = "old_value"
	ParamNewValue         = "new_value"
	ParamSetting          = "setting"
	ParamField            = "field" // which attribute changed (USER_UPDATE, PROPERTY_UPDATE)
	ParamChanged          = "changed"
	ParamTargetName       = "target_name"
	ParamChannelName      = "channel_name"
	ParamInviteCode       = "invite_code"
	ParamCount            = "count"
	ParamDuration         = "duration"
	ParamUntil            = "until"
	ParamAction           = "action"  // RetentionAction, or the action an engine took
	ParamOutcome          = "outcome" // what an engine's action resulted in
	ParamVerifyKind       = "verification_kind"
	ParamAttempts         = "attempts"
	ParamTimeTaken        = "time_taken"
	ParamBefore           = "before"
	ParamDays             = "days"
	ParamReportedID       = "reported_message_id"
	ParamReportedAuthor   = "reported_author_id"
	ParamLink             = "link"

	ParamAccountCreated = "account_created"
	ParamIsBot          = "is_bot"
	ParamWebhookID      = "webhook_id"
	ParamEmbedURLs      = "embed_urls"
	ParamReplyTo        = "reply_to"
	ParamOldContent     = "old_content"
	ParamUnknownBefore  = "unknown_before" // the store never saw the earlier state
	ParamPostedAt       = "posted_at"
	ParamChannelKind    = "channel_kind"
	ParamParentID       = "parent_id"
	ParamMaxUses        = "max_uses"
	ParamSenderChat     = "sender_chat"
	ParamViaJoinRequest = "via_join_request"
	ParamRolesAdded     = "roles_added"
	ParamRolesRemoved   = "roles_removed"
	// ParamQuiet marks a record that is stored but not posted to log
	// channels (QuietDetail, QuietHousekeeping): the one who records it
	// says so, nothing guesses it from the text.
	ParamQuiet = "quiet"

	// ParamLogChannelName is the name of the log channel a SETTINGS_CHANGE
	// of log_channel:<id> is about, as the platform shows it.
	ParamLogChannelName = "log_channel_name"

	// The object an administrative record is about (a role, an emoji, a
	// webhook, an AutoMod rule, a scheduled event...): its name, shown in
	// the summary as {name}, and its id.
	ParamName     = "name"
	ParamObjectID = "object_id"
	// Permissions by name (ADMINISTRATOR, MANAGE_GUILD...), comma-separated.
	ParamPermissionsAdded   = "permissions_added"
	ParamPermissionsRemoved = "permissions_removed"
	// ParamDangerousGranted names the dangerous permissions a change
	// granted (Administrator, Manage Server, Manage Roles, Manage Channels,
	// Manage Webhooks, Ban or Kick Members, Mention Everyone): the flag to
	// filter on (filters=dangerous_granted).
	ParamDangerousGranted = "dangerous_granted"
	// A channel permission overwrite: whose (a role or a member) and the
	// allow and deny bits it gained and lost, by name.
	ParamOverwriteID   = "overwrite_id"
	ParamOverwriteType = "overwrite_type" // OverwriteRole, OverwriteMember
	ParamRoleName      = "role_name"      // the role an overwrite is for
	ParamAllowAdded    = "allow_added"
	ParamAllowRemoved  = "allow_removed"
	ParamDenyAdded     = "deny_added"
	ParamDenyRemoved   = "deny_removed"
	// AutoMod: the rule's id, its trigger type, the keyword that matched.
	ParamRuleID         = "rule_id"
	ParamTrigger        = "trigger"
	ParamMatchedKeyword = "matched_keyword"
	// ParamExpression says which kind of expression: EMOJI, STICKER,
	// SOUNDBOARD_SOUND.
	ParamExpression = "expression"
	// ParamIntegration says which kind of integration: BOT, WEBHOOK,
	// INTEGRATION, COMMAND_PERMISSIONS.
	ParamIntegration = "integration"
	// ParamAuditAction is the platform's own name of an administrative
	// action (Discord's audit-log event, e.g. WEBHOOK_CREATE) when the
	// record comes from the platform's audit log.
	ParamAuditAction = "audit_action"
	ParamPruneDays   = "prune_days"

	ParamTruncatedTargets     = "truncated_targets"
	ParamTruncatedAttachments = "truncated_attachments"
	ParamTruncatedParams      = "truncated_params"
)

// ParamContentUnavailable ("true") marks a message whose text the
// platform did not send (Discord without the Message Content intent): an
// empty Content then means unknown, not empty.
const ParamContentUnavailable = "content_unavailable"

// Enum values carried in params.
const (
	HasAttachment = "HAS_ATTACHMENT"
	NoAttachment  = "NO_ATTACHMENT"

	RemovalLeft   = "LEFT"
	RemovalKicked = "KICKED"
	RemovalPruned = "PRUNED" // a moderator pruned inactive members

	OverwriteRole   = "ROLE"
	OverwriteMember = "MEMBER"

	// VOICE_UPDATE actions. DISCONNECT and a MOVE whose actor is not the
	// member are a moderator's.
	VoiceJoin       = "JOIN"
	VoiceLeave      = "LEAVE"
	VoiceMove       = "MOVE"
	VoiceDisconnect = "DISCONNECT"
	VoiceMute       = "MUTE"
	VoiceUnmute     = "UNMUTE"
	VoiceDeafen     = "DEAFEN"
	VoiceUndeafen   = "UNDEAFEN"

	// MODERATION_AUTOMOD actions (Discord's AutoMod action types).
	AutomodBlock            = "BLOCK_MESSAGE"
	AutomodAlert            = "SEND_ALERT_MESSAGE"
	AutomodTimeout          = "TIMEOUT"
	AutomodBlockInteraction = "BLOCK_MEMBER_INTERACTION"

	KindImpersonation           = "IMPERSONATION"
	KindUnauthorizedIntegration = "UNAUTHORIZED_INTEGRATION"
	KindJoinRaid                = "JOIN_RAID"
	KindAPIAuthFailure          = "API_AUTH_FAILURE"
	KindBotRightsLost           = "BOT_RIGHTS_LOST"

	RetentionPurge = "PURGE"
	RetentionErase = "ERASE"

	ReasonWrongAnswer = "WRONG_ANSWER"
	ReasonTimeout     = "TIMEOUT"
	ReasonLeft        = "LEFT"

	// QuietDetail: the action is a detail of another record that tells it
	// (an engine's record saying what it did: action, outcome).
	QuietDetail = "DETAIL"
	// QuietHousekeeping: the bot tidying its own traces (its challenge,
	// command exchanges).
	QuietHousekeeping = "HOUSEKEEPING"
)

// Cut returns s cut to at most max bytes at a rune boundary, with CutMarker
// appended when anything was removed. It never returns invalid UTF-8 from
// valid input and never returns more than max bytes.
func Cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	keep := max - len(CutMarker)
	if keep <= 0 {
		return CutMarker[:max]
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + CutMarker
}

// CutMarker ends text that was shortened.
const CutMarker = "…[cut]"
