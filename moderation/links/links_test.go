package links

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

type want struct {
	url, host string
	obf       bool
	invite    string // "platform/code"
}

func TestFind(t *testing.T) {
	tests := []struct {
		in   string
		want []want
	}{
		{"see https://discord.gg/abc123 now", []want{{"https://discord.gg/abc123", "discord.gg", false, "discord/abc123"}}},
		{"example.com", []want{{"http://example.com", "example.com", false, ""}}},
		{"Visit WWW.Example.COM/Path.", []want{{"http://www.example.com/Path", "www.example.com", false, ""}}},
		{"discord.com/invite/qwe-1 and discordapp.com/invite/X_y", []want{
			{"http://discord.com/invite/qwe-1", "discord.com", false, "discord/qwe-1"},
			{"http://discordapp.com/invite/X_y", "discordapp.com", false, "discord/X_y"}}},
		{"t.me/+AbCd_12 https://t.me/joinchat/XyZ telegram.me/joinchat/q t.me/durov", []want{
			{"http://t.me/+AbCd_12", "t.me", false, "telegram/AbCd_12"},
			{"https://t.me/joinchat/XyZ", "t.me", false, "telegram/XyZ"},
			{"http://telegram.me/joinchat/q", "telegram.me", false, "telegram/q"},
			{"http://t.me/durov", "t.me", false, ""}}},
		{"http://user:pw@Evil.COM.:8080/p?q#f", []want{{"http://user:pw@evil.com:8080/p?q#f", "evil.com", false, ""}}},
		{"1.2.3.4:8080/x", []want{{"http://1.2.3.4:8080/x", "1.2.3.4", false, ""}}},
		{"[2001:DB8::1]:80/", []want{{"http://[2001:db8::1]:80/", "2001:db8::1", false, ""}}},
		{"ping 2001:db8::1 now", []want{{"http://[2001:db8::1]", "2001:db8::1", false, ""}}},
		{"mail bob@gmail.com", []want{{"mailto:bob@gmail.com", "gmail.com", false, ""}}},
		{"mailto:bob@gmail.com", []want{{"mailto:bob@gmail.com", "gmail.com", false, ""}}},
		// masked links, suppressed embeds
		{"[free nitro](https://evil.xyz/gift)", []want{{"https://evil.xyz/gift", "evil.xyz", false, ""}}},
		{"[discord.com](https://evil.xyz)", []want{
			{"http://discord.com", "discord.com", false, ""},
			{"https://evil.xyz", "evil.xyz", false, ""}}},
		{"<https://x.com>", []want{{"https://x.com", "x.com", false, ""}}},
		{"[wiki](https://en.wikipedia.org/wiki/Go_(programming_language))", []want{
			{"https://en.wikipedia.org/wiki/Go_(programming_language)", "en.wikipedia.org", false, ""}}},
		// IDN
		{"пример.рф", []want{{"http://xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai", false, ""}}},
		{"http://münchen.de/", []want{{"http://xn--mnchen-3ya.de/", "xn--mnchen-3ya.de", false, ""}}},
		{"ПРИМЕР.РФ", []want{{"http://xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai", false, ""}}},
		{"例子.中国", []want{{"http://xn--fsqu00a.xn--fiqs8s", "xn--fsqu00a.xn--fiqs8s", false, ""}}},
		// evasions
		{"evil[.]com", []want{{"http://evil.com", "evil.com", true, ""}}},
		{"evil [.] com", []want{{"http://evil.com", "evil.com", true, ""}}},
		{"evil(.)com evil{.}net evil[dot]org evil(DOT)io", []want{
			{"http://evil.com", "evil.com", true, ""}, {"http://evil.net", "evil.net", true, ""},
			{"http://evil.org", "evil.org", true, ""}, {"http://evil.io", "evil.io", true, ""}}},
		{"hxxps://evil.com/x", []want{{"https://evil.com/x", "evil.com", true, ""}}},
		{"hXXp[:]//evil[.]com", []want{{"http://evil.com", "evil.com", true, ""}}},
		{"evil dot com", []want{{"http://evil.com", "evil.com", true, ""}}},
		{"go to evil DOT co DOT uk now", []want{{"http://evil.co.uk", "evil.co.uk", true, ""}}},
		{"evil . com", []want{{"http://evil.com", "evil.com", true, ""}}},
		{"evil .gg/abc", []want{{"http://evil.gg/abc", "evil.gg", true, ""}}},
		{"discord (.) gg/abc", []want{{"http://discord.gg/abc", "discord.gg", true, "discord/abc"}}},
		{"ｅｖｉｌ．ｃｏｍ", []want{{"http://evil.com", "evil.com", true, ""}}},
		{"𝐞𝐯𝐢𝐥.𝐜𝐨𝐦", []want{{"http://evil.com", "evil.com", true, ""}}},
		{"ⓔⓥⓘⓛ.ⓒⓞⓜ", []want{{"http://evil.com", "evil.com", true, ""}}},
		{"evil。com evil｡net evil．org", []want{
			{"http://evil.com", "evil.com", true, ""}, {"http://evil.net", "evil.net", true, ""},
			{"http://evil.org", "evil.org", true, ""}}},
		{"ev\u200bil.c\u200dom", []want{{"http://evil.com", "evil.com", true, ""}}},
		{"d\u00adiscord.gg/abc", []want{{"http://discord.gg/abc", "discord.gg", true, "discord/abc"}}},
		{"\u202eevil.com\u202c", []want{{"http://evil.com", "evil.com", false, ""}}},
		{"evil\U000E0041.com", []want{{"http://evil.com", "evil.com", true, ""}}},
		{"http://%65vil.com", []want{{"http://evil.com", "evil.com", true, ""}}},
		{"hxxp:\u200b//intranet/x", []want{{"http://intranet/x", "intranet", true, ""}}},
		{"www.setup.py setup.py/x http://setup.py", []want{
			{"http://www.setup.py", "www.setup.py", false, ""},
			{"http://setup.py/x", "setup.py", false, ""},
			{"http://setup.py", "setup.py", false, ""}}},
		{"setup[.]py", []want{{"http://setup.py", "setup.py", true, ""}}},
		// duplicates collapse
		{"a.com a.com A.COM", []want{{"http://a.com", "a.com", false, ""}}},
	}
	for _, tt := range tests {
		got := Find(tt.in)
		var gotOK bool
		for _, w := range tt.want {
			gotOK = false
			for _, l := range got {
				if l.URL != w.url {
					continue
				}
				gotOK = l.Host == w.host && l.Obfuscated == w.obf
				inv := ""
				if l.Invite != nil {
					inv = l.Invite.Platform + "/" + l.Invite.Code
				}
				if inv != w.invite {
					gotOK = false
				}
			}
			if !gotOK {
				t.Errorf("Find(%q) = %+v, want %+v", tt.in, got, w)
			}
		}
		if !Has(tt.in) {
			t.Errorf("Has(%q) = false", tt.in)
		}
	}
}

