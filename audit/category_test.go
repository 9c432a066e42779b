package audit

import (
	"slices"
	"testing"
)

// The stored codes never change: records on disk and in indexes carry
// them. A new type takes the next code; none is reused or renumbered.
func TestEventTypeCodesAreStable(t *testing.T) {
	want := []string{"", "USER_JOIN", "USER_REMOVE", "USER_BAN", "USER_BAN_REMOVE", "USER_UPDATE", "CHAT_MESSAGE",
		"CHAT_MESSAGE_EDIT", "CHAT_MESSAGE_DELETE", "CHANNEL_CREATE", "CHANNEL_DELETE", "PROPERTY_UPDATE",
		"PROPERTY_INVITE_CREATE", "PROPERTY_INVITE_DELETE", "MESSAGE_REPORT", "VERIFICATION_SUCCESS",
		"VERIFICATION_FAILURE", "MODERATION_LINK", "SECURITY_EVENT", "SETTINGS_CHANGE", "DATA_RETENTION",
		"ROLE_CREATE", "ROLE_UPDATE", "ROLE_DELETE", "CHANNEL_UPDATE", "CHANNEL_PERMISSION_UPDATE", "VOICE_UPDATE",
		"MODERATION_AUTOMOD", "AUTOMOD_RULE_CREATE", "AUTOMOD_RULE_UPDATE", "AUTOMOD_RULE_DELETE",
		"INTEGRATION_CREATE", "INTEGRATION_UPDATE", "INTEGRATION_DELETE", "EXPRESSION_CREATE", "EXPRESSION_UPDATE",
		"EXPRESSION_DELETE", "CHAT_MESSAGE_PIN", "CHAT_MESSAGE_UNPIN", "SCHEDULED_EVENT_CREATE",
		"SCHEDULED_EVENT_UPDATE", "SCHEDULED_EVENT_DELETE"}
	if len(EventTypes()) != len(want)-1 {
		t.Fatalf("%d types, want %d: a new type needs its code pinned here", len(EventTypes()), len(want)-1)
	}
	for code, name := range want[1:] {
		typ := EventType(code + 1)
		if typ.String() != name {
			t.Errorf("code %d is %s, want %s", code+1, typ, name)
		}
		if p, err := ParseEventType(name); err != nil || p != typ {
			t.Errorf("ParseEventType(%s) = %d, %v", name, p, err)
		}
		if typ.Category().String() == "unknown" {
			t.Errorf("%s has no category", name)
		}
	}
}

// "Who changed permissions this week": the permissions preset is the
// role records and the channel overwrites, nothing else.
func TestPresets(t *testing.T) {
	for name, want := range map[string][]EventType{
		"permissions": {RoleCreate, RoleUpdate, RoleDelete, ChannelPermissionUpdate},
		"roles":       {RoleCreate, RoleUpdate, RoleDelete},
		"voice":       {VoiceUpdate},
		"automod":     {ModerationAutomod, AutomodRuleCreate, AutomodRuleUpdate, AutomodRuleDelete},
	} {
		got, ok := Preset(name)
		if !ok || !slices.Equal(got, want) {
			t.Errorf("%s: %v (%v), want %v", name, got, ok, want)
		}
	}
	for _, name := range PresetNames() {
		if _, ok := Preset(name); !ok {
			t.Errorf("PresetNames lists %s, which Preset does not know", name)
		}
	}
	if _, ok := Preset("nonsense"); ok {
		t.Error("an unknown preset expanded")
	}
	mod, _ := Preset("moderation")
	if !slices.Contains(mod, ModerationAutomod) || slices.Contains(mod, RoleUpdate) {
		t.Errorf("moderation: %v", mod)
	}
}
