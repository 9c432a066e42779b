package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/verification"
)

// TestEngineSections: the moderation and verification sections become the
// engines' defaults through each setting's one definition (the built-in
// ones when the file sets nothing), and a value the definition refuses, or
// a key it does not know, names its key and line.
func TestEngineSections(t *testing.T) {
	cfg, err := Parse(nil, "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Moderation, moderation.BuiltinDefaults()) {
		t.Errorf("moderation defaults\n%+v\nwant\n%+v", cfg.Moderation, moderation.BuiltinDefaults())
	}
	if !reflect.DeepEqual(cfg.Verification, verification.BuiltinDefaults()) {
		t.Errorf("verification defaults\n%+v\nwant\n%+v", cfg.Verification, verification.BuiltinDefaults())
	}
	cfg, err = Parse([]byte("moderation:\n  link_filter:\n    denylist: [evil.example]\n    escalate_window: 1h\n  impersonation:\n    action: BAN\nverification:\n  enabled: true\n  max_attempts: 5\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mod, ver := cfg.Moderation, cfg.Verification
	if mod.Impersonation.Action != "ban" || len(mod.LinkFilter.Denylist) != 1 || mod.LinkFilter.Denylist[0] != "evil.example" ||
		mod.LinkFilter.EscalateWindow.Hours() != 1 || !ver.Enabled || ver.MaxAttempts != 5 || ver.Kind != "button" {
		t.Fatalf("parsed %+v\n%+v", mod, ver)
	}
	for src, want := range map[string]string{
		"moderation:\n  link_filter:\n    mode: blocklist\n":      "c.yaml:3: moderation.link_filter.mode: \"blocklist\" is not one of denylist, allowlist",
		"moderation:\n  raid_guard:\n    joins: 0\n":              "c.yaml:3: moderation.raid_guard.joins: \"0\" is not a whole number within 1..100000",
		"verification:\n  kind: captcha\n":                        "c.yaml:2: verification.kind:",
		"verification:\n  timeout: 1s\n":                          "c.yaml:2: verification.timeout:",
		"verification:\n  timeout:\n":                             "c.yaml:2: verification.timeout: a value is needed",
		"moderation:\n  impersonation:\n    action: shout\n":      "c.yaml:3: moderation.impersonation.action:",
		"moderation:\n  link_filter:\n    escalate: [a, b]\n":     "c.yaml:3: moderation.link_filter.escalate: a single value",
		"moderation:\n  link_filter:\n    exempt_channels: [1]\n": "c.yaml:3: unknown key \"exempt_channels\" in moderation.link_filter",
		"moderation:\n  link_filter:\n    escalate_aftr: 3\n":     "c.yaml:3: unknown key \"escalate_aftr\" in moderation.link_filter (did you mean escalate_after?)",
		"moderation:\n  raid_gaurd:\n    joins: 3\n":              "c.yaml:2: unknown key \"raid_gaurd\" in moderation (did you mean raid_guard?)",
		"verification:\n  channel: \"1\"\n":                       "c.yaml:2: unknown key \"channel\" in verification",
		"moderation:\n  link_filter: 3\n":                         "c.yaml:2: moderation.link_filter: must be a mapping",
		"moderation: {}\nmoderation: {}\n":                        "c.yaml:2: moderation: duplicate key (first set on line 1)",
		"moderation:\n  link_filter:\n    denylist: [{a: b}]\n":   "c.yaml:3: moderation.link_filter.denylist: a list of plain values",
	} {
		_, err := Parse([]byte(src), "c.yaml")
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: error %v, want it to start with %q", src, err, want)
		}
	}
}