func TestFindRawAndOrder(t *testing.T) {
	got := Find("a ｅｖｉｌ．ｃｏｍ b https://x.org c evil[.]net")
	want := []string{"ｅｖｉｌ．ｃｏｍ", "https://x.org", "evil[.]net"}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i, l := range got {
		if l.Raw != want[i] {
			t.Errorf("link %d: Raw %q, want %q", i, l.Raw, want[i])
		}
	}
}

func TestNotLinks(t *testing.T) {
	for _, s := range []string{
		"README.md", "setup.py", "main.go", "index.html", "photo.jpg", "deploy.sh", "data.zip",
		"clip.mov", "lib.rs", "script.pl", "v1.2.3", "e.g.", "i.e.", "a.m.", "p.m.", "3.14", "10:30",
		"Mr.Smith", "U.S.", "hello.", "wait...what", "std::vector", "12:30:45", "fig. 4",
		"Node.js", "config.yaml", "1,200.50", "tel:+123456", "file:///etc/passwd",
		"the dot is small", "connect the dot to the line", "a . b", "see it . I said", "Hello. Com", // weak separators need a weak TLD / blank before
		"我爱你。中国", "第3.5版", "т.е. всё", "", "   ", "\xff\xfe",
		// CJK sentence ends next to ASCII are not dots (issue 18)
		"我买了iPhone。公司发的", "用了GitHub。然后", "これはPython。です", "iPhone。", "。com",
		// " dot " before a TLD that is also a word: prose unless it reads like a link
		"the dot is small", "a polka dot in the sky", "put a dot me said",
	} {
		if got := Find(s); len(got) != 0 {
			t.Errorf("Find(%q) = %+v, want none", s, got)
		}
		if Has(s) {
			t.Errorf("Has(%q) = true", s)
		}
	}
}

