package moderation

import (
	"strings"
	"testing"

	"golang.org/x/net/publicsuffix"

	"github.com/chatwarden/chatwarden/moderation/links"
	"github.com/chatwarden/chatwarden/moderation/skeleton"
)

// The fast path for ASCII labels gives what skeleton.Skeleton gives.
func TestASCIISkeleton(t *testing.T) {
	for _, l := range []string{"discord", "steamcommunity", "rn0l1-m_", "0123456789", "abcdefghijklmnopqrstuvwxyz", "x-y"} {
		if got, want := labelSkeleton(l), skeleton.Skeleton(l); got != want {
			t.Errorf("labelSkeleton(%q) = %q, skeleton %q", l, got, want)
		}
	}
}

func TestLookalike(t *testing.T) {
	l := NewLookalike([]string{"example-brand.org"}, nil)
	host := func(s string) string {
		found := links.Find("https://" + s + "/")
		if len(found) != 1 {
			t.Fatalf("no host in %q", s)
		}
		return found[0].Host
	}
	for in, want := range map[string]string{
		"dіscord.com":                 "discord.com", // Cyrillic і
		"dіscord-s.com":               "discord.com", // the example: look-alike letters
		"discord-s.com":               "",
		"dlscord.com":                 "discord.com",
		"dicsord.com":                 "discord.com",
		"discordd.gg":                 "discord.com",
		"discord.ru":                  "discord.com",
		"discord.gq":                  "discord.com",
		"dlscord.net":                 "discord.com",
		"discorb.gift":                "discord.com",
		"steamcommunlty.com":          "steamcommunity.com",
		"stearncommunity.com":         "steamcommunity.com",
		"steamcommunity.com-trade.ru": "steamcommunity.com",
		"discord.com.example.ru":      "discord.com",
		"discord.com.ru":              "discord.com",
		"t.me.join-chat.ru":           "t.me",
		"discord-nitro.com":           "discord.com",
		"free-discord-nitro.xyz":      "discord.com",
		"discordnitro.ru":             "discord.com",
		"discordgift.site":            "discord.com",
		"nitro.discord-app.ru":        "discordapp.com",
		"gift.discord.example.ru":     "discord.com",
		"telegram-login.xyz":          "telegram.org",
		"teiegram.org":                "telegram.org",
		"dіscord.pages.dev":           "discord.com",
		"exarnple-brand.org":          "example-brand.org",
		"t.rne":                       "t.me",
		// never matched
		"discord.com": "", "cdn.discordapp.com": "", "media.discordapp.net": "", "ptb.discord.com": "",
		"t.me": "", "telegra.ph": "", "store.steampowered.com": "", "example-brand.org": "",
		"discord.js.org": "", "discordpy.readthedocs.io": "", "t.co": "", "discogs.com": "",
		"telegraph.co.uk": "", "google.com": "", "steamdb.info": "", "nitro.gift": "", "disboard.org": "",
		"free-gift.com": "", "telegraf.io": "", "1.2.3.4": "", "github.com": "", "top.gg": "",
	} {
		if got := l.Match(host(in)); got != want {
			t.Errorf("Match(%s = %s) = %q, want %q", in, host(in), got, want)
		}
	}
}

