package command

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// settingsCommand is the settings command on a store of the test's own,
// with the log router and a recorder; contentPolicy makes the recorder
// keep message text out of the store as the router's policy says, as the
// bot wires it.
func settingsCommand(t *testing.T, contentPolicy bool) (*store.Store, *Settings) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(filepath.Join(t.TempDir(), "c.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	router, err := logchannel.NewRouter(ctx, s, "en")
	if err != nil {
		t.Fatal(err)
	}
	var opts recorder.Options
	if contentPolicy {
		opts.Prepare = router.ContentPolicy(true)
	}
	rec := recorder.New(s, opts)
	t.Cleanup(func() { rec.Close(ctx); s.Close() })
	return s, &Settings{Store: s, Router: router, Recorder: rec}
}

// TestEngineSettingsAreSavedAndRecorded changes engine settings through
// the real store and recorder: the value is saved, the router sees it, and
// each change is one SETTINGS_CHANGE with the old and new value and the
// admin as actor; bad keys and values are ErrBadArgument naming the key.
func TestEngineSettingsAreSavedAndRecorded(t *testing.T) {
	ctx := context.Background()
	s, c := settingsCommand(t, false)
	scope := Scope{Platform: audit.Telegram, Property: "-1001"}
	admin := Admin{ID: "42", Name: "Ann"}

	keys := EngineSettingKeys()
	for _, k := range []string{"link_filter.mode", "impersonation.action", "raid_guard.joins", "verification.timeout"} {
		if !slices.Contains(keys, k) {
			t.Errorf("EngineSettingKeys lacks %s", k)
		}
	}
	if _, err := c.SetEngineSetting(ctx, scope, admin, "link_filter.denylist", "evil.example, phish.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetEngineSetting(ctx, scope, admin, " Verification.Timeout ", "2m"); err != nil {
		t.Fatal(err)
	}
	got := c.Router.Settings(scope.Platform, scope.Property)
	if v, _ := GetEngineSetting(got, "link_filter.denylist"); !strings.Contains(v, "evil.example") || !strings.Contains(v, "phish.example") {
		t.Errorf("denylist %q", v)
	}
	if got.Verification == nil || got.Verification.TimeoutSeconds != 120 {
		t.Errorf("verification %+v", got.Verification)
	}
	lines := ShowEngineSettings(got)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "link_filter.denylist: ") {
		t.Errorf("show: %q", lines)
	}

	for _, tc := range []struct{ key, value, want string }{
		{"link_filter.mdoe", "allowlist", "link_filter.mdoe"},
		{"link_filter.mode", "blocklist", "link_filter.mode"},
		{"raid_guard.joins", "-3", "raid_guard.joins"},
		{"verification.kind", "captcha", "verification.kind"},
	} {
		_, err := c.SetEngineSetting(ctx, scope, admin, tc.key, tc.value)
		if !errors.Is(err, ErrBadArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: %v", tc.key, tc.value, err)
		}
	}
	// Back to the default: the setting is empty again.
	if _, err := c.SetEngineSetting(ctx, scope, admin, "verification.timeout", "default"); err != nil {
		t.Fatal(err)
	}

	page, err := s.Query(ctx, store.Query{Platform: scope.Platform, Property: scope.Property,
		Types: []audit.EventType{audit.SettingsChange}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 3 {
		t.Fatalf("%d SETTINGS_CHANGE records, want 3 (failures record nothing)", len(page.Events))
	}
	last := page.Events[0] // newest first
	if last.ActorID != "42" || last.Params.Get(audit.ParamSetting) != "verification.timeout" ||
		last.Params.Get(audit.ParamOldValue) != "2m0s" || last.Params.Get(audit.ParamNewValue) != "" {
		t.Errorf("last change %+v", last.Params)
	}
}

// TestPrivacySettings turns message content off for one property from
// chat: the router's content policy then keeps that property's message
// text out of the store, while another property's is kept; retention
// takes a number of days.
func TestPrivacySettings(t *testing.T) {
	ctx := context.Background()
	s, c := settingsCommand(t, true)
	private, open := Scope{Platform: audit.Discord, Property: "1"}, Scope{Platform: audit.Discord, Property: "2"}
	admin := Admin{ID: "42", Name: "Ann"}
	if _, err := c.SetEngineSetting(ctx, private, admin, KeyStoreContent, "off"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetEngineSetting(ctx, private, admin, KeyRetentionDays, "30d"); err != nil {
		t.Fatal(err)
	}
	got := c.Router.Settings(private.Platform, private.Property)
	if got.StoreContent == nil || *got.StoreContent || got.RetentionDays != 30 {
		t.Fatalf("settings %+v", got)
	}
	for _, bad := range []string{"0", "forever", "99999"} {
		if _, err := c.SetEngineSetting(ctx, private, admin, KeyRetentionDays, bad); !errors.Is(err, ErrBadArgument) {
			t.Errorf("retention_days %q: %v", bad, err)
		}
	}
	for _, sc := range []Scope{private, open} {
		e := &audit.Event{Platform: sc.Platform, PropertyID: sc.Property, Type: audit.ChatMessage, ActorID: "7",
			MessageID: "m" + sc.Property, Content: "my phone number is 555-0100", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin}
		if err := c.Recorder.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		sc   Scope
		want string
	}{{private, ""}, {open, "my phone number is 555-0100"}} {
		page, err := s.Query(ctx, store.Query{Platform: tc.sc.Platform, Property: tc.sc.Property,
			Types: []audit.EventType{audit.ChatMessage}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 1 || page.Events[0].Content != tc.want {
			t.Errorf("property %s stored %+v, want content %q", tc.sc.Property, page.Events, tc.want)
		}
	}
}

// Several settings changed by one command are saved together (all or
// none) and recorded as one SETTINGS_CHANGE listing them.
func TestSeveralSettingsAreOneRecord(t *testing.T) {
	ctx := context.Background()
	s, c := settingsCommand(t, false)
	scope := Scope{Platform: audit.Discord, Property: "g1"}
	admin := Admin{ID: "42", Name: "Ann"}
	records := func() []*audit.Event {
		t.Helper()
		page, err := s.Query(ctx, store.Query{Platform: scope.Platform, Property: scope.Property,
			Types: []audit.EventType{audit.SettingsChange}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return page.Events
	}

	// A bad value anywhere saves nothing and records nothing.
	_, err := c.SetEngineSettings(ctx, scope, admin, []SettingChange{{"verification.kind", "math"}, {"verification.timeout", "soon"}})
	if !errors.Is(err, ErrBadArgument) {
		t.Fatalf("a bad value: %v", err)
	}
	if v, _ := GetEngineSetting(c.Router.Settings(scope.Platform, scope.Property), "verification.kind"); v != "" {
		t.Errorf("verification.kind saved as %q with a bad sibling", v)
	}
	if n := len(records()); n != 0 {
		t.Fatalf("%d records of a refused change", n)
	}

	set, err := c.SetEngineSettings(ctx, scope, admin, []SettingChange{{"verification.kind", "math"},
		{"verification.timeout", "5m"}, {"verification.enabled", "on"}})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := GetEngineSetting(set, "verification.timeout"); v != "5m0s" {
		t.Errorf("timeout %q", v)
	}
	recs := records()
	if len(recs) != 1 {
		t.Fatalf("%d records for one command, want 1", len(recs))
	}
	p := recs[0].Params
	if p[audit.ParamSetting] != "verification.kind, verification.timeout, verification.enabled" ||
		p["new_verification.kind"] != "math" || p["new_verification.timeout"] != "5m0s" || p["new_verification.enabled"] != "on" ||
		recs[0].ActorID != "42" {
		t.Errorf("record %+v %v", recs[0], p)
	}
	// The same values again change nothing: no record.
	if _, err := c.SetEngineSettings(ctx, scope, admin, []SettingChange{{"verification.kind", "math"}}); err != nil {
		t.Fatal(err)
	}
	if n := len(records()); n != 1 {
		t.Errorf("%d records after a change to the same values", n)
	}
	// One change is recorded as SetEngineSetting records it.
	if _, err := c.SetEngineSettings(ctx, scope, admin, []SettingChange{{"verification.kind", "button"}}); err != nil {
		t.Fatal(err)
	}
	if r := records()[0]; r.Params[audit.ParamSetting] != "verification.kind" || r.Params[audit.ParamOldValue] != "math" ||
		r.Params[audit.ParamNewValue] != "button" {
		t.Errorf("single change %v", r.Params)
	}
}
