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