func TestOneEdit(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"discord", "discord", true}, {"dicsord", "discord", true}, {"discrd", "discord", true},
		{"disccord", "discord", true}, {"dixcord", "discord", true}, {"idscrod", "discord", false},
		{"дiscord", "discord", true}, {"ab", "ba", true}, {"abc", "cba", false},
	} {
		if got := oneEdit(c.a, c.b); got != c.want {
			t.Errorf("oneEdit(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

// BenchmarkLookalike is the look-alike check of one found link, over the
// hosts of the benign set and the typosquat set (what a message yields
// after links.Find); Reference is the rule before it was made fast, on
// the same hosts, and Benign the benign hosts only (ASCII, matching
// nothing: the common case).
func BenchmarkLookalike(b *testing.B) {
	hosts := benchHosts(b, "testdata/benign_domains.txt", typosquatFile)
	l := NewLookalike(nil, nil)
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		l.Match(hosts[i%len(hosts)])
	}
	reportCPU(b, start)
}

func BenchmarkLookalikeReference(b *testing.B) {
	hosts := benchHosts(b, "testdata/benign_domains.txt", typosquatFile)
	l := refNewLookalike(nil, nil)
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		l.Match(hosts[i%len(hosts)])
	}
	reportCPU(b, start)
}

func BenchmarkLookalikeBenign(b *testing.B) {
	hosts := benchHosts(b, "testdata/benign_domains.txt")
	l := NewLookalike(nil, nil)
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		l.Match(hosts[i%len(hosts)])
	}
	reportCPU(b, start)
}

// BenchmarkLookalikePublicSuffix is the Public Suffix List lookup alone
// (golang.org/x/net/publicsuffix), which Match makes once per host
// (twice under a private suffix): the floor of Match's time.
func BenchmarkLookalikePublicSuffix(b *testing.B) {
	hosts := benchHosts(b, "testdata/benign_domains.txt", typosquatFile)
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		publicsuffix.PublicSuffix(hosts[i%len(hosts)])
	}
	reportCPU(b, start)
}

func benchHosts(b *testing.B, sets ...string) []string {
	var hosts []string
	t := &testing.T{}
	for _, set := range sets {
		for _, l := range readLines(t, set) {
			if _, h, ok := strings.Cut(l, " "); ok {
				l = h
			}
			if found := links.Find("https://" + l + "/"); len(found) == 1 {
				hosts = append(hosts, found[0].Host)
			}
		}
	}
	if t.Failed() || len(hosts) == 0 {
		b.Fatal("no hosts")
	}
	return hosts
}

// lookalikeHosts are hosts to compare the rule on: the benign and
// typosquat sets, and variants of them made by the edits the rule looks
// for (and some it does not), so that both sides of each test are hit.
func lookalikeHosts(t testing.TB) []string {
	var hosts []string
	tt := &testing.T{}
	add := func(s string) {
		if found := links.Find("https://" + s + "/"); len(found) == 1 {
			hosts = append(hosts, found[0].Host)
		}
	}
	for _, set := range []string{"testdata/benign_domains.txt", typosquatFile} {
		for _, l := range readLines(tt, set) {
			if _, h, ok := strings.Cut(l, " "); ok {
				l = h
			}
			add(l)
			add("free-" + l)
			add("www." + l)
			add(l + ".example.ru")
			if i := strings.IndexByte(l, '.'); i > 1 {
				add(l[1:])
				add(l[:i] + "-nitro" + l[i:])
				add(l[:i] + "gift" + l[i:])
				add(l[:i] + "s" + l[i:])
				add(l[:i] + ".com-trade.ru")
				add(l[:i] + ".pages.dev")
				add("login." + l[:i] + "-app.site")
				add(l[:i-1] + "0" + l[i:])
				add(l[:i] + "1" + l[i:])
				add(strings.ReplaceAll(l, "m", "rn"))
				add(strings.ReplaceAll(l, "o", "о")) // Cyrillic о
			}
		}
	}
	if tt.Failed() {
		t.Fatal("reading the corpora failed")
	}
	return hosts
}

// The fast rule decides as the reference (the rule before it was made
// fast) on every host, with the built-in brands and with more.
func TestLookalikeAgreesWithReference(t *testing.T) {
	hosts := lookalikeHosts(t)
	for _, prot := range [][]string{nil, {"example-brand.org", "paypal.com", "x.com", "bank.co.uk", "mybrand.github.io"}} {
		bait := []string{"bonus", "Prize"}
		fast, ref := NewLookalike(prot, bait), refNewLookalike(prot, bait)
		matched := 0
		for _, h := range hosts {
			got, want := fast.Match(h), ref.Match(h)
			if got != want {
				t.Errorf("protected %v: Match(%s) = %q, reference %q", prot, h, got, want)
			}
			if got != "" {
				matched++
			}
		}
		t.Logf("protected %v: %d hosts, %d matched", prot, len(hosts), matched)
		if matched == 0 || matched == len(hosts) {
			t.Errorf("the hosts do not exercise the rule: %d of %d matched", matched, len(hosts))
		}
	}
}