// Issue 18: " dot " for any TLD of the Public Suffix List, when it does
// not read like prose.
func TestDotAnyTLD(t *testing.T) {
	for in, host := range map[string]string{
		"freenitro3 dot me":            "freenitro3.me",
		"get it at free-nitro dot me!": "free-nitro.me",
		"steamgifts dot to/claim":      "steamgifts.to",
		"nitrodrop dot live":           "nitrodrop.live",
		"claim at nitro4u dot in now":  "nitro4u.in",
	} {
		got := Find(in)
		if len(got) != 1 || got[0].Host != host || !got[0].Obfuscated {
			t.Errorf("Find(%q) = %+v, want %s", in, got, host)
		}
	}
}

// Issue 18: bare names are marked, and FindAll reports file-name-like
// names that Find leaves out.
func TestBareAndFileNames(t *testing.T) {
	for in, bare := range map[string]bool{
		"user.name": true, "ctx.app": true, "3.0.0.Final": true, "1.2.3.4": true, "example.com.": true,
		"http://ctx.app": false, "www.example.com": false, "example.com/x": false, "example.com:80": false,
		"example[.]com": false, "bob@example.com": false,
	} {
		got := Find(in)
		if len(got) != 1 || got[0].Bare != bare {
			t.Errorf("Find(%q) = %+v, want one link with Bare %v", in, got, bare)
		}
	}
	for _, in := range []string{"hypesquad.ml", "DYNOBOT.PL", "dynoauth.rf.gd,", "see deploy.pl."} {
		if got := Find(in); len(got) != 0 {
			t.Errorf("Find(%q) = %+v, want none", in, got)
		}
		got := FindAll(in)
		if len(got) != 1 || !got[0].FileName || !got[0].Bare {
			t.Errorf("FindAll(%q) = %+v, want one file-like link", in, got)
		}
		if !HasAll(in) || Has(in) {
			t.Errorf("HasAll(%q) = %v, Has = %v", in, HasAll(in), Has(in))
		}
	}
	if got := FindAll("http://dynobot.pl/x"); len(got) != 1 || got[0].FileName {
		t.Errorf("FindAll(http://dynobot.pl/x) = %+v, want a plain link", got)
	}
}

func TestHostMatches(t *testing.T) {
	tests := []struct {
		host, domain string
		want         bool
	}{
		{"evil.com", "evil.com", true},
		{"a.evil.com", "evil.com", true},
		{"a.b.evil.com", "evil.com", true},
		{"notevil.com", "evil.com", false},
		{"evil.com.au", "evil.com", false},
		{"evil.com", "a.evil.com", false},
		{"EVIL.com.", "evil.COM", true},
		{"a.evil.com", "*.evil.com", true},
		{"a.evil.com", ".evil.com", true},
		{"xn--e1afmkfd.xn--p1ai", "пример.рф", true},
		{"evil.com", "", false},
		{"", "evil.com", false},
		{"com", "evil.com", false},
	}
	for _, tt := range tests {
		if got := HostMatches(tt.host, tt.domain); got != tt.want {
			t.Errorf("HostMatches(%q, %q) = %v", tt.host, tt.domain, got)
		}
	}
}

