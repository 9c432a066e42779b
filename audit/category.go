package audit

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
	case UserJoin, UserRemove, UserUpdate, VerificationSuccess, VoiceUpdate:
		return CategoryMembers
	case ChatMessage, ChatMessageEdit, ChatMessageDelete, ChatMessagePin, ChatMessageUnpin:
		return CategoryMessages
	case UserBan, UserBanRemove, MessageReport, VerificationFailure, ModerationLink, SecurityEvent, ModerationAutomod:
		return CategoryModeration
	default:
		return CategoryServer
	}
}

// presets are the presets that are not categories: they cut across
// them to answer one question ("who changed permissions this week").
var presets = []struct {
	name  string
	types []EventType
}{
	// Roles created, edited (their permissions among the rest) or deleted.
	{"roles", []EventType{RoleCreate, RoleUpdate, RoleDelete}},
	// Everything that changes who may do what: roles and channel
	// permission overwrites.
	{"permissions", []EventType{RoleCreate, RoleUpdate, RoleDelete, ChannelPermissionUpdate}},
	// Voice activity and moderators' voice actions.
	{"voice", []EventType{VoiceUpdate}},
	// AutoMod's actions and its rules' lifecycle.
	{"automod", []EventType{ModerationAutomod, AutomodRuleCreate, AutomodRuleUpdate, AutomodRuleDelete}},
}

// PresetNames lists every preset name: "all", the categories, then the
// cross-cutting presets.
func PresetNames() []string {
	out := []string{"all"}
	for _, n := range categoryNames {
		if n != "" {
			out = append(out, n)
		}
	}
	for _, p := range presets {
		out = append(out, p.name)
	}
	return out
}

// Preset expands a routing preset ("all", a category such as "members",
// "messages", "moderation", "server", or one of "roles", "permissions",
// "voice", "automod") to its types; ok is false for other names. "all"
// returns nil, meaning every type.
func Preset(name string) (types []EventType, ok bool) {
	if name == "all" {
		return nil, true
	}
	for _, p := range presets {
		if p.name == name {
			return append([]EventType(nil), p.types...), true
		}
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
