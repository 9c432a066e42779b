package audit

import (
	"fmt"
	"strings"
)

// Platform is the chat platform an event came from. Its numeric value is
// stored on disk and never changes.
type Platform uint8

// Platforms. The zero value is invalid.
const (
	Discord  Platform = 1
	Telegram Platform = 2
)

var platformNames = [...]string{Discord: "discord", Telegram: "telegram"}

func (p Platform) String() string {
	if p.Valid() {
		return platformNames[p]
	}
	return fmt.Sprintf("platform(%d)", uint8(p))
}

// Valid reports whether p is a known platform.
func (p Platform) Valid() bool { return p == Discord || p == Telegram }

// ParsePlatform parses "discord" or "telegram" (any case).
func ParsePlatform(s string) (Platform, error) {
	for p, name := range platformNames {
		if name != "" && strings.EqualFold(s, name) {
			return Platform(p), nil
		}
	}
	return 0, fmt.Errorf("unknown platform %q (want discord or telegram)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (p Platform) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Platform) UnmarshalText(b []byte) error {
	v, err := ParsePlatform(string(b))
	*p = v
	return err
}

// EventType is the universal type of an event, the name users filter on.
// Its numeric code is stored on disk and in indexes: codes are never reused
// or renumbered, new types take the next free code.
type EventType uint8

// The universal event types of EVENTS.md.
const (
	UserJoin             EventType = 1
	UserRemove           EventType = 2
	UserBan              EventType = 3
	UserBanRemove        EventType = 4
	UserUpdate           EventType = 5
	ChatMessage          EventType = 6
	ChatMessageEdit      EventType = 7
	ChatMessageDelete    EventType = 8
	ChannelCreate        EventType = 9
	ChannelDelete        EventType = 10
	PropertyUpdate       EventType = 11
	PropertyInviteCreate EventType = 12
	PropertyInviteDelete EventType = 13
	MessageReport        EventType = 14
	VerificationSuccess  EventType = 15
	VerificationFailure  EventType = 16
	ModerationLink       EventType = 17
	SecurityEvent        EventType = 18
	SettingsChange       EventType = 19
	DataRetention        EventType = 20

	// Discord's audit-log parity (issue 16).
	RoleCreate              EventType = 21
	RoleUpdate              EventType = 22
	RoleDelete              EventType = 23
	ChannelUpdate           EventType = 24
	ChannelPermissionUpdate EventType = 25
	VoiceUpdate             EventType = 26
	ModerationAutomod       EventType = 27
	AutomodRuleCreate       EventType = 28
	AutomodRuleUpdate       EventType = 29
	AutomodRuleDelete       EventType = 30
	IntegrationCreate       EventType = 31
	IntegrationUpdate       EventType = 32
	IntegrationDelete       EventType = 33
	ExpressionCreate        EventType = 34
	ExpressionUpdate        EventType = 35
	ExpressionDelete        EventType = 36
	ChatMessagePin          EventType = 37
	ChatMessageUnpin        EventType = 38
	ScheduledEventCreate    EventType = 39
	ScheduledEventUpdate    EventType = 40
	ScheduledEventDelete    EventType = 41
)

var eventTypeNames = [...]string{
	UserJoin:             "USER_JOIN",
	UserRemove:           "USER_REMOVE",
	UserBan:              "USER_BAN",
	UserBanRemove:        "USER_BAN_REMOVE",
	UserUpdate:           "USER_UPDATE",
	ChatMessage:          "CHAT_MESSAGE",
	ChatMessageEdit:      "CHAT_MESSAGE_EDIT",
	ChatMessageDelete:    "CHAT_MESSAGE_DELETE",
	ChannelCreate:        "CHANNEL_CREATE",
	ChannelDelete:        "CHANNEL_DELETE",
	PropertyUpdate:       "PROPERTY_UPDATE",
	PropertyInviteCreate: "PROPERTY_INVITE_CREATE",
	PropertyInviteDelete: "PROPERTY_INVITE_DELETE",
	MessageReport:        "MESSAGE_REPORT",
	VerificationSuccess:  "VERIFICATION_SUCCESS",
	VerificationFailure:  "VERIFICATION_FAILURE",
	ModerationLink:       "MODERATION_LINK",
	SecurityEvent:        "SECURITY_EVENT",
	SettingsChange:       "SETTINGS_CHANGE",
	DataRetention:        "DATA_RETENTION",

	RoleCreate:              "ROLE_CREATE",
	RoleUpdate:              "ROLE_UPDATE",
	RoleDelete:              "ROLE_DELETE",
	ChannelUpdate:           "CHANNEL_UPDATE",
	ChannelPermissionUpdate: "CHANNEL_PERMISSION_UPDATE",
	VoiceUpdate:             "VOICE_UPDATE",
	ModerationAutomod:       "MODERATION_AUTOMOD",
	AutomodRuleCreate:       "AUTOMOD_RULE_CREATE",
	AutomodRuleUpdate:       "AUTOMOD_RULE_UPDATE",
	AutomodRuleDelete:       "AUTOMOD_RULE_DELETE",
	IntegrationCreate:       "INTEGRATION_CREATE",
	IntegrationUpdate:       "INTEGRATION_UPDATE",
	IntegrationDelete:       "INTEGRATION_DELETE",
	ExpressionCreate:        "EXPRESSION_CREATE",
	ExpressionUpdate:        "EXPRESSION_UPDATE",
	ExpressionDelete:        "EXPRESSION_DELETE",
	ChatMessagePin:          "CHAT_MESSAGE_PIN",
	ChatMessageUnpin:        "CHAT_MESSAGE_UNPIN",
	ScheduledEventCreate:    "SCHEDULED_EVENT_CREATE",
	ScheduledEventUpdate:    "SCHEDULED_EVENT_UPDATE",
	ScheduledEventDelete:    "SCHEDULED_EVENT_DELETE",
}

// EventTypes lists every universal type in code order.
func EventTypes() []EventType {
	out := make([]EventType, 0, len(eventTypeNames)-1)
	for t := range eventTypeNames {
		if t > 0 {
			out = append(out, EventType(t))
		}
	}
	return out
}

func (t EventType) String() string {
	if t.Valid() {
		return eventTypeNames[t]
	}
	return fmt.Sprintf("EVENT_TYPE(%d)", uint8(t))
}

// Valid reports whether t is in the catalogue.
func (t EventType) Valid() bool { return t > 0 && int(t) < len(eventTypeNames) }

// ParseEventType parses a universal type name such as "USER_JOIN". Case is
// ignored so that users may type "user_join".
func ParseEventType(s string) (EventType, error) {
	for t, name := range eventTypeNames {
		if t > 0 && strings.EqualFold(s, name) {
			return EventType(t), nil
		}
	}
	return 0, fmt.Errorf("unknown event type %q", s)
}

// MarshalText implements encoding.TextMarshaler.
func (t EventType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *EventType) UnmarshalText(b []byte) error {
	v, err := ParseEventType(string(b))
	*t = v
	return err
}

// Function is the function type: the public name of the part of chatwarden
// that recorded an entry. Its numeric code is stored on disk.
type Function uint8

// Function types.
const (
	FuncGateway          Function = 1
	FuncLinkFilter       Function = 2
	FuncVerification     Function = 3
	FuncImpersonation    Function = 4
	FuncIntegrationGuard Function = 5
	FuncRaidGuard        Function = 6
	FuncCommand          Function = 7
	FuncReport           Function = 8
	FuncRetention        Function = 9
)

var functionNames = [...]string{
	FuncGateway:          "gateway",
	FuncLinkFilter:       "link_filter",
	FuncVerification:     "verification",
	FuncImpersonation:    "impersonation",
	FuncIntegrationGuard: "integration_guard",
	FuncRaidGuard:        "raid_guard",
	FuncCommand:          "command",
	FuncReport:           "report",
	FuncRetention:        "retention",
}

func (f Function) String() string {
	if f.Valid() {
		return functionNames[f]
	}
	return fmt.Sprintf("function(%d)", uint8(f))
}

// Valid reports whether f is a known function type.
func (f Function) Valid() bool { return f > 0 && int(f) < len(functionNames) }

// ParseFunction parses a function type name such as "link_filter".
func ParseFunction(s string) (Function, error) {
	for f, name := range functionNames {
		if f > 0 && strings.EqualFold(s, name) {
			return Function(f), nil
		}
	}
	return 0, fmt.Errorf("unknown function type %q", s)
}

// MarshalText implements encoding.TextMarshaler.
func (f Function) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *Function) UnmarshalText(b []byte) error {
	v, err := ParseFunction(string(b))
	*f = v
	return err
}