func TestPunycode(t *testing.T) {
	for in, want := range map[string]string{
		"пример": "e1afmkfd", "рф": "p1ai", "münchen": "mnchen-3ya", "中国": "fiqs8s",
		"bücher": "bcher-kva", "例子": "fsqu00a", "ü": "tda",
	} {
		if got := punycode(in); got != want {
			t.Errorf("punycode(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHarmless checks that each character prescan lets through without
// NFKC normalises to what the table says, and plays the same part.
func TestHarmless(t *testing.T) {
	for r, to := range harmless {
		if got := norm.NFKC.String(string(r)); got != to {
			t.Errorf("NFKC(%U) = %q, want %q", r, got, to)
		}
		if !isMidUcs(r) || isEndUcs(r) || isLMN(r) {
			t.Errorf("%U: not a path-only character", r)
		}
		for i := 0; i < len(to); i++ {
			c := to[i]
			local := uint8(cLocal)
			if c == '.' {
				// "…" → "...": the dots may extend an e-mail local part
				// leftwards, which moves its start but not its host.
				local = 0
			}
			if ascii[c]&cMid == 0 || ascii[c]&(cEnd|cLMN|cWord|local) != 0 {
				t.Errorf("%q: not a path-only character", c)
			}
		}
	}
}

// TestStableRunes checks the pre-scan table: a text made of runes marked
// stable (in canonical order) is already in NFKC.
func TestStableRunes(t *testing.T) {
	tbl := bmp()
	for r := rune(0x80); r < 0x10000; r++ {
		f := tbl[r]
		if f&fUnstable != 0 || (r >= 0xD800 && r <= 0xDFFF) {
			continue
		}
		if _, ok := harmless[r]; ok {
			continue
		}
		for _, ctx := range []string{"a", "e", "\u1100", "\uAC00", "\u0915", "\u0627"} {
			s := ctx + string(r) + "a"
			if uint8(f) == 0 {
				s = ctx + string(r) + ctx
			}
			if !norm.NFKC.IsNormalString(s) {
				t.Fatalf("U+%04X marked stable but %q is not NFKC", r, s)
			}
		}
	}
}

// TestHostile feeds inputs built to be slow or to break things: each must
// finish quickly, without panicking, and give well-formed hosts.
func TestHostile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	chat := make([]byte, 0, 100<<10)
	for _, cl := range corpus() {
		if len(chat) > 100<<10 {
			break
		}
		chat = append(chat, cl.text...)
		chat = append(chat, ' ')
	}
	randomBytes := make([]byte, 100<<10)
	for i := range randomBytes {
		randomBytes[i] = byte(rng.UintN(256))
	}
	inputs := map[string]string{
		"combining marks":      "evil" + strings.Repeat("\u0301", 4000) + ".com",
		"combining marks only": strings.Repeat("\u0308\u0301\u0323", 1400),
		"zero-width run":       "evil" + strings.Repeat("\u200b\u200c\u200d\u2060\ufeff", 2000) + ".com",
		"rtl overrides":        strings.Repeat("\u202egoogle.com\u202c\u2066x\u2069 ", 2000),
		"chat 100KB":           string(chat),
		"random bytes":         string(randomBytes),
		"invalid utf-8":        strings.Repeat("evil\xff.com\xc3 \xe2\x80", 10000),
		"dotted labels":        strings.Repeat("a.", 50000),
		"dotted no tld":        strings.Repeat("ab.", 30000) + "c",
		"one long domain":      strings.Repeat("a.", 50000) + "com",
		"bad labels":           strings.Repeat("a-.com", 16000),
		"hyphens":              strings.Repeat("-", 100000) + ".com",
		"long label":           strings.Repeat("a", 100000) + ".com",
		"long unicode label":   strings.Repeat("ü", 50000) + ".com",
		"parens":               "http://x.com/" + strings.Repeat("(", 50000),
		"nested parens":        "http://x.com/" + strings.Repeat("(a(b)", 20000),
		"schemes":              strings.Repeat("http://", 15000),
		"schemes spaced":       strings.Repeat("http:// ", 12000),
		"scheme chars":         strings.Repeat("a", 100000) + "://x",
		"ipv4ish":              strings.Repeat("1.", 50000),
		"ipv6ish":              strings.Repeat("1:", 50000),
		"brackets":             strings.Repeat("[1:2::3", 15000),
		"emails":               strings.Repeat("a@", 50000),
		"email domains":        strings.Repeat("a@b.", 25000) + "com",
		"local parts":          strings.Repeat("a.b+c", 20000) + "@x.com",
		"mixed":                strings.Repeat("x.com@a.b/(c)[d]:e.f.1.2.3.4 ", 3000),
		"bracket dots":         strings.Repeat("a[.]", 25000) + "com",
		"weak dots":            strings.Repeat("a . ", 25000) + "b",
		"weak words":           strings.Repeat("a dot ", 16000) + "b",
		"weak tld chain":       strings.Repeat("a dot ", 16000) + "com",
		"ideographic stops":    strings.Repeat("a。", 30000),
		"fullwidth":            strings.Repeat("ａ．", 30000),
		"ellipses":             strings.Repeat("a…", 30000),
		"percent host":         "http://" + strings.Repeat("%41", 30000) + ".com",
	}
	limit := 2 * time.Second
	if raceEnabled {
		limit = 20 * time.Second
	}
	for name, in := range inputs {
		start := time.Now()
		links := Find(in)
		Has(in)
		if d := time.Since(start); d > limit {
			t.Errorf("%s: %d bytes took %v", name, len(in), d)
		}
		for _, l := range links {
			checkLink(t, in, l)
		}
	}
}

func checkLink(t *testing.T, in string, l Link) {
	t.Helper()
	if l.Host == "" || l.URL == "" {
		t.Fatalf("%q: empty host or URL: %+v", trunc(in), l)
	}
	for i := 0; i < len(l.Host); i++ {
		if c := l.Host[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			t.Fatalf("%q: host %q is not lower-case ASCII", trunc(in), l.Host)
		}
	}
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// TestAgainstXurlsRandom compares Find with xurls.Relaxed on random
// strings built from the pieces URLs are made of.
func TestAgainstXurlsRandom(t *testing.T) {
	n := 20000
	if raceEnabled || testing.Short() {
		n = 2000
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for it := 0; it < n; it++ {
		s := randomPieces(rng)
		checkAgainstReference(t, s)
	}
}

var pieces = []string{
	"a", "b", "x", "n", "-", "-", ".", ".", ".", "com", "org", "co", "uk", "рф", "中国", "é", "\u0301", "@", ":", "/",
	"//", "http", "https", "://", "1", "2", "25", "255", "0", "[", "]", "(", ")", " ", "_", "xn--", "%", "?", "#", "'",
	",", "!", "md", "www", "::", "ffff", "mailto:", "tel:", "ſ", "K", "\u200b", "。", "．", "Σ", "ς", "ελ", "{", "}",
	"<", ">", "\"", "ｃｏｍ", "①", "ⓒ", "\u00a0", "\t", "\n", "+", "=", "~", "$", "&", "*", ";", "\\", "1.2.3.4",
	".3", "9", "dot", " dot ", "[.]", "(.)", "hxxp", "evil", "\u202e", "\ufe0f", "\U000e0041", "\xff", "\xc3", "…",
	"‥", "：", "／", "？", "，", "۔", "٫", "a\u0308", "ﬁ", "㏂", "¨", "\u0345", "ά", "ΐ", "ﹰ", "גּ", "\u093c", "\u094d",
}

func randomPieces(rng *rand.Rand) string {
	var b []byte
	for k := rng.IntN(16) + 1; k > 0; k-- {
		b = append(b, pieces[rng.IntN(len(pieces))]...)
	}
	return string(b)
}

// checkAgainstReference asserts the properties FuzzFind checks: no panic,
// well-formed hosts, Has agreeing with Find, and every host xurls finds in
// the NFKC text found too (less the documented exclusions).
func checkAgainstReference(t *testing.T, s string) {
	t.Helper()
	links := Find(s)
	hosts := map[string]bool{}
	for _, l := range links {
		checkLink(t, s, l)
		hosts[l.Host] = true
	}
	if Has(s) != (len(links) > 0) {
		t.Fatalf("%q: Has = %v, Find = %+v", s, Has(s), links)
	}
	for _, r := range reference(s, false) {
		if !hosts[r.host] {
			t.Fatalf("%q: xurls matched %q (host %s) in the NFKC text; Find = %+v", s, r.match, r.host, links)
		}
	}
}
