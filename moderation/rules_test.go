package moderation

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/moderation/links"
	"github.com/chatwarden/chatwarden/settings"
)

func link(t *testing.T, s string) links.Link {
	t.Helper()
	found := links.Find(s)
	if len(found) != 1 {
		t.Fatalf("links.Find(%q) = %d links", s, len(found))
	}
	return found[0]
}

func TestPolicyJudge(t *testing.T) {
	deny := LinkFilterConfig{Mode: ModeDenylist, Denylist: []string{"*.evil.com", "Bad.Example.", "xn--bcher-kva.example"}}
	allow := LinkFilterConfig{Mode: ModeAllowlist, Allowlist: []string{"example.org", "discord.gg"},
		Denylist: []string{"phish.example.org"}}
	invites := LinkFilterConfig{Mode: ModeDenylist, BlockInvites: true}
	tests := []struct {
		name string
		cfg  LinkFilterConfig
		p    audit.Platform
		own  []string
		url  string
		want Verdict
	}{
		{"listed domain", deny, audit.Discord, nil, "https://evil.com/x", Verdict{true, RuleDenylist, "evil.com"}},
		{"subdomain", deny, audit.Discord, nil, "a.b.evil.com", Verdict{true, RuleDenylist, "evil.com"}},
		{"label boundary", deny, audit.Discord, nil, "notevil.com", Verdict{}},
		{"case and dot", deny, audit.Discord, nil, "http://BAD.example.", Verdict{true, RuleDenylist, "bad.example"}},
		{"IDN", deny, audit.Discord, nil, "http://bücher.example/", Verdict{true, RuleDenylist, "xn--bcher-kva.example"}},
		{"unlisted", deny, audit.Discord, nil, "https://example.net", Verdict{}},
		{"allowlisted", allow, audit.Discord, nil, "https://docs.example.org", Verdict{Matched: "example.org"}},
		{"not allowlisted", allow, audit.Discord, nil, "https://github.com", Verdict{true, RuleNotAllowlisted, ""}},
		{"deny beats allow", allow, audit.Discord, nil, "https://phish.example.org", Verdict{true, RuleDenylist, "phish.example.org"}},
		{"invites allowed by mode", allow, audit.Discord, nil, "discord.gg/abc", Verdict{Matched: "discord.gg"}},
		{"foreign invite", invites, audit.Discord, nil, "discord.gg/abc", Verdict{true, RuleInvite, "abc"}},
		{"own invite", invites, audit.Discord, []string{"abc"}, "https://discord.com/invite/abc", Verdict{}},
		{"own code, other platform", invites, audit.Telegram, []string{"abc"}, "discord.gg/abc", Verdict{true, RuleInvite, "abc"}},
		{"telegram invite", invites, audit.Telegram, nil, "https://t.me/+AbCdEf", Verdict{true, RuleInvite, "AbCdEf"}},
		{"telegram joinchat own", invites, audit.Telegram, []string{"AbCdEf"}, "t.me/joinchat/AbCdEf", Verdict{}},
		{"public channel is no invite", invites, audit.Telegram, nil, "https://t.me/somechannel", Verdict{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewPolicy(tt.p, tt.cfg, tt.own).Judge(link(t, tt.url))
			if got != tt.want {
				t.Errorf("Judge(%q) = %+v, want %+v", tt.url, got, tt.want)
			}
		})
	}
}