// ActorType says what kind of account acted. Its numeric code is stored on
// disk.
type ActorType uint8

// Actor types.
const (
	ActorAdmin    ActorType = 1
	ActorNonAdmin ActorType = 2
	ActorBot      ActorType = 3
	ActorSystem   ActorType = 4
)

var actorTypeNames = [...]string{
	ActorAdmin:    "ADMIN",
	ActorNonAdmin: "NON_ADMIN",
	ActorBot:      "BOT",
	ActorSystem:   "SYSTEM",
}

func (a ActorType) String() string {
	if a.Valid() {
		return actorTypeNames[a]
	}
	return fmt.Sprintf("ACTOR_TYPE(%d)", uint8(a))
}

// Valid reports whether a is a known actor type.
func (a ActorType) Valid() bool { return a > 0 && int(a) < len(actorTypeNames) }

// ParseActorType parses "ADMIN", "NON_ADMIN", "BOT" or "SYSTEM".
func ParseActorType(s string) (ActorType, error) {
	for a, name := range actorTypeNames {
		if a > 0 && strings.EqualFold(s, name) {
			return ActorType(a), nil
		}
	}
	return 0, fmt.Errorf("unknown actor type %q", s)
}

// MarshalText implements encoding.TextMarshaler.
func (a ActorType) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *ActorType) UnmarshalText(b []byte) error {
	v, err := ParseActorType(string(b))
	*a = v
	return err
}