func FuzzLookalike(f *testing.F) {
	for _, s := range []string{"dіscord-s.com", "discord.com.example.ru", "xn--dscord-s-thh.com", "stearncommunity.com",
		"t.rne", "discord.js.org", "a.b.c.d.e.f.g.h.i.j.k.discord.gift", "free-discordnitrogiftgift.ru", "xn--.com"} {
		f.Add(s)
	}
	fast, ref := NewLookalike([]string{"paypal.com"}, nil), refNewLookalike([]string{"paypal.com"}, nil)
	f.Fuzz(func(t *testing.T, s string) {
		for _, l := range links.Find("https://" + s + "/") {
			if got, want := fast.Match(l.Host), ref.Match(l.Host); got != want {
				t.Errorf("Match(%q) = %q, reference %q", l.Host, got, want)
			}
		}
	})
}

// An ASCII host that matches nothing, the common case, allocates nothing
// beyond what the Public Suffix List lookups themselves allocate
// (golang.org/x/net/publicsuffix parses every host as an IP address
// first, and the parse error of a name is allocated).
func TestLookalikeASCIINoAlloc(t *testing.T) {
	l := NewLookalike(nil, nil)
	for h, calls := range map[string]float64{"github.com": 1, "docs.python.org": 1, "www.bbc.co.uk": 1,
		"user.github.io": 2, "cdn.jsdelivr.net": 1, "mail.google.com": 1, "steamdb.info": 1} {
		psl := testing.AllocsPerRun(100, func() { publicsuffix.PublicSuffix(h) })
		if n := testing.AllocsPerRun(100, func() { l.Match(h) }); n > calls*psl {
			t.Errorf("Match(%s): %v allocations, %v of them the Public Suffix List's", h, n, calls*psl)
		}
	}
}

// oneEdit, which takes shortcuts on bytes, agrees with the reference's
// rune by rune comparison on random short strings of ASCII and
// multi-byte letters, and on each string's one-edit variants.
func TestOneEditAgreesWithReference(t *testing.T) {
	alphabet := []string{"a", "b", "d", "o", "0", "-", ".", "і", "о", "ω", "€", "𝐚"}
	rng := uint64(1)
	next := func(n int) int {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return int(rng % uint64(n))
	}
	word := func() []string {
		w := make([]string, next(9))
		for i := range w {
			w[i] = alphabet[next(len(alphabet))]
		}
		return w
	}
	variants := func(w []string) [][]string {
		var out [][]string
		for i := 0; i <= len(w); i++ {
			c := alphabet[next(len(alphabet))]
			out = append(out, append(append(append([]string{}, w[:i]...), c), w[i:]...)) // insertion
			if i < len(w) {
				out = append(out, append(append([]string{}, w[:i]...), w[i+1:]...)) // deletion
				s := append([]string{}, w...)
				s[i] = c
				out = append(out, s) // substitution
			}
			if i+1 < len(w) {
				s := append([]string{}, w...)
				s[i], s[i+1] = s[i+1], s[i]
				out = append(out, s) // transposition
			}
		}
		return out
	}
	matched := 0
	for range 20000 {
		a := word()
		others := append(variants(a), word())
		for _, b := range others {
			as, bs := strings.Join(a, ""), strings.Join(b, "")
			got, want := oneEdit(as, bs), refOneEdit(as, bs)
			if got != want {
				t.Fatalf("oneEdit(%q, %q) = %v, reference %v", as, bs, got, want)
			}
			if got {
				matched++
			}
		}
	}
	if matched == 0 {
		t.Fatal("no pair within one edit")
	}
}
