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

	ParamTruncatedTargets     = "truncated_targets"
	ParamTruncatedAttachments = "truncated_attachments"
	ParamTruncatedParams      = "truncated_params"
)

// Enum values carried in params.
const (
	HasAttachment = "HAS_ATTACHMENT"
	NoAttachment  = "NO_ATTACHMENT"

	RemovalLeft   = "LEFT"
	RemovalKicked = "KICKED"

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
