package bot

import (
	"slices"
	"time"
)

// Settings are one property's settings, changed by its admins through
// commands (each change recorded as SETTINGS_CHANGE). A zero field means
// "use the operator's default from the config file".
type Settings struct {
	Locale        string       `json:"locale,omitempty"`
	LogChannels   []LogChannel `json:"log_channels,omitempty"`
	RetentionDays int          `json:"retention_days,omitempty"`
	// StoreContent overrides storage.store_message_content when set.
	StoreContent *bool `json:"store_content,omitempty"`
}

// LogChannel routes event types to a log channel or chat.
type LogChannel struct {
	ID    string      `json:"id"`
	Types []EventType `json:"types,omitempty"` // empty: every type
	// Paused says why deliveries to the channel stopped (for example the
	// bot lost access); empty when delivering.
	Paused   string    `json:"paused,omitempty"`
	PausedAt time.Time `json:"paused_at,omitzero"`
}

// Wants reports whether the channel takes events of type t.
func (l *LogChannel) Wants(t EventType) bool {
	return len(l.Types) == 0 || slices.Contains(l.Types, t)
}

// LogChannel returns the route for channel id, or nil.
func (s *Settings) LogChannel(id string) *LogChannel {
	for i := range s.LogChannels {
		if s.LogChannels[i].ID == id {
			return &s.LogChannels[i]
		}
	}
	return nil
}

// Clone returns a deep copy.
func (s Settings) Clone() Settings {
	s.LogChannels = slices.Clone(s.LogChannels)
	for i := range s.LogChannels {
		s.LogChannels[i].Types = slices.Clone(s.LogChannels[i].Types)
	}
	if s.StoreContent != nil {
		v := *s.StoreContent
		s.StoreContent = &v
	}
	return s
}

// Category groups event types for log colours and routing presets.
type Category uint8

// Categories.
const (
	CategoryMembers Category = iota + 1
	CategoryMessages
	CategoryModeration
	CategoryServer
)

var categoryNames = [...]string{CategoryMembers: "members", CategoryMessages: "messages",
	CategoryModeration: "moderation", CategoryServer: "server"}

func (c Category) String() string {
	if c > 0 && int(c) < len(categoryNames) {
		return categoryNames[c]
	}
	return "unknown"
}

// Category returns the category of t.
func (t EventType) Category() Category {
	switch t {
	case UserJoin, UserRemove, UserUpdate, VerificationSuccess:
		return CategoryMembers
	case ChatMessage, ChatMessageEdit, ChatMessageDelete:
		return CategoryMessages
	case UserBan, UserBanRemove, MessageReport, VerificationFailure, ModerationLink, SecurityEvent:
		return CategoryModeration
	default:
		return CategoryServer
	}
}

// Preset expands a routing preset ("all", "members", "messages",
// "moderation", "server") to its types; ok is false for other names.
// "all" returns nil, meaning every type.
func Preset(name string) (types []EventType, ok bool) {
	if name == "all" {
		return nil, true
	}
	for c, n := range categoryNames {
		if n != "" && n == name {
			for _, t := range EventTypes() {
				if t.Category() == Category(c) {
					types = append(types, t)
				}
			}
			return types, true
		}
	}
	return nil, false
}
