package moderation

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"

	"github.com/chatwarden/chatwarden/moderation/links"
)

// judgeText judges a message's links the way checkLinks does: the first
// blocked link decides.
func judgeText(p *Policy, text string) (links.Link, Verdict) {
	for _, l := range MessageLinks(&audit.Event{Content: text}) {
		if v := p.Judge(l); v.Blocked {
			return l, v
		}
	}
	return links.Link{}, Verdict{}
}

// A list of URL lines blocks those pages only, not their shorteners.
func TestURLLinesBlockOnlyTheirPages(t *testing.T) {
	list := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(list, []byte("bit.ly/2zo2ibr\nhttps://tinyurl.com/free-nitro\ncutt.ly/x1 # comment\nnot a domain at all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := loadDenyFiles([]string{list})
	if err != nil {
		t.Fatal(err)
	}
	if st := files.files[0].stats; st.Domains != 0 || st.Pages != 3 || st.IgnoredCount != 1 ||
		len(st.Ignored) != 1 || !strings.Contains(st.Ignored[0], "line 4") {
		t.Errorf("stats = %+v", st)
	}
	cfg := BuiltinDefaults().LinkFilter
	cfg.Denylist = []string{"rb.gy/abc"}
	pol := NewPolicy(audit.Discord, cfg, nil)
	pol.files = files
	for text, matched := range map[string]string{
		"https://bit.ly/2zo2ibr":           "bit.ly/2zo2ibr",
		"bit.ly/2zo2ibr?utm=x":             "bit.ly/2zo2ibr",
		"https://tinyurl.com/free-nitro/":  "tinyurl.com/free-nitro",
		"cutt.ly/x1":                       "cutt.ly/x1",
		"https://rb.gy/abc":                "rb.gy/abc",
		"https://bit.ly/3MeetupNotes":      "",
		"bit.ly/2zo2ibrX":                  "",
		"https://tinyurl.com/docs":         "",
		"see https://bit.ly and cutt.ly/x": "",
		"https://rb.gy/abcd":               "",
	} {
		_, v := judgeText(pol, text)
		if v.Matched != matched || v.Blocked != (matched != "") {
			t.Errorf("%q: %+v, want matched %q", text, v, matched)
		}
	}
}

// Listed hosts are caught when they look like file names; unlisted
// file-like names are spared.
func TestListedFileLikeHosts(t *testing.T) {
	list := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(list, []byte("hypesquad.ml\ndynobot.pl\ndynoauth.rf.gd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := loadDenyFiles([]string{list})
	if err != nil {
		t.Fatal(err)
	}
	pol := NewPolicy(audit.Discord, BuiltinDefaults().LinkFilter, nil)
	pol.files = files
	for _, host := range []string{"hypesquad.ml", "dynobot.pl", "dynoauth.rf.gd"} {
		for _, text := range []string{host, strings.ToUpper(host), host + ".", host + "!", "(" + host + "),", "go to " + host + "?", "https://" + host + "/x"} {
			if _, v := judgeText(pol, text); v.Rule != RuleDenylist || v.Matched != host {
				t.Errorf("%q: %+v, want DENYLIST %s", text, v, host)
			}
		}
	}
	for _, mode := range []string{ModeDenylist, ModeAllowlist} {
		cfg := BuiltinDefaults().LinkFilter
		cfg.Mode = mode
		pol := NewPolicy(audit.Discord, cfg, nil)
		pol.files = files
		for _, text := range []string{"run deploy.pl on the box", "see README.md", "edit main.py.", "discord.py is a library"} {
			if l, v := judgeText(pol, text); v.Blocked {
				t.Errorf("%s: %q blocked on %+v: %+v", mode, text, l, v)
			}
		}
	}
}

// In allowlist mode a bare dotted name is not enough to delete a message.
func TestAllowlistSparesBareNames(t *testing.T) {
	cfg := BuiltinDefaults().LinkFilter
	cfg.Mode, cfg.Allowlist = ModeAllowlist, []string{"example.org"}
	pol := NewPolicy(audit.Discord, cfg, nil)
	for text, rule := range map[string]string{
		"print(user.name)":             "",
		"ctx.app.run()":                "",
		"upgrade to 3.0.0.Final today": "",
		"person.name and user.id":      "",
		"https://ctx.app":              RuleNotAllowlisted,
		"www.evil.com":                 RuleNotAllowlisted,
		"evil.com/login":               RuleNotAllowlisted,
		"evil[.]com":                   RuleNotAllowlisted,
		"example.org/x":                "",
		"discord-nitro.com":            RuleLookalike,
	} {
		if _, v := judgeText(pol, text); v.Rule != rule {
			t.Errorf("%q: %+v, want rule %q", text, v, rule)
		}
	}
}