func TestDenyFiles(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(a, []byte("# comment\n0.0.0.0 hosts-style.example # trailing\n\n*.wild.example\nhttps://url.example/path\nlocalhost\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := loadDenyFiles([]string{a})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"hosts-style.example": "hosts-style.example", "x.wild.example": "wild.example",
		"url.example": "", "localhost": "", "example": "", "other.example": "",
	} {
		if got := d.match(host, ""); got != want {
			t.Errorf("match(%q) = %q, want %q", host, got, want)
		}
	}
	// A URL line blocks that page and what is under it, not the host.
	for path, want := range map[string]string{
		"/path": "url.example/path", "/path/x": "url.example/path", "/path?q": "url.example/path",
		"/pathx": "", "/other": "", "": "",
	} {
		if got := d.match("url.example", path); got != want {
			t.Errorf("match(url.example, %q) = %q, want %q", path, got, want)
		}
	}
	if st := d.files[0].stats; st.Domains != 2 || st.Pages != 1 || st.IgnoredCount != 1 {
		t.Errorf("stats = %+v", st)
	}
	// A changed file is reloaded; a vanished one keeps its last contents.
	if err := os.WriteFile(a, []byte("new.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if reloaded, errs := d.refresh(); len(reloaded) != 1 || len(errs) != 0 {
		t.Fatalf("refresh = %v, %v", reloaded, errs)
	}
	if d.match("new.example", "") == "" || d.match("hosts-style.example", "") != "" {
		t.Error("reload did not replace the contents")
	}
	if reloaded, _ := d.refresh(); len(reloaded) != 0 {
		t.Error("an unchanged file was reloaded")
	}
	os.Remove(a)
	if _, errs := d.refresh(); len(errs) != 1 {
		t.Fatalf("errors for a vanished file = %v", errs)
	}
	if _, errs := d.refresh(); len(errs) != 0 {
		t.Fatalf("the same error reported twice")
	}
	if d.match("new.example", "") == "" {
		t.Error("the last contents were dropped")
	}
}

func TestCanonicalDomain(t *testing.T) {
	for in, want := range map[string]string{
		"Evil.COM": "evil.com", "*.evil.com": "evil.com", ".evil.com.": "evil.com",
		"https://user@evil.com:8443/x?y": "evil.com", "bücher.example": "xn--bcher-kva.example",
		"": "", "not a domain": "", "evil.com/path": "evil.com",
	} {
		if got := CanonicalDomain(in); got != want {
			t.Errorf("CanonicalDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRaidDetector(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	type step struct {
		join    float64 // join at this second, or -1 for none
		check   float64 // End(check) when join < 0
		started bool
		ended   bool
	}
	tests := []struct {
		name  string
		joins int
		steps []step
		count int // of the ended raid
	}{
		{"slow joins never raid", 3, []step{{0, 0, false, false}, {4, 0, false, false}, {8, 0, false, false},
			{12, 0, false, false}, {16, 0, false, false}, {-1, 100, false, false}}, 0},
		{"four in ten seconds", 3, []step{{0, 0, false, false}, {1, 0, false, false}, {2, 0, false, false},
			{3, 0, true, false}, {4, 0, false, false}, {-1, 11, false, false}, {-1, 12.9, false, false},
			{-1, 13, false, true}}, 5},
		{"the oldest join left the window", 3, []step{{0, 0, false, false}, {1, 0, false, false},
			{2, 0, false, false}, {10.5, 0, false, false}, {11, 0, true, false}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewRaidDetector(tt.joins, 10*time.Second)
			for i, s := range tt.steps {
				if s.join >= 0 {
					if got := d.Join(at(s.join), "u"); got != s.started {
						t.Fatalf("step %d: Join started = %v, want %v", i, got, s.started)
					}
					continue
				}
				r, ok := d.End(at(s.check))
				if ok != s.ended {
					t.Fatalf("step %d: End(%vs) = %v, want %v", i, s.check, ok, s.ended)
				}
				if ok && r.Count != tt.count {
					t.Errorf("count = %d, want %d", r.Count, tt.count)
				}
				if ok && (d.Active() || !r.Start.Equal(t0) || !r.End.Equal(at(4))) {
					t.Errorf("raid = %+v, active after end = %v", r, d.Active())
				}
			}
		})
	}
}

func TestRaidDetectorResize(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewRaidDetector(5, 10*time.Second)
	for i := range 4 {
		d.Join(t0.Add(time.Duration(i)*time.Second), "u")
	}
	d.Joins = 2 // three joins already in the window: the next starts a raid
	if !d.Join(t0.Add(4*time.Second), "u") {
		t.Fatal("no raid after lowering the threshold")
	}
	if at, _ := d.EndsAt(); !at.Equal(t0.Add(13 * time.Second)) {
		t.Errorf("EndsAt = %v", at)
	}
}

func TestResolve(t *testing.T) {
	d := BuiltinDefaults()
	d.LinkFilter.Denylist = []string{"global.example"}
	d.Impersonation.ProtectedNames = []string{"Acme"}
	if got := d.Resolve(settings.Community{}); !reflect.DeepEqual(got, d) {
		t.Errorf("Resolve(no settings) = %+v, want the defaults", got)
	}
	off := false
	s := settings.Community{
		LinkFilter: &settings.LinkFilter{Enabled: &off, Mode: ModeAllowlist, Denylist: []string{"local.example"},
			ExemptChannels: []string{"c1"}, EscalateAfter: 5, EscalateWindowSeconds: 30},
		Impersonation: &settings.Impersonation{Action: "bogus", ProtectedNames: []string{"support"}, QuarantineSeconds: 60},
		RaidGuard:     &settings.RaidGuard{Joins: 50},
	}
	got := d.Resolve(s)
	if got.LinkFilter.Enabled || got.LinkFilter.Mode != ModeAllowlist || got.LinkFilter.EscalateAfter != 5 ||
		got.LinkFilter.EscalateWindow != 30*time.Second || got.LinkFilter.EscalateTimeout != d.LinkFilter.EscalateTimeout ||
		!slices.Equal(got.LinkFilter.Denylist, []string{"global.example", "local.example"}) ||
		!slices.Equal(got.LinkFilter.ExemptChannels, []string{"c1"}) {
		t.Errorf("link filter = %+v", got.LinkFilter)
	}
	if got.Impersonation.Action != ActionFlag || got.Impersonation.Quarantine != time.Minute ||
		!slices.Equal(got.Impersonation.ProtectedNames, []string{"Acme", "support"}) {
		t.Errorf("impersonation = %+v", got.Impersonation)
	}
	if got.RaidGuard.Joins != 50 || got.RaidGuard.Window != d.RaidGuard.Window {
		t.Errorf("raid guard = %+v", got.RaidGuard)
	}
	if len(d.LinkFilter.Denylist) != 1 || len(d.Impersonation.ProtectedNames) != 1 {
		t.Error("Resolve changed the defaults")
	}
}

func TestDefaultsValidate(t *testing.T) {
	if err := BuiltinDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(d *Defaults){
		"mode":       func(d *Defaults) { d.LinkFilter.Mode = "block" },
		"action":     func(d *Defaults) { d.Impersonation.Action = "shout" },
		"joins":      func(d *Defaults) { d.RaidGuard.Joins = 0 },
		"quarantine": func(d *Defaults) { d.Impersonation.Quarantine = 29 * 24 * time.Hour },
	} {
		d := BuiltinDefaults()
		f(&d)
		if d.Validate() == nil {
			t.Errorf("%s: invalid defaults accepted", name)
		}
	}
}

func TestSetSetting(t *testing.T) {
	var s settings.Community
	steps := []struct {
		key, value, want string
		err              bool
	}{
		{"link_filter.mode", "ALLOWLIST", "allowlist", false},
		{"link_filter.mode", "maybe", "allowlist", true},
		{"link_filter.enabled", "off", "off", false},
		{"link_filter.enabled", "default", "", false},
		{"link_filter.denylist", "evil.com, bad.example,evil.com", "evil.com,bad.example", false},
		{"link_filter.escalate_window", "5m", "5m0s", false},
		{"link_filter.escalate_window", "8d", "5m0s", true},
		{"link_filter.escalate_after", "3", "3", false},
		{"link_filter.escalate_after", "zero", "3", true},
		{"impersonation.protected_names", "Acme Support, admin", "Acme Support,admin", false},
		{"impersonation.quarantine", "2d", "48h0m0s", false},
		{"raid_guard.window", "30", "30s", false},
		{"raid_guard.joins", "default", "", false},
		{"no_such.key", "1", "", true},
	}
	for _, st := range steps {
		err := Keys.Set(&s, st.key, st.value)
		if (err != nil) != st.err {
			t.Fatalf("Set(%s, %q) = %v", st.key, st.value, err)
		}
		if st.err {
			if !errors.Is(err, settings.ErrBadValue) && !errors.Is(err, settings.ErrUnknown) || !strings.Contains(err.Error(), st.key) {
				t.Errorf("Set(%s, %q): %v does not name the key", st.key, st.value, err)
			}
			continue
		}
		if got, _ := Keys.Get(s, st.key); got != st.want {
			t.Errorf("after %s=%q: %q, want %q", st.key, st.value, got, st.want)
		}
	}
	// Every key reads back "" on a property that changed nothing, and
	// reading never adds sections.
	var empty settings.Community
	for _, k := range Keys.Names() {
		if v, err := Keys.Get(empty, k); err != nil || v != "" {
			t.Errorf("Get(%s) on empty settings = %q, %v", k, v, err)
		}
	}
	if empty.RaidGuard != nil || empty.LinkFilter != nil {
		t.Error("Get changed the settings")
	}
}

func TestSettingsCloneIsDeep(t *testing.T) {
	on := true
	s := settings.Community{
		LinkFilter:       &settings.LinkFilter{Enabled: &on, Denylist: []string{"a"}, ExemptRoles: []string{"r"}},
		Impersonation:    &settings.Impersonation{ProtectedNames: []string{"n"}},
		IntegrationGuard: &settings.IntegrationGuard{Allowlist: []string{"b"}, Kick: &on},
		RaidGuard:        &settings.RaidGuard{Enabled: &on},
		Verification:     &settings.Verification{Enabled: &on, Kind: "math"},
	}
	c := s.Clone()
	*c.LinkFilter.Enabled = false
	c.LinkFilter.Denylist[0], c.LinkFilter.ExemptRoles[0] = "x", "x"
	c.Impersonation.ProtectedNames[0] = "x"
	c.IntegrationGuard.Allowlist[0] = "x"
	*c.IntegrationGuard.Kick = false
	c.RaidGuard.Joins = 5
	c.Verification.Kind = "button"
	*c.Verification.Enabled = false
	if !on || s.LinkFilter.Denylist[0] != "a" || s.LinkFilter.ExemptRoles[0] != "r" ||
		s.Impersonation.ProtectedNames[0] != "n" || s.IntegrationGuard.Allowlist[0] != "b" ||
		s.RaidGuard.Joins != 0 || s.Verification.Kind != "math" {
		t.Fatalf("Clone shares state: %+v", s)
	}
}

func TestFindImpersonation(t *testing.T) {
	staff := []Member{{ID: "owner", Names: []string{"Alice", "alice_w"}}, {ID: "mod", Names: []string{"Bob Moderator"}}}
	prot := ProtectedNames(staff, []string{"Support", "Alice"})
	tests := []struct {
		user, name string
		want       string // the protected name matched, "" for none
	}{
		{"u1", "AIice", "Alice"},
		{"u1", "ＡＬＩＣＥ", "Alice"},
		{"u1", "al\u200bice", "Alice"},
		{"u1", "Bob Moderat0r", "Bob Moderator"},
		{"u1", "Bob Moderators", "Bob Moderator"}, // one edit from a long name
		{"u1", "Supp0rt", "Support"},
		{"u1", "Alan", ""},
		{"u1", "", ""},
		{"owner", "Alice", "Alice"}, // the configured "Alice" is nobody's own name
		{"mod", "Bob Moderator", ""},
	}
	for _, tt := range tests {
		m, ok := FindImpersonation(tt.user, []Candidate{{Name: tt.name, Field: "name"}}, prot)
		if got := m.Protected.Name; ok != (tt.want != "") || got != tt.want {
			t.Errorf("FindImpersonation(%s, %q) = %q, %v; want %q", tt.user, tt.name, got, ok, tt.want)
		}
		if ok && tt.user == "owner" && m.Owner != "" {
			t.Errorf("the owner matched their own name: %+v", m)
		}
	}
}

// TestRaidDetectorLeavesOutEarlierJoins: joins inside the window that came
// well before the burst (a gap longer than twice the raid's average gap)
// started nothing and are not raiders.
func TestRaidDetectorLeavesOutEarlierJoins(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewRaidDetector(5, 10*time.Second) // raid pace: a join every 2s; gap allowed 4s
	d.JoinSeq(t0, "member", 1)
	for i := 1; i <= 5; i++ {
		// The member counts towards the rate: the sixth join in ten
		// seconds starts the raid.
		started := d.JoinSeq(t0.Add(5*time.Second+time.Duration(i)*100*time.Millisecond), "raider"+strconv.Itoa(i), uint64(i+1))
		if started != (i == 5) {
			t.Fatalf("join %d: started = %v", i, started)
		}
	}
	r, _ := d.Stop()
	if r.Count != 5 || r.Users[0] != "raider1" || len(r.Users) != 5 || r.FirstSeq != 2 || r.LastSeq != 6 ||
		!r.Start.Equal(t0.Add(5100*time.Millisecond)) {
		t.Fatalf("raid %+v", r)
	}
}
