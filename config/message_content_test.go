package config

import "testing"

// TestDiscordMessageContent: discord.message_content defaults to true
// (ask for the intent when the application has it) and reads false.
func TestDiscordMessageContent(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want bool
	}{
		{"discord: {enabled: true, token: abc}\n", true},
		{"discord: {enabled: true, token: abc, message_content: false}\n", false},
		{"discord: {enabled: true, token: abc, message_content: true}\n", true},
	} {
		cfg, err := Parse([]byte(tc.yaml), "c.yaml")
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if cfg.Discord.MessageContent != tc.want {
			t.Errorf("%q: message_content %v, want %v", tc.yaml, cfg.Discord.MessageContent, tc.want)
		}
	}
	if _, err := Parse([]byte("discord: {message_content: maybe}\n"), "c.yaml"); err == nil {
		t.Error("message_content: maybe accepted")
	}
}
